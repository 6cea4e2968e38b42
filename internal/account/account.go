// Package account manages organizations and their staff: sign-up, users,
// roles and deactivation. Who may do what is enforced by the ent privacy
// policies; this package adds the rules that need to look at the target
// user first (ADMINs never touch OWNERs, nobody demotes or deactivates
// themselves, an organization keeps an OWNER).
package account

import (
	"context"
	"net/mail"
	"strings"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/auth"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Service manages accounts.
type Service struct {
	client      *ent.Client
	auth        *auth.Service
	allowSignUp bool
}

// New returns an account service. allowSignUp gates SignUp.
func New(client *ent.Client, a *auth.Service, allowSignUp bool) *Service {
	return &Service{client: client, auth: a, allowSignUp: allowSignUp}
}

// SignUpInput is what a new organization's owner provides.
type SignUpInput struct {
	OrganizationName, Name, Email, Password string
}

// SignUp creates an organization with its OWNER and signs the owner in.
func (s *Service) SignUp(ctx context.Context, in SignUpInput) (*auth.Session, error) {
	if !s.allowSignUp {
		return nil, apierr.New(apierr.Forbidden, "sign-up is disabled on this server")
	}
	orgName := strings.TrimSpace(in.OrganizationName)
	if orgName == "" {
		return nil, apierr.BadInput("organizationName", "organization name is required")
	}
	name, email, err := checkProfile(in.Name, in.Email)
	if err != nil {
		return nil, err
	}
	hash, err := s.auth.HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	tx, err := s.client.Tx(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	org, err := tx.Organization.Create().SetName(orgName).Save(viewer.SystemContext(ctx, ""))
	if err != nil {
		return nil, err
	}
	u, err := tx.User.Create().
		SetOrganizationID(org.ID).
		SetName(name).
		SetEmail(email).
		SetPasswordHash(hash).
		SetRole(viewer.RoleOwner).
		Save(viewer.SystemContext(ctx, org.ID))
	if err != nil {
		return nil, emailTaken(err)
	}
	if err := tx.Commit(); err != nil {
		return nil, emailTaken(err)
	}
	return s.auth.IssueSession(ctx, u.Unwrap())
}

func checkProfile(name, email string) (string, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", "", apierr.BadInput("name", "name is required")
	}
	email, err := CheckEmail(email)
	return name, email, err
}

// CheckEmail normalizes an email address and rejects anything but a plain
// address (no display name) with a dotted domain.
func CheckEmail(email string) (string, error) {
	email = auth.NormalizeEmail(email)
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" {
		return "", apierr.BadInput("email", "%q is not a valid email address", email)
	}
	if at := strings.LastIndexByte(email, '@'); !strings.Contains(email[at+1:], ".") {
		return "", apierr.BadInput("email", "%q is not a valid email address", email)
	}
	return email, nil
}

func emailTaken(err error) error {
	if ent.IsConstraintError(err) {
		return &apierr.Error{Code: apierr.Conflict, Field: "email", Message: "this email is already in use", Err: err}
	}
	return err
}

// CreateUserInput is a new staff account.
type CreateUserInput struct {
	Name, Email, Password string
	Role                  viewer.Role
}

// CreateUser adds a user to the viewer's organization.
func (s *Service) CreateUser(ctx context.Context, in CreateUserInput) (*ent.User, error) {
	name, email, err := checkProfile(in.Name, in.Email)
	if err != nil {
		return nil, err
	}
	hash, err := s.auth.HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	u, err := database.InTx(ctx, s.client, func(tx *ent.Tx) (*ent.User, error) {
		u, err := tx.User.Create().
			SetName(name).
			SetEmail(email).
			SetPasswordHash(hash).
			SetRole(in.Role).
			Save(ctx)
		if err != nil {
			return nil, emailTaken(err)
		}
		return u, activity.Record(ctx, tx, activity.Entry{
			Action: activity.UserCreated, SubjectID: u.ID,
			Details: map[string]any{"name": u.Name, "email": u.Email, "role": u.Role},
		})
	})
	return u, err
}

// UpdateUserInput changes a user; nil fields stay as they are.
type UpdateUserInput struct {
	Name, Email, Password *string
	Role                  *viewer.Role
}

