// Package customer is the customer domain of README.md, "Customers": the rules every
// customer write obeys (normalized phone and email, a search key that ignores
// Vietnamese diacritics, typed custom fields), search, CSV import and export,
// and merging two customers into one.
//
// The rules are ent hooks installed by Register, so they hold for every
// caller (resolvers, channel adapters, Import, Merge) without any of them
// having to remember; the functions the hooks use are exported so that Import
// can validate a whole batch in memory with the very same code before it
// writes anything.
package customer

import (
	"context"
	"errors"
	"fmt"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/customfield"
	"github.com/dakenh/dakenh/ent/hook"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Register installs the customer and tag rules as runtime hooks on client.
// Call it once at start-up, before the client serves any request; hooks
// installed on a client also apply to its transactions.
func Register(client *ent.Client) {
	client.Customer.Use(customerHook)
	client.Tag.Use(tagHook)
}

// errBulkSearchField refuses a bulk update of a field the search key is built
// from: the key has to be recomputed from each row's other fields, which a
// single UPDATE cannot do. It is a programming error, hence not an apierr.
var errBulkSearchField = errors.New("customer: a bulk update cannot change name, phone or email; update each customer with UpdateOne")

// customerHook normalizes and validates a customer mutation and recomputes
// its search key before ent's own validators and privacy rules see it.
func customerHook(next ent.Mutator) ent.Mutator {
	return hook.CustomerFunc(func(ctx context.Context, m *ent.CustomerMutation) (ent.Value, error) {
		if err := prepareCustomer(ctx, m); err != nil {
			return nil, err
		}
		return next.Mutate(ctx, m)
	})
}

func prepareCustomer(ctx context.Context, m *ent.CustomerMutation) error {
	if m.Op().Is(ent.OpDelete | ent.OpDeleteOne) {
		return nil
	}
	_, nameSet := m.Name()
	_, phoneSet := m.Phone()
	_, emailSet := m.Email()
	searchInputs := nameSet || phoneSet || emailSet || m.PhoneCleared() || m.EmailCleared()
	if m.Op().Is(ent.OpUpdate) && searchInputs {
		return errBulkSearchField
	}

	if v, ok := m.Name(); ok {
		n, err := NormalizeName(v)
		if err != nil {
			return err
		}
		m.SetName(n)
	}
	if v, ok := m.Phone(); ok {
		n, err := normalizePhone(ctx, v)
		if err != nil {
			return err
		}
		setOrClear(n, m.SetPhone, m.ClearPhone)
	}
	if v, ok := m.Email(); ok {
		n, err := NormalizeEmail(v)
		if err != nil {
			return err
		}
		setOrClear(n, m.SetEmail, m.ClearEmail)
	}
	if v, ok := m.Address(); ok {
		n, err := NormalizeAddress(v)
		if err != nil {
			return err
		}
		setOrClear(n, m.SetAddress, m.ClearAddress)
	}
	if v, ok := m.Birthday(); ok {
		m.SetBirthday(NormalizeBirthday(v))
	}
	if v, ok := m.CustomFields(); ok {
		defs, err := definitions(ctx, m)
		if err != nil {
			return err
		}
		clean, err := ValidateCustomFields(defs, v)
		if err != nil {
			return err
		}
		m.SetCustomFields(clean)
	}

	if m.Op().Is(ent.OpCreate) || searchInputs {
		name, phone, email, err := searchInputValues(ctx, m)
		if err != nil {
			return err
		}
		m.SetSearchText(SearchText(name, phone, email))
	}
	return nil
}

// setOrClear sets a nillable field, or clears it for "", which is how API
// clients empty a field.
func setOrClear(v string, set func(string), clear func()) {
	if v == "" {
		clear()
		return
	}
	set(v)
}

// searchInputValues returns the name, phone and email the customer will have
// once m is applied: the mutation's values, and for an update-one the stored
// values of the fields it does not touch.
func searchInputValues(ctx context.Context, m *ent.CustomerMutation) (name, phone, email string, err error) {
	update := m.Op().Is(ent.OpUpdateOne)
	ctx = trustedRead(ctx)
	if v, ok := m.Name(); ok {
		name = v
	} else if update {
		if name, err = m.OldName(ctx); err != nil {
			return "", "", "", fmt.Errorf("customer: reading the stored name: %w", err)
		}
	}
	if v, ok := m.Phone(); ok {
		phone = v
	} else if update && !m.PhoneCleared() {
		old, err := m.OldPhone(ctx)
		if err != nil {
			return "", "", "", fmt.Errorf("customer: reading the stored phone: %w", err)
		}
		phone = deref(old)
	}
	if v, ok := m.Email(); ok {
		email = v
	} else if update && !m.EmailCleared() {
		old, err := m.OldEmail(ctx)
		if err != nil {
			return "", "", "", fmt.Errorf("customer: reading the stored email: %w", err)
		}
		email = deref(old)
	}
	return name, phone, email, nil
}

// importKey carries what Import has already validated into the hooks of its
// writes: the organization's custom field definitions, so that thousands of
// writes share one query instead of each hook making its own, and the phone
// numbers NormalizePhone produced, so that each is parsed once rather than
// again by the hook (libphonenumber dominates an import's CPU time). Only
// values NormalizePhone itself returned are remembered, so the hook's rule
// stays the one implementation.
type importKey struct{}

type importState struct {
	orgID  gid.ID
	defs   []*ent.CustomField
	phones map[string]bool // numbers NormalizePhone returned
}

func withImportState(ctx context.Context, s *importState) context.Context {
	return context.WithValue(ctx, importKey{}, s)
}

// normalizePhone is NormalizePhone, answered from the import's memory when
// Import already normalized the value.
func normalizePhone(ctx context.Context, v string) (string, error) {
	if s, ok := ctx.Value(importKey{}).(*importState); ok {
		if s.phones[v] {
			return v, nil
		}
	}
	return NormalizePhone(v)
}

// definitions returns the custom field definitions of the organization the
// mutated customer belongs to.
func definitions(ctx context.Context, m *ent.CustomerMutation) ([]*ent.CustomField, error) {
	orgID, err := mutationOrg(ctx, m)
	if err != nil {
		return nil, err
	}
	if s, ok := ctx.Value(importKey{}).(*importState); ok && s.orgID == orgID {
		return s.defs, nil
	}
	return loadDefinitions(trustedRead(ctx), m.Client(), orgID)
}

// loadDefinitions queries an organization's custom field definitions in the
// order they were created (IDs are time-ordered), which is also the order
// of the export's columns.
func loadDefinitions(ctx context.Context, client *ent.Client, orgID gid.ID) ([]*ent.CustomField, error) {
	defs, err := client.CustomField.Query().
		Where(customfield.OrganizationID(orgID)).
		Order(ent.Asc(customfield.FieldID)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("customer: loading custom field definitions: %w", err)
	}
	return defs, nil
}

// mutationOrg returns the organization of the customer being written. The
// viewer's organization is the answer whenever there is one, because the
// tenant policy confines the write to it; only organization-less system work
// needs the row itself.
func mutationOrg(ctx context.Context, m *ent.CustomerMutation) (gid.ID, error) {
	if id, ok := m.OrganizationID(); ok {
		return id, nil
	}
	if v := viewer.FromContext(ctx); v != nil && v.OrgID != "" {
		return v.OrgID, nil
	}
	if m.Op().Is(ent.OpUpdateOne) {
		id, err := m.OldOrganizationID(trustedRead(ctx))
		if err != nil {
			return "", fmt.Errorf("customer: reading the organization: %w", err)
		}
		return id, nil
	}
	return "", errors.New("customer: custom fields cannot be validated without an organization in the context")
}

// tagHook trims tag names and rejects empty ones, whatever creates or renames
// the tag.
func tagHook(next ent.Mutator) ent.Mutator {
	return hook.TagFunc(func(ctx context.Context, m *ent.TagMutation) (ent.Value, error) {
		if v, ok := m.Name(); ok {
			n, err := NormalizeTagName(v)
			if err != nil {
				return nil, err
			}
			m.SetName(n)
		}
		return next.Mutate(ctx, m)
	})
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
