// Package apierr defines the error contract of the GraphQL API: every error a
// client sees carries an extensions.code from a small closed set, and nothing
// about the server's internals ever reaches the client's message.
//
// Resolvers return *Error values (or plain errors, which become INTERNAL);
// Presenter and Recover translate them for gqlgen so that the contract is
// enforced in one place rather than by every resolver.
package apierr

import (
	"errors"
	"fmt"
)

// Code is the machine-readable error category a client switches on. It is
// sent as extensions.code, so its values are part of the public API and must
// not be renamed.
type Code string

// The complete set of codes the API emits. Clients rely on this set being
// closed, so add to it only together with the API documentation.
const (
	// Unauthenticated means the request carries no valid credentials.
	Unauthenticated Code = "UNAUTHENTICATED"
	// Forbidden means the caller is known but may not perform the operation.
	Forbidden Code = "FORBIDDEN"
	// NotFound means the object does not exist or belongs to another
	// organization; the two cases are deliberately indistinguishable so that
	// IDs cannot be probed across tenants.
	NotFound Code = "NOT_FOUND"
	// BadUserInput means an argument is invalid; Error.Field names the
	// argument or input field when a single one is at fault.
	BadUserInput Code = "BAD_USER_INPUT"
	// Conflict means the operation clashes with existing data, such as a
	// duplicate unique value or a stale version.
	Conflict Code = "CONFLICT"
	// FailedPrecondition means the object is not in a state that allows the
	// operation; Error.Reason says which rule was violated.
	FailedPrecondition Code = "FAILED_PRECONDITION"
	// RateLimited means the caller must slow down before retrying.
	RateLimited Code = "RATE_LIMITED"
	// Internal means the server failed; its message never describes why.
	Internal Code = "INTERNAL"
)

// defaultMessages gives each code a safe client-facing message, used when an
// Error is built without one so that the client never sees an empty message.
var defaultMessages = map[Code]string{
	Unauthenticated:    "authentication required",
	Forbidden:          "forbidden",
	NotFound:           "not found",
	BadUserInput:       "invalid input",
	Conflict:           "conflict",
	FailedPrecondition: "failed precondition",
	RateLimited:        "rate limited",
	Internal:           internalMessage,
}

// internalMessage is the only message a client ever sees for an INTERNAL
// error, so that no driver, SQL or stack detail can leak.
const internalMessage = "internal error"

// Error is an error with an API code and a client-safe message. Err is the
// underlying cause; it is kept for logs and errors.Is/As but is never shown
// to the client.
type Error struct {
	// Code is sent as extensions.code.
	Code Code
	// Message is shown to the client verbatim, so it must not contain
	// internal details.
	Message string
	// Field, when set, is sent as extensions.field and names the argument or
	// input field at fault for BAD_USER_INPUT.
	Field string
	// Reason, when set, is sent as extensions.reason and names the violated
	// rule for FAILED_PRECONDITION.
	Reason string
	// Limit, when set, is sent as extensions.limit and names the server
	// limit a BAD_USER_INPUT request exceeds (see OverLimit).
	Limit string
	// Err is the cause, for logs only.
	Err error
}

// Error returns the code, the message and the cause, for logs. It includes
// the cause, unlike what Presenter shows the client, because whoever reads
// logs needs it.
func (e *Error) Error() string {
	s := string(e.Code) + ": " + e.message()
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause so that errors.Is and errors.As see through an
// Error, e.g. to detect context cancellation or a driver error.
func (e *Error) Unwrap() error {
	return e.Err
}

// message returns the client-facing message, falling back to the code's
// default so that a bare Wrap(code, err, "") still presents sensibly.
func (e *Error) message() string {
	if e.Message != "" {
		return e.Message
	}
	if m, ok := defaultMessages[e.Code]; ok {
		return m
	}
	return internalMessage
}

// New returns an Error with the given code and a client-facing message
// formatted like fmt.Sprintf.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadInput returns a BAD_USER_INPUT Error blaming the named argument or input
// field (e.g. "first" or "input.email"), so clients can highlight it.
func BadInput(field, format string, args ...any) *Error {
	return &Error{Code: BadUserInput, Field: field, Message: fmt.Sprintf(format, args...)}
}

// OverLimit returns the BAD_USER_INPUT Error of a request over one of the
// server's limits, with Limit naming it (e.g. "complexity" or "tokens") so a
// client can tell which one without parsing the message.
func OverLimit(limit, format string, args ...any) *Error {
	return &Error{Code: BadUserInput, Limit: limit, Message: fmt.Sprintf(format, args...)}
}

// Precondition returns a FAILED_PRECONDITION Error with a stable,
// machine-readable reason (e.g. "DEAL_ALREADY_CLOSED") that clients can
// switch on without parsing the message.
func Precondition(reason, format string, args ...any) *Error {
	return &Error{Code: FailedPrecondition, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error with the given code and client-facing message that
// keeps err as its cause for logs; err's text is never shown to the client.
// An empty message is replaced by the code's default when presented. err may
// be nil, in which case Wrap behaves like New without formatting.
func Wrap(code Code, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// As returns the first *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// CodeOf returns the code of the first *Error in err's chain, Internal for
// any other non-nil error (because that is how Presenter shows it), and the
// empty Code for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	if e, ok := As(err); ok {
		return e.Code
	}
	return Internal
}

// ErrNoCredentials is the cause of the UNAUTHENTICATED errors that mean "this
// needs a token and the request carried none", as opposed to a refused
// login; the HTTP layer answers those with a Bearer challenge.
var ErrNoCredentials = errors.New("apierr: the request carries no credentials")

// NeedCredentials returns the UNAUTHENTICATED error of an anonymous caller
// asking for something that needs a session token or an API key.
func NeedCredentials(format string, args ...any) *Error {
	return &Error{Code: Unauthenticated, Message: fmt.Sprintf(format, args...), Err: ErrNoCredentials}
}

// NeedsCredentials reports whether err, or the error a GraphQL error wraps,
// came from NeedCredentials.
func NeedsCredentials(err error) bool {
	return errors.Is(err, ErrNoCredentials)
}
