// Package auth authenticates callers: passwords, revocable session tokens,
// API keys and login rate limits. It turns a bearer token into the viewer
// that every data rule reads.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"golang.org/x/crypto/bcrypt"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/apikey"
	"github.com/dakenh/dakenh/ent/loginattempt"
	"github.com/dakenh/dakenh/ent/session"
	"github.com/dakenh/dakenh/ent/user"
	"github.com/dakenh/dakenh/internal/activity"
	"github.com/dakenh/dakenh/internal/apierr"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/event"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/viewer"
)

// Options tunes the service; zero values take the defaults.
type Options struct {
	// SessionTTL is how long a login lasts (default 30 days).
	SessionTTL time.Duration
	// BcryptCost is the password hash cost (default bcrypt.DefaultCost;
	// tests lower it to stay fast under the race detector).
	BcryptCost int
	// FailureWindow is how far back failed logins count (default 15 min).
	FailureWindow time.Duration
	// MaxFailuresPerAccountAddress, MaxFailuresPerAccount and
	// MaxFailuresPerAddress are the failures allowed within the window for
	// one account from one address (default 5), for one account from any
	// address (default 20) and from one address for any account (default
	// 100) before logins back off. The first is the one people meet; the
	// others stop guessing spread over many addresses or many accounts,
	// and are high enough that an office behind one NAT address is not
	// locked out by a colleague.
	MaxFailuresPerAccountAddress int
	MaxFailuresPerAccount        int
	MaxFailuresPerAddress        int
	// Backoff is how long a login waits after the last failure once a
	// limit is passed; it doubles with each failure over the limit, up to
	// FailureWindow (default 1 s).
	Backoff time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// SessionCacheTTL is how long a session token's viewer is remembered
	// (default DefaultSessionCacheTTL; negative: never).
	SessionCacheTTL time.Duration
	// Bus carries the forgetting of sessions to the other replicas; nil
	// keeps it to this process (one process, or tests).
	Bus event.Bus
}

