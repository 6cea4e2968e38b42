package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browser finds a Chromium to drive. .ci/run installs Debian's chromium,
// so in CI a missing browser is a failure; elsewhere the test is skipped,
// saying why.
func browser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium on PATH: .ci/run installs Debian's chromium package")
	}
	t.Skip("no Chromium on PATH (apt-get install chromium): the playground is not tried in a browser")
	return ""
}

// browserTab starts a headless Chromium (browser) with opts and returns a
// tab's context, closed with the test, within three minutes (a cold
// start on a loaded machine takes most of one).
func browserTab(t *testing.T, opts ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	bin := browser(t)
	opts = append(append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
	), opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	return ctx
}

// TestPlaygroundOfflineUnderCSP opens the playground in headless Chromium
// with every request to anywhere but the server refused, renders it and
// runs a mutation through it: nothing is fetched from elsewhere, the
// Content-Security-Policy is never violated, and the answer shows.
func TestPlaygroundOfflineUnderCSP(t *testing.T) {
	e := newEnv(t)
	// No name resolves: an attempt to reach a CDN fails even if the
	// interception below missed it.
	ctx := browserTab(t, chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"))

	// Every request is paused: the server's go on, any other is refused
	// and remembered.
	var mu sync.Mutex
	var foreign, problems []string
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	thrown := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			if strings.HasPrefix(ev.Request.URL, e.srv.URL+"/") {
				_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				continue
			}
			mu.Lock()
			foreign = append(foreign, ev.Request.URL)
			mu.Unlock()
			_, _ = chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
		}
	}()
	go func() {
		for ev, err := range thrown {
			if err != nil {
				return
			}
			mu.Lock()
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text+" "+describe(ev.ExceptionDetails.Exception))
			mu.Unlock()
		}
	}()
	const watchCSP = `window.__csp = []; document.addEventListener("securitypolicyviolation",
		e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`
	const response = `(() => { const e = document.querySelector(".graphiql-response .CodeMirror");
		return e ? e.CodeMirror.getValue() : ""; })()`
	mutation := `mutation { signUp(input: {organizationName: "Cửa hàng Hoa Lan", name: "Chị Lan", email: "lan@hoalan.vn", password: "mat-khau-dai"}) { user { organization { name } } } }`
	err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			if _, err := cdp.Call(ctx, t, fetch.Enable, fetch.EnableParams{}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watchCSP})
			return err
		}),
		chromedp.Navigate(e.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(".graphiql-container .graphiql-query-editor .CodeMirror")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector(".graphiql-query-editor .CodeMirror").CodeMirror.setValue(`+jsString(mutation)+`); undefined`),
		chromedp.Click(chromedp.CSS(".graphiql-execute-button")),
		func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Poll[bool](response+`.includes("Hoa Lan")`, chromedp.WithPollingTimeout(time.Minute))(ctx, t)
			return chromedp.Void{}, err
		},
	)
	// Read what the page shows even when it went wrong, to say why.
	answer, aerr := chromedp.Run(ctx, chromedp.Evaluate[string](response))
	violations, verr := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp`))
	if shot, serr := chromedp.Run(ctx, chromedp.CaptureScreenshot()); serr == nil && os.Getenv("DAKENH_TEST_SCREENSHOT") != "" {
		_ = os.WriteFile(os.Getenv("DAKENH_TEST_SCREENSHOT"), shot, 0o644)
	}
	if err == nil {
		err = errors.Join(aerr, verr)
	}
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		t.Fatalf("driving the playground: %v (shows %q; problems: %v; CSP violations: %v; refused: %v)", err, answer, problems, violations, foreign)
	}
	if len(foreign) > 0 {
		t.Errorf("the playground asked for files elsewhere than the server: %v", foreign)
	}
	if len(violations) > 0 {
		t.Errorf("the playground violates its Content-Security-Policy: %v", violations)
	}
	if len(problems) > 0 {
		t.Errorf("the page threw: %v", problems)
	}
	if !strings.Contains(answer, `"name": "Cửa hàng Hoa Lan"`) {
		t.Errorf("the playground shows %q", answer)
	}
}

// describe returns a thrown value's description, if any.
func describe(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	return o.Description
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
