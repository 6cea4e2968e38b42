package connect

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/dakenh/dakenh/ent"
	"github.com/dakenh/dakenh/ent/oauthstate"
	"github.com/dakenh/dakenh/internal/database"
	"github.com/dakenh/dakenh/internal/gid"
	"github.com/dakenh/dakenh/internal/secret"
	"github.com/dakenh/dakenh/internal/viewer"
)

// attempt is a started consent flow, as the callback finds it.
type attempt struct {
	orgID, userID gid.ID
	codeVerifier  string
}

// Why a callback's state cannot finish an attempt.
var (
	errUnknownState = errors.New("unknown or already used state")
	errExpiredState = errors.New("expired state")
)

// randomToken returns 32 random bytes, base64url without padding (43
// characters: a valid PKCE verifier, and an unguessable state).
func randomToken() string { return secret.Token("", 32) }

// hashState is what is stored of a state.
func hashState(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

// challenge is the S256 PKCE challenge of a verifier.
func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// verifierContext binds a sealed verifier to its attempt.
func verifierContext(stateHash string) string { return "oauth_state:" + stateHash + ":code_verifier" }

// begin stores a new attempt of the viewer and returns its state and code
// verifier. Expired attempts of anyone are swept on the way, so the table
// holds only live ones.
func (s *Service) begin(ctx context.Context, redirectURI string) (state, verifier string, expiresAt time.Time, err error) {
	v := viewer.FromContext(ctx)
	state, verifier = randomToken(), randomToken()
	hash := hashState(state)
	now := s.cfg.Now()
	expiresAt = now.Add(StateTTL)
	sys := viewer.SystemContext(ctx, v.OrgID)
	_, err = database.InTx(sys, s.cfg.Client, func(tx *ent.Tx) (struct{}, error) {
		if _, err := tx.OAuthState.Delete().Where(oauthstate.ExpiresAtLT(now)).Exec(sys); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, tx.OAuthState.Create().
			SetStateHash(hash).
			SetProvider(oauthstate.ProviderZALO).
			SetOrganizationID(v.OrgID).
			SetUserID(v.UserID).
			SetCodeVerifier(s.cfg.Box.Seal(verifier, verifierContext(hash))).
			SetRedirectURI(redirectURI).
			SetCreatedAt(now).
			SetExpiresAt(expiresAt).
			Exec(sys)
	})
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("connect: storing the attempt: %w", err)
	}
	return state, verifier, expiresAt, nil
}

// spend finds the attempt of a state and deletes it, whatever comes next:
// a state finishes at most one callback, even when two race.
func (s *Service) spend(ctx context.Context, state string) (*attempt, error) {
	if state == "" {
		return nil, errUnknownState
	}
	hash := hashState(state)
	sys := viewer.SystemContext(ctx, "")
	row, err := s.cfg.Client.OAuthState.Query().
		Where(oauthstate.StateHash(hash), oauthstate.ProviderEQ(oauthstate.ProviderZALO)).
		Only(sys)
	if ent.IsNotFound(err) {
		return nil, errUnknownState
	}
	if err != nil {
		return nil, err
	}
	// The lookup is by an index; the comparison that decides is constant
	// time all the same.
	if subtle.ConstantTimeCompare([]byte(row.StateHash), []byte(hash)) != 1 {
		return nil, errUnknownState
	}
	n, err := s.cfg.Client.OAuthState.Delete().Where(oauthstate.ID(row.ID)).Exec(sys)
	if err != nil {
		return nil, err
	}
	if n != 1 {
		return nil, errUnknownState // another callback spent it first
	}
	if !s.cfg.Now().Before(row.ExpiresAt) {
		return nil, errExpiredState
	}
	verifier, err := s.cfg.Box.Open(row.CodeVerifier, verifierContext(hash))
	if err != nil {
		return nil, fmt.Errorf("connect: opening the code verifier: %w", err)
	}
	return &attempt{orgID: row.OrganizationID, userID: row.UserID, codeVerifier: verifier}, nil
}
