package apierr_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/dakenh/dakenh/internal/apierr"
)

func TestCodeValues(t *testing.T) {
	// The strings are the public contract; a rename would break clients.
	tests := []struct {
		code apierr.Code
		want string
	}{
		{apierr.Unauthenticated, "UNAUTHENTICATED"},
		{apierr.Forbidden, "FORBIDDEN"},
		{apierr.NotFound, "NOT_FOUND"},
		{apierr.BadUserInput, "BAD_USER_INPUT"},
		{apierr.Conflict, "CONFLICT"},
		{apierr.FailedPrecondition, "FAILED_PRECONDITION"},
		{apierr.RateLimited, "RATE_LIMITED"},
		{apierr.Internal, "INTERNAL"},
	}
	for _, tt := range tests {
		if string(tt.code) != tt.want {
			t.Errorf("code = %q, want %q", tt.code, tt.want)
		}
	}
}

func TestConstructors(t *testing.T) {
	cause := errors.New("pq: duplicate key value violates unique constraint")
	tests := []struct {
		name      string
		err       *apierr.Error
		want      apierr.Error
		wantError string
	}{
		{
			name:      "New formats the message",
			err:       apierr.New(apierr.NotFound, "deal %d not found", 7),
			want:      apierr.Error{Code: apierr.NotFound, Message: "deal 7 not found"},
			wantError: "NOT_FOUND: deal 7 not found",
		},
		{
			name:      "BadInput sets the field",
			err:       apierr.BadInput("input.email", "%q is not an email address", "x"),
			want:      apierr.Error{Code: apierr.BadUserInput, Field: "input.email", Message: `"x" is not an email address`},
			wantError: `BAD_USER_INPUT: "x" is not an email address`,
		},
		{
			name:      "Precondition sets the reason",
			err:       apierr.Precondition("DEAL_CLOSED", "deal is closed"),
			want:      apierr.Error{Code: apierr.FailedPrecondition, Reason: "DEAL_CLOSED", Message: "deal is closed"},
			wantError: "FAILED_PRECONDITION: deal is closed",
		},
		{
			name:      "Wrap keeps the cause and includes it in Error for logs",
			err:       apierr.Wrap(apierr.Conflict, cause, "email already in use"),
			want:      apierr.Error{Code: apierr.Conflict, Message: "email already in use", Err: cause},
			wantError: "CONFLICT: email already in use: " + cause.Error(),
		},
		{
			name:      "Wrap with an empty message falls back to the code's default",
			err:       apierr.Wrap(apierr.NotFound, nil, ""),
			want:      apierr.Error{Code: apierr.NotFound},
			wantError: "NOT_FOUND: not found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if *tt.err != tt.want {
				t.Errorf("got %+v, want %+v", *tt.err, tt.want)
			}
			if got := tt.err.Error(); got != tt.wantError {
				t.Errorf("Error() = %q, want %q", got, tt.wantError)
			}
			if !errors.Is(tt.err, tt.want.Err) && tt.want.Err != nil {
				t.Errorf("errors.Is(err, cause) = false, want true")
			}
			if got := tt.err.Unwrap(); got != tt.want.Err {
				t.Errorf("Unwrap() = %v, want %v", got, tt.want.Err)
			}
		})
	}
}

func TestAsAndCodeOf(t *testing.T) {
	notFound := apierr.New(apierr.NotFound, "no such deal")
	tests := []struct {
		name     string
		err      error
		wantAs   *apierr.Error
		wantCode apierr.Code
	}{
		{name: "nil", err: nil, wantAs: nil, wantCode: ""},
		{name: "plain error", err: errors.New("boom"), wantAs: nil, wantCode: apierr.Internal},
		{name: "direct", err: notFound, wantAs: notFound, wantCode: apierr.NotFound},
		{name: "wrapped by fmt", err: fmt.Errorf("loading: %w", notFound), wantAs: notFound, wantCode: apierr.NotFound},
		{name: "wrapped by gqlgen", err: gqlerror.WrapPath(nil, notFound), wantAs: notFound, wantCode: apierr.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := apierr.As(tt.err)
			if got != tt.wantAs || ok != (tt.wantAs != nil) {
				t.Errorf("As() = %v, %v; want %v, %v", got, ok, tt.wantAs, tt.wantAs != nil)
			}
			if code := apierr.CodeOf(tt.err); code != tt.wantCode {
				t.Errorf("CodeOf() = %q, want %q", code, tt.wantCode)
			}
		})
	}
}
