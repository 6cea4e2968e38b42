package graph

import (
	"errors"
	"strings"

	"entgo.io/ent/privacy"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/tenancy"
)

// ClassifyError maps ent's errors to API errors for the error presenter.
// It returns nil for errors it does not know, which then become INTERNAL.
func ClassifyError(err error) *apierr.Error {
	var verr *ent.ValidationError
	var link *tenancy.NotFoundError
	switch {
	case ent.IsNotFound(err), errors.Is(err, errNotFound), errors.As(err, &link):
		return &apierr.Error{Code: apierr.NotFound, Message: "not found", Err: err}
	case errors.As(err, &verr):
		field := camel(verr.Name)
		return &apierr.Error{Code: apierr.BadUserInput, Field: field, Message: "invalid value for " + field, Err: err}
	case ent.IsConstraintError(err):
		return &apierr.Error{Code: apierr.Conflict, Message: "conflicts with an existing record", Err: err}
	case errors.Is(err, privacy.Deny):
		return &apierr.Error{Code: apierr.Forbidden, Message: "permission denied", Err: err}
	}
	return nil
}

// errNotFound answers IDs that are not even well-formed, exactly like IDs
// that do not exist.
var errNotFound = errors.New("not found")

// camel turns an ent field name (avatar_url) into its GraphQL name
// (avatarURL) so extensions.field names what the client sent.
func camel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		switch p := parts[i]; p {
		case "id", "url":
			parts[i] = strings.ToUpper(p)
		default:
			if p != "" {
				parts[i] = strings.ToUpper(p[:1]) + p[1:]
			}
		}
	}
	return strings.Join(parts, "")
}