// UpdateUser changes a user of the viewer's organization.
func (s *Service) UpdateUser(ctx context.Context, id gid.ID, in UpdateUserInput) (*ent.User, error) {
	target, err := s.target(ctx, id)
	if err != nil {
		return nil, err
	}
	v := viewer.FromContext(ctx)
	var set []func(*ent.UserUpdateOne)
	if in.Name != nil {
		name := strings.TrimSpace(*in.Name)
		if name == "" {
			return nil, apierr.BadInput("name", "name is required")
		}
		set = append(set, func(u *ent.UserUpdateOne) { u.SetName(name) })
	}
	if in.Email != nil {
		email, err := CheckEmail(*in.Email)
		if err != nil {
			return nil, err
		}
		set = append(set, func(u *ent.UserUpdateOne) { u.SetEmail(email) })
	}
	if in.Password != nil {
		hash, err := s.auth.HashPassword(*in.Password)
		if err != nil {
			return nil, err
		}
		set = append(set, func(u *ent.UserUpdateOne) { u.SetPasswordHash(hash) })
	}
	demotesOwner := false
	if in.Role != nil && *in.Role != target.Role {
		if target.ID == v.UserID {
			return nil, apierr.New(apierr.Forbidden, "you cannot change your own role")
		}
		demotesOwner = target.Role == viewer.RoleOwner
		role := *in.Role
		set = append(set, func(u *ent.UserUpdateOne) { u.SetRole(role) })
	}
	// A new password is a change the log names without its value.
	var also []string
	if in.Password != nil {
		also = append(also, "password")
	}
	u, err := s.save(ctx, target, demotesOwner, func(u *ent.User) activity.Entry {
		details := map[string]any{"name": u.Name, "changes": activity.Changes(target, u)}
		if len(also) > 0 {
			details["alsoChanged"] = also
		}
		return activity.Entry{Action: activity.UserUpdated, SubjectID: u.ID, Details: details}
	}, set...)
	if err != nil {
		return nil, emailTaken(err)
	}
	if in.Password != nil && target.ID != v.UserID {
		// Someone else reset the password: sign the user out everywhere.
		if err := s.auth.RevokeUserSessions(ctx, u.OrganizationID, u.ID); err != nil {
			return nil, err
		}
	} else if u.Role != target.Role {
		// Their sessions now carry another role.
		s.auth.ForgetUser(ctx, u.OrganizationID, u.ID)
	}
	return u, nil
}

// DeactivateUser disables a user's logins and revokes their sessions; their
// records (customers they own, messages they sent) stay.
func (s *Service) DeactivateUser(ctx context.Context, id gid.ID) (*ent.User, error) {
	target, err := s.target(ctx, id)
	if err != nil {
		return nil, err
	}
	if target.ID == viewer.FromContext(ctx).UserID {
		return nil, apierr.New(apierr.Forbidden, "you cannot deactivate yourself")
	}
	u, err := s.save(ctx, target, target.Role == viewer.RoleOwner, func(u *ent.User) activity.Entry {
		return activity.Entry{
			Action: activity.UserDeactivated, SubjectID: u.ID,
			Details: map[string]any{"name": u.Name, "email": u.Email, "role": u.Role},
		}
	}, func(u *ent.UserUpdateOne) {
		u.SetActive(false).SetPresence(user.PresenceOFFLINE)
	})
	if err != nil {
		return nil, err
	}
	return u, s.auth.RevokeUserSessions(ctx, u.OrganizationID, u.ID)
}

// target loads the user to change and applies the rule that ADMINs manage
// only ADMINs and AGENTs (the role rules on the new values are in ent).
func (s *Service) target(ctx context.Context, id gid.ID) (*ent.User, error) {
	v := viewer.FromContext(ctx)
	if v == nil {
		return nil, apierr.NeedCredentials("authentication required")
	}
	target, err := s.client.User.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if v.IsUser() && v.Role == viewer.RoleAdmin && target.Role == viewer.RoleOwner {
		return nil, apierr.New(apierr.Forbidden, "only an OWNER can change an OWNER")
	}
	if v.IsUser() && v.Role == viewer.RoleAgent && target.ID != v.UserID {
		return nil, apierr.New(apierr.Forbidden, "agents can change only their own profile")
	}
	return target, nil
}

// save updates the target user in a transaction that records the activity
// entry the update makes. When the update removes an OWNER (demotion or
// deactivation), the transaction first writes the organization's row: that
// serializes such updates (a row lock on PostgreSQL, the write lock on
// SQLite), so two OWNERs removing each other at once cannot both pass the
// last-OWNER check.
func (s *Service) save(ctx context.Context, target *ent.User, removesOwner bool, entry func(*ent.User) activity.Entry, set ...func(*ent.UserUpdateOne)) (*ent.User, error) {
	return database.InTx(ctx, s.client, func(tx *ent.Tx) (*ent.User, error) {
		if removesOwner {
			err := tx.Organization.UpdateOneID(target.OrganizationID).
				SetUpdatedAt(time.Now()).
				Exec(viewer.SystemContext(ctx, target.OrganizationID))
			if err != nil {
				return nil, err
			}
			if err := keepAnOwner(ctx, tx.Client(), target); err != nil {
				return nil, err
			}
		}
		upd := tx.User.UpdateOneID(target.ID)
		for _, f := range set {
			f(upd)
		}
		u, err := upd.Save(ctx)
		if err != nil {
			return nil, err
		}
		return u, activity.Record(ctx, tx, entry(u))
	})
}

// keepAnOwner refuses to remove the last active OWNER of an organization.
// It names the leaving user's organization itself rather than relying on the
// tenant filter, which a system context without an organization does not
// apply: the OWNERs of other organizations must not count.
func keepAnOwner(ctx context.Context, client *ent.Client, leaving *ent.User) error {
	n, err := client.User.Query().
		Where(
			user.OrganizationID(leaving.OrganizationID),
			user.RoleEQ(viewer.RoleOwner), user.Active(true), user.IDNEQ(leaving.ID),
		).
		Count(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return apierr.Precondition("LAST_OWNER", "an organization must keep at least one active OWNER")
	}
	return nil
}
