package account_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/dakenh/dakenh/ent/session"
	"github.com/dakenh/dakenh/internal/account"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/viewer"
)

func TestSignUp(t *testing.T) {
	valid := account.SignUpInput{
		OrganizationName: "  Công ty Hoa Sen ",
		Name:             " Nguyễn Văn An ",
		Email:            "  An.Nguyen@Example.COM ",
		Password:         "mật-khẩu-hoa-sen",
	}
	with := func(f func(*account.SignUpInput)) account.SignUpInput { in := valid; f(&in); return in }
	conflict := wantErr{code: apierr.Conflict, field: "email", msg: "this email is already in use"}

	tests := []struct {
		name     string
		disabled bool
		// before runs first, e.g. to take the email.
		before func(t *testing.T, e *env)
		in     account.SignUpInput
		want   wantErr
	}{
		{name: "OK", in: valid},
		{
			name:     "ErrDisabled",
			disabled: true,
			in:       valid,
			want:     wantErr{code: apierr.Forbidden, msg: "sign-up is disabled on this server"},
		},
		{
			name:     "ErrDisabledEvenWithBadInput",
			disabled: true,
			in:       account.SignUpInput{},
			want:     wantErr{code: apierr.Forbidden, msg: "sign-up is disabled on this server"},
		},
		{
			name:   "ErrDuplicateEmail",
			before: func(t *testing.T, e *env) { e.signUp(t, "Công ty Cũ", "an.nguyen@example.com") },
			in:     valid,
			want:   conflict,
		},
		{
			name:   "ErrDuplicateEmailOtherCase",
			before: func(t *testing.T, e *env) { e.signUp(t, "Công ty Cũ", "AN.NGUYEN@example.com") },
			in:     valid,
			want:   conflict,
		},
		{
			name: "ErrEmailOfStaffInAnotherOrganization",
			before: func(t *testing.T, e *env) {
				s := e.signUp(t, "Công ty Cũ", "giam.doc@example.com")
				e.user(t, s.User.OrganizationID, viewer.RoleAgent, "an.nguyen@example.com")
			},
			in:   valid,
			want: conflict,
		},
		{name: "ErrNoOrganizationName", in: with(func(in *account.SignUpInput) { in.OrganizationName = "   " }), want: wantErr{code: apierr.BadUserInput, field: "organizationName"}},
		{name: "ErrNoName", in: with(func(in *account.SignUpInput) { in.Name = "" }), want: wantErr{code: apierr.BadUserInput, field: "name"}},
		{name: "ErrBadEmail", in: with(func(in *account.SignUpInput) { in.Email = "an@localhost" }), want: wantErr{code: apierr.BadUserInput, field: "email"}},
		{name: "ErrShortPassword", in: with(func(in *account.SignUpInput) { in.Password = "mậtkhẩu" }), want: wantErr{code: apierr.BadUserInput, field: "password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.before != nil {
				tt.before(t, e)
			}
			svc := e.acct
			if tt.disabled {
				svc = account.New(e.client, e.auth, false)
			}
			orgsBefore, usersBefore := e.count(t)

			s, err := svc.SignUp(t.Context(), tt.in)
			tt.want.check(t, err)
			if tt.want.code != "" {
				if s != nil {
					t.Fatalf("session = %+v with an error", s)
				}
				// The transaction left nothing behind, not even the
				// organization created before the user failed.
				if orgs, users := e.count(t); orgs != orgsBefore || users != usersBefore {
					t.Fatalf("organizations, users = %d, %d; want %d, %d", orgs, users, orgsBefore, usersBefore)
				}
				return
			}

			u := s.User
			if u.Name != "Nguyễn Văn An" || u.Email != "an.nguyen@example.com" || u.Role != viewer.RoleOwner || !u.Active {
				t.Fatalf("user = %q %q %s active=%v; want the trimmed name, the normalized email, an active OWNER", u.Name, u.Email, u.Role, u.Active)
			}
			org, err := e.client.Organization.Get(viewer.SystemContext(t.Context(), u.OrganizationID), u.OrganizationID)
			if err != nil {
				t.Fatalf("the organization: %v", err)
			}
			if org.Name != "Công ty Hoa Sen" {
				t.Fatalf("organization name = %q, want %q", org.Name, "Công ty Hoa Sen")
			}
			if orgs, users := e.count(t); orgs != orgsBefore+1 || users != usersBefore+1 {
				t.Fatalf("organizations, users = %d, %d; want one more of each", orgs, users)
			}
			if want := t0.Add(30 * 24 * time.Hour); !s.ExpiresAt.Equal(want) {
				t.Fatalf("ExpiresAt = %v, want %v", s.ExpiresAt, want)
			}

			// The session works and names the new OWNER.
			v, err := e.auth.Authenticate(t.Context(), s.Token)
			if err != nil {
				t.Fatalf("Authenticate the sign-up session: %v", err)
			}
			ses, err := e.client.Session.Query().Where(session.UserID(u.ID)).Only(viewer.SystemContext(t.Context(), ""))
			if err != nil {
				t.Fatal(err)
			}
			want := &viewer.Viewer{OrgID: org.ID, UserID: u.ID, Role: viewer.RoleOwner, SessionID: ses.ID}
			if !reflect.DeepEqual(v, want) {
				t.Fatalf("viewer = %+v, want %+v", v, want)
			}
			// So do the credentials.
			if _, err := e.auth.Login(t.Context(), "an.nguyen@example.com", "mật-khẩu-hoa-sen", "192.0.2.1"); err != nil {
				t.Fatalf("Login with the sign-up credentials: %v", err)
			}
		})
	}
}

