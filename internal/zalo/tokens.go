package zalo

import (
	"context"
	"errors"

	"github.com/dakenh/dakenh/internal/gid"
)

// Tokens hands out OA access tokens, refreshing them as needed; the inbox
// keeps them, and the packages that call Zalo on an OA's behalf (calls,
// ZNS) take one.
type Tokens interface {
	ZaloAccessToken(ctx context.Context, channelID gid.ID) (string, error)
	ZaloAccessTokenAfterRefusal(ctx context.Context, channelID gid.ID, refused string) (string, error)
}

// TokenError is a failure to obtain an OA's access token, as opposed to a
// failure of the call made with it.
type TokenError struct{ Err error }

func (e TokenError) Error() string { return "obtaining the OA's access token: " + e.Err.Error() }
func (e TokenError) Unwrap() error { return e.Err }

// WithToken runs f with the OA's access token, and once more with a
// refreshed one when Zalo refused it (-216). Failing to obtain a token is a
// TokenError.
func WithToken(ctx context.Context, tokens Tokens, channelID gid.ID, f func(token string) error) error {
	if tokens == nil {
		return errors.New("zalo: no access token source configured")
	}
	token, err := tokens.ZaloAccessToken(ctx, channelID)
	if err != nil {
		return TokenError{err}
	}
	err = f(token)
	if !IsTokenInvalid(err) {
		return err
	}
	if token, err = tokens.ZaloAccessTokenAfterRefusal(ctx, channelID, token); err != nil {
		return TokenError{err}
	}
	return f(token)
}
