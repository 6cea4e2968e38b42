package customer

import (
	"context"

	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/viewer"
)

// requireBulkAccess lets OWNER and ADMIN users, API keys holding scope and
// trusted system work through, and refuses everyone else. Import, export and
// merge touch the whole customer base at once, which the per-row privacy
// policy (open to every agent) does not guard against, so they check here.
func requireBulkAccess(ctx context.Context, scope viewer.Scope, action string) (*viewer.Viewer, error) {
	v := viewer.FromContext(ctx)
	switch {
	case v == nil:
		return nil, apierr.NeedCredentials("authentication required")
	case v.System, v.IsAdmin():
	case v.IsAPIKey():
		if !v.Has(scope) {
			return nil, apierr.New(apierr.Forbidden, "this API key lacks the %s scope needed to %s", scope, action)
		}
	default:
		return nil, apierr.New(apierr.Forbidden, "only an OWNER or ADMIN can %s", action)
	}
	if v.OrgID == "" {
		// Organization-less system work would otherwise see every tenant.
		return nil, apierr.New(apierr.Forbidden, "%s needs an organization", action)
	}
	return v, nil
}

// trustedRead returns a context for the reads a write needs in order to be
// carried out (the stored name a search key is rebuilt from, the definitions
// custom fields are checked against, the customer an import row matches), so
// that an API key holding WRITE but not READ can still write. It acts as the
// system, but only within the viewer's organization, and nothing read with
// it is returned to the caller beyond what the write itself returns.
func trustedRead(ctx context.Context) context.Context {
	v := viewer.FromContext(ctx)
	if v == nil || v.System || v.OrgID == "" {
		return ctx
	}
	return viewer.SystemContext(ctx, v.OrgID)
}

// CanExport reports whether the viewer may export customers, so a streaming
// download can refuse before it sends its headers.
func CanExport(ctx context.Context) error {
	_, err := requireBulkAccess(ctx, viewer.ScopeRead, "export customers")
	return err
}
