package facebook_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/facebook"
	"github.com/dakenh/dakenh/internal/facebook/fbfake"
)

// class is what the classification says about one error.
type class struct {
	transient, permanent, tokenInvalid, outsideWindow bool
	reason                                            string
}

func classOf(err error) class {
	return class{
		transient:     facebook.IsTransient(err),
		permanent:     facebook.IsPermanent(err),
		tokenInvalid:  facebook.IsTokenInvalid(err),
		outsideWindow: facebook.IsOutsideWindow(err),
		reason:        facebook.Reason(err),
	}
}

// The expected classes, one per row of the package's table.
var (
	classTokenInvalid  = class{permanent: true, tokenInvalid: true, reason: "The Facebook page's access token is no longer valid; reconnect the page."}
	classOutsideWindow = class{permanent: true, outsideWindow: true, reason: "The customer last wrote more than 24 hours ago; Messenger only accepts a human agent's reply, within 7 days."}
	classUnavailable   = class{permanent: true, outsideWindow: true, reason: "This person isn't available on Messenger right now."}
	classRateLimited   = class{transient: true, reason: "Facebook is limiting how fast this page can send; try again later."}
	classTemporary     = class{transient: true, reason: "Facebook is temporarily unavailable; try again later."}
	classTimeout       = class{transient: true, reason: "Facebook did not answer in time; the message may not have been sent."}
	classNetwork       = class{transient: true, reason: "Could not reach Facebook."}
	classCanceled      = class{transient: true, reason: "Sending was cancelled."}
	classUnexpected    = class{permanent: true, reason: "Facebook gave an unexpected answer; the message may have been sent."}
)

func rejected(reason string) class { return class{permanent: true, reason: reason} }

