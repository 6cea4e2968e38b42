package facebook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"
)

// ErrInvalidRequest is wrapped by the errors of sends refused before any
// request is made, because Facebook would reject them anyway.
var ErrInvalidRequest = errors.New("facebook: invalid request")

// ErrUnexpectedAnswer is wrapped when the Graph API answers success in a form
// the contract does not describe. The message may have been delivered, so it
// is permanent: retrying could send it twice.
var ErrUnexpectedAnswer = errors.New("facebook: unexpected answer from the Graph API")

// APIError is an error answered by the Graph API, decoded from its
// {"error":{"message","type","code","error_subcode","fbtrace_id"}} envelope.
// An answer with a non-2xx status and no envelope (a proxy's 502 page, say)
// is an APIError with only HTTPStatus set.
type APIError struct {
	// HTTPStatus is the status of the answer.
	HTTPStatus int
	// Message is Facebook's message, with any access token redacted.
	Message string
	// Type is Facebook's error type, e.g. "OAuthException".
	Type string
	// Code is Facebook's error code, e.g. 190 for an invalid token.
	Code int
	// Subcode is Facebook's error_subcode, e.g. 2018278 outside the window.
	Subcode int
	// FBTraceID identifies the request to Facebook support. It belongs in
	// logs, not in front of agents.
	FBTraceID string
}

// Error describes the error for logs, fbtrace_id included.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("Graph API error")
	if e.Code != 0 {
		fmt.Fprintf(&b, " code %d", e.Code)
	}
	if e.Subcode != 0 {
		fmt.Fprintf(&b, " subcode %d", e.Subcode)
	}
	fmt.Fprintf(&b, " (HTTP %d", e.HTTPStatus)
	if e.Type != "" {
		b.WriteString(", " + e.Type)
	}
	b.WriteString(")")
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.FBTraceID != "" {
		b.WriteString(" [fbtrace_id " + e.FBTraceID + "]")
	}
	return b.String()
}

// TransportError reports a request that got no usable answer: the connection
// failed or was reset, the request timed out, or the caller cancelled it.
// Facebook may or may not have acted on it.
type TransportError struct {
	// Timeout is true when the request ran past Config.Timeout or the
	// caller's deadline.
	Timeout bool
	// Err is the cause, never quoting the request URL.
	Err error
}

// Error describes the failure for logs.
func (e *TransportError) Error() string {
	if e.Timeout {
		return "Graph API timed out: " + e.Err.Error()
	}
	return "no answer from the Graph API: " + e.Err.Error()
}

// Unwrap returns the cause, so errors.Is sees context.Canceled and
// context.DeadlineExceeded.
func (e *TransportError) Unwrap() error { return e.Err }

// invalidRequestError is a send refused before calling Facebook. Its reason is
// written for agents, so Reason shows it as is.
type invalidRequestError struct{ reason string }

func invalidRequest(reason string) error { return &invalidRequestError{reason: reason} }

func (e *invalidRequestError) Error() string { return ErrInvalidRequest.Error() + ": " + e.reason }

func (e *invalidRequestError) Is(target error) bool { return target == ErrInvalidRequest }

// class is one row of the classification table.
type class int

const (
	classNone class = iota
	classOther
	classInvalidRequest
	classUnexpectedAnswer
	classRejected
	classTokenInvalid
	classOutsideWindow
	classUnavailable
	classRateLimited
	classTemporary
	classTimeout
	classNetwork
	classCanceled
)

// Graph API error codes and subcodes the classification names.
const (
	codeUnknown          = 1
	codeService          = 2
	codeAppRateLimit     = 4
	codePermission       = 10
	codeUserRateLimit    = 17
	codePageRateLimit    = 32
	codeInvalidToken     = 190
	codePersonNotAvail   = 551
	codeCallRateLimit    = 613
	subcodeOutsideWindow = 2018278
	subcodeCannotReceive = 2018108
)

func classify(err error) class {
	if err == nil {
		return classNone
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.class()
	}
	var inv *invalidRequestError
	switch {
	case errors.As(err, &inv):
		return classInvalidRequest
	case errors.Is(err, ErrUnexpectedAnswer):
		return classUnexpectedAnswer
	case errors.Is(err, context.Canceled):
		return classCanceled
	case errors.Is(err, context.DeadlineExceeded):
		return classTimeout
	}
	var te *TransportError
	if errors.As(err, &te) {
		if te.Timeout {
			return classTimeout
		}
		return classNetwork
	}
	return classOther
}

func (e *APIError) class() class {
	switch {
	case e.Code == codeInvalidToken:
		return classTokenInvalid
	case e.Code == codePermission && e.Subcode == subcodeOutsideWindow:
		return classOutsideWindow
	case e.Code == codePersonNotAvail || e.Subcode == subcodeCannotReceive:
		return classUnavailable
	case e.Code == codeAppRateLimit || e.Code == codeUserRateLimit ||
		e.Code == codePageRateLimit || e.Code == codeCallRateLimit ||
		e.HTTPStatus == http.StatusTooManyRequests:
		return classRateLimited
	case e.Code == codeUnknown || e.Code == codeService || e.HTTPStatus >= 500:
		return classTemporary
	default:
		return classRejected
	}
}