func TestCheckEmail(t *testing.T) {
	bad := func(shown string) wantErr {
		return wantErr{code: apierr.BadUserInput, field: "email", msg: `"` + shown + `" is not a valid email address`}
	}
	tests := []struct {
		name  string
		email string
		want  string
		err   wantErr
	}{
		{name: "OK", email: "an@example.com", want: "an@example.com"},
		{name: "OKNormalized", email: "  An.Nguyen@Example.COM\t", want: "an.nguyen@example.com"},
		{name: "OKPlusAndSubdomain", email: "an+crm@mail.example.com.vn", want: "an+crm@mail.example.com.vn"},
		{name: "ErrEmpty", email: "", err: bad("")},
		{name: "ErrNoAt", email: "an.example.com", err: bad("an.example.com")},
		{name: "ErrNoLocalPart", email: "@example.com", err: bad("@example.com")},
		{name: "ErrUndottedDomain", email: "an@localhost", err: bad("an@localhost")},
		{name: "ErrDisplayName", email: "An <an@example.com>", err: bad("an <an@example.com>")},
		{name: "ErrAngleBrackets", email: "<an@example.com>", err: bad("<an@example.com>")},
		{name: "ErrTwoAddresses", email: "an@example.com, binh@example.com", err: bad("an@example.com, binh@example.com")},
		{name: "ErrInnerSpace", email: "an nguyen@example.com", err: bad("an nguyen@example.com")},
		{name: "ErrTwoAts", email: "an@b@example.com", err: bad("an@b@example.com")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := account.CheckEmail(tt.email)
			tt.err.check(t, err)
			if got != tt.want {
				t.Fatalf("CheckEmail(%q) = %q, want %q", tt.email, got, tt.want)
			}
		})
	}
}

func TestCreateUser(t *testing.T) {
	conflict := wantErr{code: apierr.Conflict, field: "email", msg: "this email is already in use"}
	tests := []struct {
		name  string
		email string
		role  viewer.Role
		want  wantErr
	}{
		{name: "OK", email: " Binh@Example.com ", role: viewer.RoleAgent},
		{name: "ErrEmailInSameOrganization", email: "chu.a@example.com", role: viewer.RoleAgent, want: conflict},
		{name: "ErrEmailInOtherOrganization", email: "chu.b@example.com", role: viewer.RoleAgent, want: conflict},
		{name: "ErrEmailInOtherOrganizationOtherCase", email: "Chu.B@EXAMPLE.com", role: viewer.RoleAgent, want: conflict},
		{name: "ErrBadEmail", email: "binh", role: viewer.RoleAgent, want: wantErr{code: apierr.BadUserInput, field: "email"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.signUp(t, "Công ty A", "chu.a@example.com")
			e.signUp(t, "Công ty B", "chu.b@example.com")
			ctx, _ := e.login(t, a.User)
			_, usersBefore := e.count(t)

			u, err := e.acct.CreateUser(ctx, account.CreateUserInput{
				Name: "Trần Bình", Email: tt.email, Password: "mật-khẩu-bình", Role: tt.role,
			})
			tt.want.check(t, err)
			if tt.want.code != "" {
				if _, users := e.count(t); users != usersBefore {
					t.Fatalf("users = %d, want %d", users, usersBefore)
				}
				return
			}
			if u.Email != "binh@example.com" || u.OrganizationID != a.User.OrganizationID || u.Role != tt.role {
				t.Fatalf("user = %s %s %s, want binh@example.com in A as %s", u.Email, u.OrganizationID, u.Role, tt.role)
			}
			if _, err := e.auth.Login(t.Context(), "binh@example.com", "mật-khẩu-bình", "192.0.2.1"); err != nil {
				t.Fatalf("Login as the new user: %v", err)
			}
		})
	}
}