func TestSendClassifiesEveryFailureOfTheFake(t *testing.T) {
	tests := []struct {
		name    string
		failure fbfake.Failure
		want    class
		// wantAPI is the Graph error decoded, nil for failures without answer.
		wantAPI *facebook.APIError
	}{
		{"InvalidTokenDisconnects", fbfake.GraphError(190, 460), classTokenInvalid,
			&facebook.APIError{HTTPStatus: 400, Type: "OAuthException", Code: 190, Subcode: 460, FBTraceID: "Afake000001",
				Message: "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons."}},
		{"OutsideWindowIsPermanent", fbfake.GraphError(10, 2018278), classOutsideWindow,
			&facebook.APIError{HTTPStatus: 400, Type: "OAuthException", Code: 10, Subcode: 2018278, FBTraceID: "Afake000001",
				Message: "(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview"}},
		{"PersonNotAvailable551", fbfake.GraphError(551, 1545041), classUnavailable,
			&facebook.APIError{HTTPStatus: 400, Type: "OAuthException", Code: 551, Subcode: 1545041, FBTraceID: "Afake000001", Message: "(#551) This person isn't available right now."}},
		{"CannotReceive2018108", fbfake.GraphError(10, 2018108), classUnavailable,
			&facebook.APIError{HTTPStatus: 400, Type: "OAuthException", Code: 10, Subcode: 2018108, FBTraceID: "Afake000001", Message: "(#10) Error"}},
		{"OtherPermissionSubcodeIsNotTheWindow", fbfake.GraphError(10, 2018065), rejected("Facebook refused the message: Error (code 10)."),
			&facebook.APIError{HTTPStatus: 400, Type: "OAuthException", Code: 10, Subcode: 2018065, FBTraceID: "Afake000001", Message: "(#10) Error"}},
		{"AppRateLimit4", fbfake.GraphError(4, 0), classRateLimited,
			&facebook.APIError{HTTPStatus: 400, Type: "OAuthException", Code: 4, FBTraceID: "Afake000001", Message: "(#4) Application request limit reached"}},
		{"UserRateLimit17", fbfake.GraphError(17, 0), classRateLimited,
			&facebook.APIError{HTTPStatus: 400, Type: "OAuthException", Code: 17, FBTraceID: "Afake000001", Message: "(#17) User request limit reached"}},
		{"PageRateLimit32", fbfake.GraphError(32, 0), classRateLimited,
			&facebook.APIError{HTTPStatus: 400, Type: "OAuthException", Code: 32, FBTraceID: "Afake000001", Message: "(#32) Page request limit reached"}},
		{"CallRateLimit613", fbfake.GraphError(613, 0), classRateLimited,
			&facebook.APIError{HTTPStatus: 400, Type: "OAuthException", Code: 613, FBTraceID: "Afake000001", Message: "(#613) Calls to this api have exceeded the rate limit."}},
		{"UnknownErrorCode1IsTemporary", fbfake.GraphError(1, 0), classTemporary,
			&facebook.APIError{HTTPStatus: 500, Type: "OAuthException", Code: 1, FBTraceID: "Afake000001", Message: "An unknown error has occurred."}},
		{"ServiceErrorCode2IsTemporary", fbfake.GraphError(2, 0), classTemporary,
			&facebook.APIError{HTTPStatus: 500, Type: "OAuthException", Code: 2, FBTraceID: "Afake000001", Message: "An unexpected error has occurred. Please retry your request later."}},
		{"HTTP500WithoutEnvelopeIsTemporary", fbfake.ServerError(), classTemporary,
			&facebook.APIError{HTTPStatus: 500}},
		{"InvalidParameterIsPermanent", fbfake.GraphError(100, 2018001), rejected("Facebook refused the message: Error (code 100)."),
			&facebook.APIError{HTTPStatus: 400, Type: "OAuthException", Code: 100, Subcode: 2018001, FBTraceID: "Afake000001", Message: "(#100) Error"}},
		// The one case with a short client timeout: the fake answers
		// after an hour (it wakes when the test ends).
		{"SlowAnswerTimesOut", fbfake.Slow(time.Hour), classTimeout, nil},
		{"ConnectionResetIsTransient", fbfake.ConnectionReset(), classNetwork, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every other answer comes at once; a generous timeout keeps a
			// loaded machine from turning it into a timeout.
			timeout := time.Minute
			if tt.want == classTimeout {
				timeout = 100 * time.Millisecond
			}
			fake, c := newFake(t, timeout)
			fake.FailNext(1, tt.failure)

			id, err := c.SendText(t.Context(), pageID, pageToken, psid, "xin chào", facebook.SendOptions{})
			if id != "" || err == nil {
				t.Fatalf("SendText = %q, %v; want an error", id, err)
			}
			if got := classOf(err); got != tt.want {
				t.Errorf("class = %+v\nwant    %+v", got, tt.want)
			}
			var apiErr *facebook.APIError
			switch {
			case tt.wantAPI == nil && errors.As(err, &apiErr):
				t.Errorf("err = %#v, want no Graph answer", apiErr)
			case tt.wantAPI != nil && !errors.As(err, &apiErr):
				t.Errorf("err = %v, want an *APIError", err)
			case tt.wantAPI != nil && *apiErr != *tt.wantAPI:
				t.Errorf("APIError = %#v\nwant       %#v", *apiErr, *tt.wantAPI)
			}
			if tt.wantAPI == nil {
				var te *facebook.TransportError
				if !errors.As(err, &te) {
					t.Errorf("err = %v, want a *TransportError", err)
				}
			}
			assertNoSecrets(t, err)
			if len(fake.Sent()) != 0 {
				t.Errorf("Sent() = %v, want nothing recorded", fake.Sent())
			}
		})
	}
}

// assertNoSecrets fails if err's message leaks the page token, or its
// Reason the token or the fbtrace ID.
func assertNoSecrets(t *testing.T, err error) {
	t.Helper()
	if strings.Contains(err.Error(), pageToken) || strings.Contains(err.Error(), "access_token") {
		t.Errorf("error message leaks the token: %q", err.Error())
	}
	reason := facebook.Reason(err)
	if strings.Contains(reason, pageToken) || strings.Contains(reason, "Afake") || strings.Contains(reason, "fbtrace") {
		t.Errorf("Reason leaks a secret or trace: %q", reason)
	}
}

func TestUnknownTokenIsInvalidAndRedacted(t *testing.T) {
	const otherToken = "EAAGm0PX4ZCpsBAKZBrevoked0token0xyz"
	fake, c := newFake(t, 0)

	_, err := c.SendText(t.Context(), pageID, otherToken, psid, "xin chào", facebook.SendOptions{})
	if got := classOf(err); got != classTokenInvalid {
		t.Fatalf("class = %+v, want %+v (err %v)", got, classTokenInvalid, err)
	}
	var apiErr *facebook.APIError
	if !errors.As(err, &apiErr) || apiErr.Message != "Malformed access token [REDACTED]" {
		t.Fatalf("err = %v, want Facebook's message with the token redacted", err)
	}
	if strings.Contains(err.Error(), otherToken) {
		t.Fatalf("error message leaks the token: %q", err.Error())
	}
	if len(fake.Sent()) != 0 {
		t.Fatalf("Sent() = %v, want nothing", fake.Sent())
	}
}