// IsTransient reports whether err is worth retrying later as it is: a rate
// limit, a temporary Facebook failure, a timeout, a connection error or a
// cancelled request.
func IsTransient(err error) bool {
	switch classify(err) {
	case classRateLimited, classTemporary, classTimeout, classNetwork, classCanceled:
		return true
	}
	return false
}

// IsPermanent reports whether err will fail again however often it is
// retried: every non-nil error that is not transient.
func IsPermanent(err error) bool {
	return err != nil && !IsTransient(err)
}

// IsTokenInvalid reports whether Facebook rejected the page token (code 190):
// it expired or was revoked, or the admin who granted it changed their
// password, so the channel must become DISCONNECTED until someone reconnects
// it.
func IsTokenInvalid(err error) bool {
	return classify(err) == classTokenInvalid
}

// IsOutsideWindow reports whether Facebook refused the message because the
// customer cannot be messaged now: outside the 24 hour window (code 10,
// subcode 2018278) or not available (code 551 or subcode 2018108).
func IsOutsideWindow(err error) bool {
	c := classify(err)
	return c == classOutsideWindow || c == classUnavailable
}

// maxReasonMessage bounds how much of Facebook's own message Reason quotes.
const maxReasonMessage = 200

// Reason explains err in a sentence fit to show agents as a message's
// failure reason: it never contains a token, an fbtrace_id or internal
// details. It returns "" for a nil error.
func Reason(err error) string {
	switch classify(err) {
	case classNone:
		return ""
	case classInvalidRequest:
		var inv *invalidRequestError
		errors.As(err, &inv)
		return inv.reason
	case classUnexpectedAnswer:
		return "Facebook gave an unexpected answer; the message may have been sent."
	case classTokenInvalid:
		return "The Facebook page's access token is no longer valid; reconnect the page."
	case classOutsideWindow:
		return "The customer last wrote more than 24 hours ago; Messenger only accepts a human agent's reply, within 7 days."
	case classUnavailable:
		return "This person isn't available on Messenger right now."
	case classRateLimited:
		return "Facebook is limiting how fast this page can send; try again later."
	case classTemporary:
		return "Facebook is temporarily unavailable; try again later."
	case classTimeout:
		return "Facebook did not answer in time; the message may not have been sent."
	case classNetwork:
		return "Could not reach Facebook."
	case classCanceled:
		return "Sending was cancelled."
	case classRejected:
		var apiErr *APIError
		errors.As(err, &apiErr)
		if apiErr.Code == 0 {
			return fmt.Sprintf("Facebook refused the message (HTTP %d).", apiErr.HTTPStatus)
		}
		if apiErr.Message == "" {
			return fmt.Sprintf("Facebook refused the message (code %d).", apiErr.Code)
		}
		// Graph messages start with "(#100) "; the code is quoted once, at the end.
		msg := strings.TrimPrefix(apiErr.Message, fmt.Sprintf("(#%d) ", apiErr.Code))
		return fmt.Sprintf("Facebook refused the message: %s (code %d).",
			strings.TrimSuffix(truncate(msg, maxReasonMessage), "."), apiErr.Code)
	default:
		return "The message could not be sent."
	}
}

// envelope is the Graph API's error answer.
type envelope struct {
	Error *struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      int    `json:"code"`
		Subcode   int    `json:"error_subcode"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
}

// maxErrorMessage bounds the Facebook message kept in an APIError.
const maxErrorMessage = 500

// newAPIError decodes a non-2xx answer, removing token from Facebook's
// message: "Malformed access token …" quotes it.
func newAPIError(status int, body []byte, tokens ...string) *APIError {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil || env.Error == nil {
		return &APIError{HTTPStatus: status}
	}
	return &APIError{
		HTTPStatus: status,
		Message:    truncate(redact(env.Error.Message, tokens...), maxErrorMessage),
		Type:       env.Error.Type,
		Code:       env.Error.Code,
		Subcode:    env.Error.Subcode,
		FBTraceID:  env.Error.FBTraceID,
	}
}

// pageTokenPattern matches Facebook user and page access tokens, which all
// start with "EAA"; it catches a token quoted partly or re-encoded, where the
// exact replacement would miss it.
var pageTokenPattern = regexp.MustCompile(`EAA[0-9A-Za-z_-]{16,}`)

const redacted = "[REDACTED]"

func redact(s string, tokens ...string) string {
	for _, token := range tokens {
		if token != "" {
			s = strings.ReplaceAll(s, token, redacted)
		}
	}
	return pageTokenPattern.ReplaceAllString(s, redacted)
}

// truncate shortens s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