func (o *Options) defaults() {
	if o.SessionTTL == 0 {
		o.SessionTTL = 30 * 24 * time.Hour
	}
	if o.BcryptCost == 0 {
		o.BcryptCost = bcrypt.DefaultCost
	}
	if o.FailureWindow == 0 {
		o.FailureWindow = 15 * time.Minute
	}
	if o.MaxFailuresPerAccountAddress == 0 {
		o.MaxFailuresPerAccountAddress = 5
	}
	if o.MaxFailuresPerAccount == 0 {
		o.MaxFailuresPerAccount = 20
	}
	if o.MaxFailuresPerAddress == 0 {
		o.MaxFailuresPerAddress = 100
	}
	if o.Backoff == 0 {
		o.Backoff = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SessionCacheTTL == 0 {
		o.SessionCacheTTL = DefaultSessionCacheTTL
	}
}

// Service authenticates callers against the database.
type Service struct {
	client *ent.Client
	opts   Options

	dummyOnce sync.Once
	dummyHash string

	// sessions remembers session tokens (cache.go); nil when disabled.
	sessions *sessionCache
}

// New returns a service over the ent client.
func New(client *ent.Client, opts Options) *Service {
	opts.defaults()
	s := &Service{client: client, opts: opts}
	if opts.SessionCacheTTL > 0 {
		s.sessions = newSessionCache(opts.SessionCacheTTL, opts.Bus)
	}
	return s
}

// errBadCredentials is the one answer to every failed login, so a caller
// cannot learn which emails have accounts.
var errBadCredentials = apierr.New(apierr.Unauthenticated, "invalid email or password")

// NormalizeEmail lower-cases and trims an email address; accounts are found
// by this form.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Session is a freshly issued login.
type Session struct {
	Token     string
	ExpiresAt time.Time
	User      *ent.User
}

// Login checks an email and password, enforcing the failure limits per
// account and client address, per account and per address, and issues a
// session.
//
// Past a limit a login is not refused for the rest of the window: it backs
// off, allowed again once Backoff has passed since the key's last failure,
// a delay that doubles with each failure over the limit (up to the
// window). Guessing slows to a crawl while the person who mistyped waits
// seconds, not a quarter of an hour.
//
// Each login records itself as a failure before counting, and withdraws the
// record unless it fails: concurrent attempts then count each other, so a
// burst of guesses gets no more tries than the limits allow (the m-th
// attempt to pass the check sees at least m failures, and a failure of a
// concurrent attempt just before it).
func (s *Service) Login(ctx context.Context, email, password, address string) (*Session, error) {
	sys := viewer.SystemContext(ctx, "")
	email = NormalizeEmail(email)
	keys := []string{attemptKey("pair:", email+" "+address), attemptKey("email:", email), attemptKey("ip:", address)}
	limits := []int{s.opts.MaxFailuresPerAccountAddress, s.opts.MaxFailuresPerAccount, s.opts.MaxFailuresPerAddress}
	now := s.opts.Now()
	bulk := make([]*ent.LoginAttemptCreate, len(keys))
	for i, key := range keys {
		bulk[i] = s.client.LoginAttempt.Create().SetKey(key).SetCreatedAt(now)
	}
	mine, err := s.client.LoginAttempt.CreateBulk(bulk...).Save(sys)
	if err != nil {
		return nil, err
	}
	ids := make([]gid.ID, len(mine))
	for i, m := range mine {
		ids[i] = m.ID
	}
	withdraw := func() error {
		_, err := s.client.LoginAttempt.Delete().Where(loginattempt.IDIn(ids...)).Exec(sys)
		return err
	}
	for i, key := range keys {
		ok, err := s.mayTry(sys, key, limits[i], ids, now)
		if err != nil {
			return nil, errors.Join(err, withdraw())
		}
		if !ok {
			if err := withdraw(); err != nil {
				return nil, err
			}
			return nil, apierr.New(apierr.RateLimited, "too many failed logins; try again later")
		}
	}
	u, err := s.client.User.Query().Where(user.Email(email)).Only(sys)
	if err != nil && !ent.IsNotFound(err) {
		return nil, errors.Join(err, withdraw())
	}
	// bcrypt ignores bytes past 72, and no stored password is longer, so a
	// longer one can only be wrong.
	tooLong := len(password) > MaxPasswordBytes
	if u == nil || !u.Active || tooLong || !checkPassword(u.PasswordHash, password) {
		if u == nil {
			// Spend the same time as a wrong password for an unknown email.
			checkPassword(s.dummy(), password)
		}
		return nil, errBadCredentials // the records stay: it failed
	}
	// A success clears the account's failures, not the address's.
	if _, err := s.client.LoginAttempt.Delete().
		Where(loginattempt.Or(loginattempt.KeyIn(keys[0], keys[1]), loginattempt.ID(mine[2].ID))).
		Exec(sys); err != nil {
		return nil, err
	}
	orgCtx := viewer.SystemContext(ctx, u.OrganizationID)
	if u, err = u.Update().SetLastLoginAt(s.opts.Now()).Save(orgCtx); err != nil {
		return nil, err
	}
	return s.IssueSession(ctx, u)
}

// mayTry reports whether a login may go on under key's limit: within it,
// or past it once the backoff since the key's last failure (other than
// this login's own records, mine) has passed.
func (s *Service) mayTry(sys context.Context, key string, limit int, mine []gid.ID, now time.Time) (bool, error) {
	since := now.Add(-s.opts.FailureWindow)
	n, err := s.client.LoginAttempt.Query().
		Where(loginattempt.Key(key), loginattempt.CreatedAtGT(since)).
		Count(sys)
	if err != nil || n <= limit {
		return err == nil, err
	}
	last, err := s.client.LoginAttempt.Query().
		Where(loginattempt.Key(key), loginattempt.CreatedAtGT(since), loginattempt.IDNotIn(mine...)).
		Order(loginattempt.ByCreatedAt(entsql.OrderDesc())).
		First(sys)
	if ent.IsNotFound(err) {
		// Between the count and this read, the concurrent logins counted
		// withdrew their records (they were refused, or succeeded): no
		// failure is left to back off from.
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return now.Sub(last.CreatedAt) >= s.backoff(n-limit), nil
}

// backoff is the wait after the last failure of a key over its limit by
// over failures: Backoff, doubling each time, at most the window.
func (s *Service) backoff(over int) time.Duration {
	d := s.opts.Backoff
	for i := 1; i < over && d < s.opts.FailureWindow; i++ {
		d *= 2
	}
	return min(d, s.opts.FailureWindow)
}

// maxAttemptKey is the longest key login_attempts holds.
const maxAttemptKey = 300

// attemptKey builds a failure key, hashing one whose value (say, a very
// long email typed into the login form) would not fit.
func attemptKey(prefix, value string) string {
	if k := prefix + value; len(k) <= maxAttemptKey {
		return k
	}
	sum := sha256.Sum256([]byte(value))
	return prefix + "sha256:" + hex.EncodeToString(sum[:])
}

func (s *Service) dummy() string {
	s.dummyOnce.Do(func() {
		h, _ := bcrypt.GenerateFromPassword([]byte("dakenh-timing-equalizer"), s.opts.BcryptCost)
		s.dummyHash = string(h)
	})
	return s.dummyHash
}

// IssueSession creates a session for a user who has just proved who they
// are (login or sign-up).
func (s *Service) IssueSession(ctx context.Context, u *ent.User) (*Session, error) {
	token := newToken(sessionPrefix)
	exp := s.opts.Now().Add(s.opts.SessionTTL)
	err := s.client.Session.Create().
		SetOrganizationID(u.OrganizationID).
		SetUserID(u.ID).
		SetTokenHash(hashToken(token)).
		SetExpiresAt(exp).
		Exec(viewer.SystemContext(ctx, u.OrganizationID))
	if err != nil {
		return nil, err
	}
	return &Session{Token: token, ExpiresAt: exp, User: u}, nil
}

// Authenticate resolves a bearer token to its viewer. A token that is
// unknown, expired, revoked, or whose user is inactive is an
// UNAUTHENTICATED error.
func (s *Service) Authenticate(ctx context.Context, token string) (*viewer.Viewer, error) {
	sys := viewer.SystemContext(ctx, "")
	now := s.opts.Now()
	switch {
	case strings.HasPrefix(token, sessionPrefix):
		hash := hashToken(token)
		var gen uint64
		if s.sessions != nil {
			if v, ok := s.sessions.get(string(hash), now); ok {
				return v, nil
			}
			gen = s.sessions.gen.Load()
		}
		ses, err := s.client.Session.Query().
			Where(session.TokenHash(hash), session.RevokedAtIsNil(), session.ExpiresAtGT(now)).
			WithUser().
			Only(sys)
		if err != nil {
			return nil, notAuthenticated(err)
		}
		if !ses.Edges.User.Active {
			return nil, apierr.New(apierr.Unauthenticated, "this account is deactivated")
		}
		u := ses.Edges.User
		v := &viewer.Viewer{OrgID: u.OrganizationID, UserID: u.ID, Role: u.Role, SessionID: ses.ID}
		if s.sessions != nil {
			s.sessions.put(string(hash), gen, v, ses.ExpiresAt)
		}
		return v, nil
	case strings.HasPrefix(token, apiKeyPrefix):
		k, err := s.client.APIKey.Query().
			Where(apikey.KeyHash(hashToken(token)), apikey.RevokedAtIsNil()).
			Only(sys)
		if err != nil {
			return nil, notAuthenticated(err)
		}
		// Recording every use would turn each read into a write; a minute's
		// precision is enough to tell which keys are alive.
		if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > time.Minute {
			err := s.client.APIKey.UpdateOneID(k.ID).SetLastUsedAt(now).
				Exec(viewer.SystemContext(ctx, k.OrganizationID))
			if err != nil {
				return nil, err
			}
		}
		return &viewer.Viewer{OrgID: k.OrganizationID, APIKeyID: k.ID, Scopes: k.Scopes}, nil
	}
	return nil, apierr.New(apierr.Unauthenticated, "invalid token")
}

func notAuthenticated(err error) error {
	if ent.IsNotFound(err) {
		return apierr.New(apierr.Unauthenticated, "invalid or expired token")
	}
	return err
}

// Logout revokes the session of the viewer in ctx.
func (s *Service) Logout(ctx context.Context) error {
	v := viewer.FromContext(ctx)
	if v == nil || v.SessionID == "" {
		return apierr.New(apierr.Unauthenticated, "logout needs a session token")
	}
	err := s.client.Session.UpdateOneID(v.SessionID).
		SetRevokedAt(s.opts.Now()).
		Exec(viewer.SystemContext(ctx, v.OrgID))
	if err != nil {
		return err
	}
	s.ForgetUser(ctx, v.OrgID, v.UserID)
	return nil
}

// RevokeUserSessions ends every session of a user, e.g. on deactivation.
func (s *Service) RevokeUserSessions(ctx context.Context, orgID, userID gid.ID) error {
	_, err := s.client.Session.Update().
		Where(session.UserID(userID), session.RevokedAtIsNil()).
		SetRevokedAt(s.opts.Now()).
		Save(viewer.SystemContext(ctx, orgID))
	if err != nil {
		return err
	}
	s.ForgetUser(ctx, orgID, userID)
	return nil
}

// ForgetUser makes every replica read the user's sessions from the database
// again: the caller has committed a change to what they authenticate as
// (their role, their being active, their sessions).
func (s *Service) ForgetUser(ctx context.Context, orgID, userID gid.ID) {
	if s.sessions != nil {
		s.sessions.forgetUser(ctx, orgID, userID)
	}
}

// CreateAPIKey mints a key with the given scopes for the viewer's
// organization and returns it with its record; the key is not stored and
// cannot be shown again.
func (s *Service) CreateAPIKey(ctx context.Context, name string, scopes []viewer.Scope) (string, *ent.APIKey, error) {
	if len(scopes) == 0 {
		return "", nil, apierr.BadInput("scopes", "an API key needs at least one scope")
	}
	uniq := make([]viewer.Scope, 0, len(scopes))
	for _, sc := range scopes {
		if !slices.Contains(uniq, sc) {
			uniq = append(uniq, sc)
		}
	}
	key := newToken(apiKeyPrefix)
	k, err := database.InTx(ctx, s.client, func(tx *ent.Tx) (*ent.APIKey, error) {
		c := tx.APIKey.Create().
			SetName(strings.TrimSpace(name)).
			SetPrefix(key[:len(apiKeyPrefix)+6]).
			SetKeyHash(hashToken(key)).
			SetScopes(uniq)
		if v := viewer.FromContext(ctx); v.IsUser() {
			c.SetCreatedByID(v.UserID)
		}
		k, err := c.Save(ctx)
		if err != nil {
			return nil, err
		}
		// The prefix tells keys apart; the key itself is never recorded.
		return k, activity.Record(ctx, tx, activity.Entry{
			Action: activity.APIKeyCreated, SubjectID: k.ID,
			Details: map[string]any{"name": k.Name, "prefix": k.Prefix, "scopes": k.Scopes},
		})
	})
	if err != nil {
		return "", nil, err
	}
	return key, k, nil
}

// RevokeAPIKey revokes a key of the viewer's organization; revoking twice
// keeps the first revocation time, and records nothing the second time.
func (s *Service) RevokeAPIKey(ctx context.Context, id gid.ID) (*ent.APIKey, error) {
	return database.InTx(ctx, s.client, func(tx *ent.Tx) (*ent.APIKey, error) {
		k, err := tx.APIKey.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if k.RevokedAt != nil {
			return k, nil
		}
		k, err = k.Update().SetRevokedAt(s.opts.Now()).Save(ctx)
		if err != nil {
			return nil, err
		}
		return k, activity.Record(ctx, tx, activity.Entry{
			Action: activity.APIKeyRevoked, SubjectID: k.ID,
			Details: map[string]any{"name": k.Name, "prefix": k.Prefix, "scopes": k.Scopes},
		})
	})
}

// Prune deletes what no longer matters: failed logins older than the
// failure window, and sessions that ended (expired or revoked) over a week
// ago. It returns how many rows it removed.
func (s *Service) Prune(ctx context.Context) (int, error) {
	sys := viewer.SystemContext(ctx, "")
	now := s.opts.Now()
	attempts, err := s.client.LoginAttempt.Delete().
		Where(loginattempt.CreatedAtLT(now.Add(-s.opts.FailureWindow))).
		Exec(sys)
	if err != nil {
		return 0, err
	}
	ended := now.Add(-7 * 24 * time.Hour)
	sessions, err := s.client.Session.Delete().
		Where(session.Or(session.ExpiresAtLT(ended), session.RevokedAtLT(ended))).
		Exec(sys)
	return attempts + sessions, err
}