func TestTokenOfAnotherPageIsRejected(t *testing.T) {
	fake, c := newFake(t, 0)
	fake.AddPage("999", "EAAGm0PX4ZCpsBAKZBother0page0token0")

	_, err := c.SendText(t.Context(), "999", pageToken, psid, "xin chào", facebook.SendOptions{})
	var apiErr *facebook.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 100 || apiErr.Subcode != 33 {
		t.Fatalf("err = %v, want Graph code 100 subcode 33", err)
	}
	if !facebook.IsPermanent(err) || facebook.IsTokenInvalid(err) {
		t.Fatalf("class = %+v, want permanent and not token-invalid", classOf(err))
	}
}

func TestCallerContextEndsTheSend(t *testing.T) {
	tests := []struct {
		name    string
		ctx     func(t *testing.T) context.Context
		wantErr error
		want    class
	}{
		{"CancelledIsTransient", func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(50*time.Millisecond, cancel)
			return ctx
		}, context.Canceled, classCanceled},
		{"CallerDeadlineIsATimeout", func(t *testing.T) context.Context {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}, context.DeadlineExceeded, classTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := newFake(t, time.Minute)
			fake.FailNext(1, fbfake.Slow(time.Minute))

			start := time.Now()
			_, err := c.SendText(tt.ctx(t), pageID, pageToken, psid, "xin chào", facebook.SendOptions{})
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("send took %s after the context ended", elapsed)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if got := classOf(err); got != tt.want {
				t.Errorf("class = %+v, want %+v", got, tt.want)
			}
			assertNoSecrets(t, err)
		})
	}
}

func TestSlowAnswerWithinTimeoutSucceeds(t *testing.T) {
	fake, c := newFake(t, time.Minute)
	fake.FailNext(1, fbfake.Slow(50*time.Millisecond))

	id, err := c.SendText(t.Context(), pageID, pageToken, psid, "xin chào", facebook.SendOptions{})
	if err != nil || id != "m_fake_000001" {
		t.Fatalf("SendText = %q, %v; want m_fake_000001", id, err)
	}
}

func TestUnexpectedAnswers(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		answer  string
		want    class
		wantAPI *facebook.APIError
	}{
		{"SuccessWithoutMessageID", http.StatusOK, `{"recipient_id":"6789012345678901"}`, classUnexpected, nil},
		{"SuccessThatIsNotJSON", http.StatusOK, `<html>ok</html>`, classUnexpected, nil},
		{"NotFoundWithoutEnvelope", http.StatusNotFound, `<html>Not Found</html>`, rejected("Facebook refused the message (HTTP 404)."), &facebook.APIError{HTTPStatus: 404}},
		{"BadGatewayWithoutEnvelope", http.StatusBadGateway, `<html>Bad Gateway</html>`, classTemporary, &facebook.APIError{HTTPStatus: 502}},
		{"TooManyRequestsWithoutEnvelope", http.StatusTooManyRequests, ``, classRateLimited, &facebook.APIError{HTTPStatus: 429}},
		{"RedirectIsNotFollowed", http.StatusFound, ``, rejected("Facebook refused the message (HTTP 302)."), &facebook.APIError{HTTPStatus: 302}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, seen := recordingServer(t, tt.status, tt.answer)
			c := facebook.New(facebook.Config{GraphURL: srv.URL})

			_, err := c.SendText(t.Context(), pageID, pageToken, psid, "xin chào", facebook.SendOptions{})
			if got := classOf(err); got != tt.want {
				t.Errorf("class = %+v, want %+v (err %v)", got, tt.want, err)
			}
			var apiErr *facebook.APIError
			if tt.wantAPI == nil {
				if !errors.Is(err, facebook.ErrUnexpectedAnswer) {
					t.Errorf("err = %v, want ErrUnexpectedAnswer", err)
				}
			} else if !errors.As(err, &apiErr) || *apiErr != *tt.wantAPI {
				t.Errorf("err = %v, want %#v", err, *tt.wantAPI)
			}
			if n := len(seen); n != 1 {
				t.Errorf("server saw %d requests, want exactly 1", n)
			}
		})
	}
}

