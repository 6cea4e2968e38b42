package zalo

import (
	"errors"
	"fmt"
	"net/http"
)

// Error codes of Zalo's answers that change how a caller reacts. Other codes
// are kept in APIError.Code and OAuthError.Code as Zalo sent them.
const (
	// CodeTokenInvalid means the OA access token is invalid or expired.
	CodeTokenInvalid = -216
	// CodeZNSTokenInvalid is ZNS's code for an invalid or expired token.
	CodeZNSTokenInvalid = -124
	// CodeInvalidParameter means a request parameter is invalid.
	CodeInvalidParameter = -201
	// CodeUserNotFollower means the user does not follow the OA.
	CodeUserNotFollower = -213
	// CodeUserInactive means the user has not interacted with the OA within
	// the last 7 days, so consultation messages are no longer allowed.
	CodeUserInactive = -230
	// CodeRateLimited means the OA has exceeded its API call rate.
	CodeRateLimited = -32
	// CodeZNSUnknown is ZNS's "unknown error, try again later".
	CodeZNSUnknown = -100
	// CodeRefreshTokenInvalid is the OAuth code for a refresh token that is
	// unknown or has already been used.
	CodeRefreshTokenInvalid = -14014
	// CodeRefreshTokenExpired is the OAuth code for an expired refresh token.
	CodeRefreshTokenExpired = -14020
)

// ErrInvalidArgument is wrapped by the errors a Client returns before
// calling Zalo because an argument is missing or out of range. It is a bug
// or bad data on our side, so it is permanent.
var ErrInvalidArgument = errors.New("invalid argument")

// APIError is Zalo refusing a request: an answer whose envelope carries
// error != 0.
type APIError struct {
	// Code is Zalo's error code, e.g. -230.
	Code int
	// Message is Zalo's explanation, in English or Vietnamese.
	Message string
}

// Error returns Zalo's code and message.
func (e *APIError) Error() string {
	return fmt.Sprintf("api error %d: %s", e.Code, e.Message)
}

// Transient reports whether Zalo refused the request only for the moment:
// a rate limit, or ZNS's unknown error that its documentation says to retry.
func (e *APIError) Transient() bool {
	return e.Code == CodeRateLimited || e.Code == CodeZNSUnknown
}

// TokenInvalid reports whether the access token was refused, in which case
// refreshing it and retrying once may succeed.
func (e *APIError) TokenInvalid() bool {
	return e.Code == CodeTokenInvalid || e.Code == CodeZNSTokenInvalid
}

// OAuthError is the OAuth endpoint refusing a code exchange or a token
// refresh, e.g. -14014 (invalid or already used refresh token) or -14020
// (expired refresh token).
type OAuthError struct {
	// Code is Zalo's error code.
	Code int
	// Name is error_name, a short label.
	Name string
	// Reason is error_reason.
	Reason string
	// Description is error_description.
	Description string
}

// Error returns Zalo's code and explanation.
func (e *OAuthError) Error() string {
	msg := fmt.Sprintf("oauth error %d", e.Code)
	for _, s := range []string{e.Name, e.Reason, e.Description} {
		if s != "" {
			msg += ": " + s
		}
	}
	return msg
}

// HTTPError is an answer with an HTTP status other than 200 and no Zalo
// error in its body. Zalo answers 200 even to failures, so another status
// comes from a gateway or proxy in front of it (5xx), or means the request
// went to the wrong place (3xx, 4xx).
type HTTPError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
}

// Error returns the status.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("unexpected HTTP status %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// Transient reports whether the status announces a passing condition:
// a server error, a request timeout or a rate limit.
func (e *HTTPError) Transient() bool {
	return e.StatusCode >= 500 || e.StatusCode == http.StatusRequestTimeout ||
		e.StatusCode == http.StatusTooManyRequests
}

// TransportError is a request that got no complete answer: the connection
// failed or was reset, the answer could not be read, or the request timed
// out or was cancelled. Err keeps the cause, so errors.Is(err,
// context.DeadlineExceeded) tells a timeout.
type TransportError struct {
	// Err is the cause reported by net/http.
	Err error
}

// Error returns the cause.
func (e *TransportError) Error() string { return "transport: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *TransportError) Unwrap() error { return e.Err }

// Transient reports true: the same request may well succeed later.
func (*TransportError) Transient() bool { return true }

// MalformedResponseError is an HTTP 200 answer whose body is not what Zalo
// documents (not JSON, no error field, missing data). Retrying does not fix
// a wrong base URL or a changed API, so it is permanent.
type MalformedResponseError struct {
	// Err says what is wrong with the body.
	Err error
}

// Error says what is wrong with the body.
func (e *MalformedResponseError) Error() string { return "malformed response: " + e.Err.Error() }

// Unwrap returns the decoding error.
func (e *MalformedResponseError) Unwrap() error { return e.Err }

// transient is implemented by the errors that know whether they are
// transient.
type transient interface {
	error
	Transient() bool
}

// IsTransient reports whether err is a failure that may go away by itself:
// a network error or timeout, a 5xx, 408 or 429 answer, or a rate limit.
// The request should be retried later with backoff.
func IsTransient(err error) bool {
	t, ok := errors.AsType[transient](err)
	return ok && t.Transient()
}

// IsTokenInvalid reports whether Zalo refused the access token (-216, or
// -124 for ZNS). The token should be refreshed and the request retried once.
func IsTokenInvalid(err error) bool {
	e, ok := errors.AsType[*APIError](err)
	return ok && e.TokenInvalid()
}

// IsPermanent reports whether err is neither transient nor an invalid token:
// retrying the same request cannot succeed, so the message has failed.
// For any non-nil err exactly one of IsTransient, IsTokenInvalid and
// IsPermanent holds.
func IsPermanent(err error) bool {
	return err != nil && !IsTransient(err) && !IsTokenInvalid(err)
}

// IsRefreshRejected reports whether the OAuth endpoint refused a token
// request (*OAuthError). The channel's refresh token is then unusable and
// the channel must be marked DISCONNECTED; network failures and 5xx answers
// of the token endpoint are transient and do not count.
func IsRefreshRejected(err error) bool {
	_, ok := errors.AsType[*OAuthError](err)
	return ok
}