func TestTransportErrorsNeverQuoteTheToken(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	tests := []struct {
		name     string
		graphURL string
		want     class
	}{
		{"ConnectionRefused", closedURL, classNetwork},
		// url.Parse errors quote the whole URL, query string included.
		{"UnparsableGraphURL", "http://bad host", rejected("The message could not be sent.")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := facebook.New(facebook.Config{GraphURL: tt.graphURL, Timeout: time.Minute})
			_, err := c.SendText(t.Context(), pageID, pageToken, psid, "xin chào", facebook.SendOptions{})
			if err == nil {
				t.Fatal("SendText succeeded, want an error")
			}
			if got := classOf(err); got != tt.want {
				t.Errorf("class = %+v, want %+v (err %v)", got, tt.want, err)
			}
			assertNoSecrets(t, err)
		})
	}
}

func TestClassificationOfErrorValues(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want class
	}{
		{"NilIsNothing", nil, class{}},
		{"TokenCodeWinsOverServerStatus", &facebook.APIError{HTTPStatus: 500, Code: 190}, classTokenInvalid},
		{"TokenCodeThroughWrapping", fmt.Errorf("outbox: message 42: %w", &facebook.APIError{HTTPStatus: 400, Code: 190, Subcode: 463}), classTokenInvalid},
		{"WindowSubcodeNeedsCode10", &facebook.APIError{HTTPStatus: 400, Code: 100, Subcode: 2018278, Message: "(#100) Bad"}, rejected("Facebook refused the message: Bad (code 100).")},
		{"Code2IsTemporaryWhateverTheStatus", &facebook.APIError{HTTPStatus: 400, Code: 2}, classTemporary},
		{"HTTP503IsTemporary", &facebook.APIError{HTTPStatus: 503}, classTemporary},
		{"HTTP503WithOtherCodeIsTemporary", &facebook.APIError{HTTPStatus: 503, Code: 100}, classTemporary},
		{"HTTP429IsRateLimited", &facebook.APIError{HTTPStatus: 429}, classRateLimited},
		{"PolicyBlockIsPermanent", &facebook.APIError{HTTPStatus: 400, Code: 368, Message: "(#368) The action attempted has been deemed abusive or is otherwise disallowed"},
			rejected("Facebook refused the message: The action attempted has been deemed abusive or is otherwise disallowed (code 368).")},
		{"RejectedWithoutMessage", &facebook.APIError{HTTPStatus: 400, Code: 200}, rejected("Facebook refused the message (code 200).")},
		{"LongMessageIsCut", &facebook.APIError{HTTPStatus: 400, Code: 100, Message: strings.Repeat("ô", 150)},
			rejected("Facebook refused the message: " + strings.Repeat("ô", 100) + "… (code 100).")},
		{"TransportTimeout", &facebook.TransportError{Timeout: true, Err: errors.New("i/o timeout")}, classTimeout},
		{"TransportReset", &facebook.TransportError{Err: io.ErrUnexpectedEOF}, classNetwork},
		{"BareCancellation", context.Canceled, classCanceled},
		{"BareDeadline", fmt.Errorf("worker: %w", context.DeadlineExceeded), classTimeout},
		{"UnexpectedAnswer", fmt.Errorf("x: %w", facebook.ErrUnexpectedAnswer), classUnexpected},
		{"ForeignErrorIsPermanent", errors.New("disk full"), rejected("The message could not be sent.")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classOf(tt.err); got != tt.want {
				t.Fatalf("class = %+v\nwant    %+v", got, tt.want)
			}
		})
	}
}

func TestAPIErrorMessageIsForLogs(t *testing.T) {
	err := &facebook.APIError{HTTPStatus: 400, Type: "OAuthException", Code: 10, Subcode: 2018278, Message: "(#10) Outside window", FBTraceID: "AbC9"}
	const want = "Graph API error code 10 subcode 2018278 (HTTP 400, OAuthException): (#10) Outside window [fbtrace_id AbC9]"
	if got := err.Error(); got != want {
		t.Fatalf("Error() = %q\nwant      %q", got, want)
	}
}
