package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dakenh/dakenh/internal/partner"
)

// verifySignature is README.md's Go snippet for partners, verbatim
// (TestREADMESnippets keeps the two alike): the test receivers verify
// every delivery with it.
// BEGIN README SNIPPET
func verifySignature(secret, header string, body []byte, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("no timestamp")
	}
	if d := now.Sub(time.Unix(t, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp too far from now")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range sigs {
		if got, err := hex.DecodeString(s); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no valid signature")
}

// END README SNIPPET

// snippet returns the text between begin and end in s.
func snippet(t *testing.T, s, begin, end string) string {
	t.Helper()
	_, rest, ok := strings.Cut(s, begin)
	if !ok {
		t.Fatalf("no %q", begin)
	}
	body, _, ok := strings.Cut(rest, end)
	if !ok {
		t.Fatalf("no %q", end)
	}
	return strings.TrimSpace(body)
}

// TestREADMESnippets: README.md's verification snippets are the ones
// tested: the Go one is verifySignature above, and the Node one accepts a
// real signature (both secrets of a rotation) and refuses a forged or stale
// one when node is installed.
func TestREADMESnippets(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("partner_verify_test.go")
	if err != nil {
		t.Fatal(err)
	}
	goReadme := snippet(t, string(readme), "```go\n// verify-dakenh-signature\n", "```")
	goTest := snippet(t, string(src), "// BEGIN README SNIPPET\n", "// END README SNIPPET")
	if goReadme != goTest {
		t.Fatalf("README's Go snippet differs from verifySignature:\n%s\n---\n%s", goReadme, goTest)
	}

	js := snippet(t, string(readme), "```js\n// verify-dakenh-signature\n", "```")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; the Node snippet is not run")
	}
	body := `{"id":"whd_1","type":"message.created"}`
	now := time.Now()
	header := partner.Signature(now, []byte(body), "whsec_new", "whsec_old")
	stale := partner.Signature(now.Add(-10*time.Minute), []byte(body), "whsec_new")
	prog := js + `
const body = Buffer.from(process.argv[1]);
const out = [
  verifySignature("whsec_new", process.argv[2], body),
  verifySignature("whsec_old", process.argv[2], body),
  verifySignature("whsec_other", process.argv[2], body),
  verifySignature("whsec_new", process.argv[2], Buffer.from(process.argv[1] + " ")),
  verifySignature("whsec_new", process.argv[3], body),
];
console.log(JSON.stringify(out));
`
	got, err := exec.Command(node, "-e", prog, body, header, stale).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, got)
	}
	if strings.TrimSpace(string(got)) != "[true,true,false,false,false]" {
		t.Fatalf("node snippet said %s", got)
	}
	for _, tc := range []struct {
		secret, header string
		body           string
		ok             bool
	}{
		{"whsec_new", header, body, true},
		{"whsec_old", header, body, true},
		{"whsec_other", header, body, false},
		{"whsec_new", header, body + " ", false},
		{"whsec_new", stale, body, false},
	} {
		if err := verifySignature(tc.secret, tc.header, []byte(tc.body), now); (err == nil) != tc.ok {
			t.Errorf("verifySignature(%s, %s) = %v", tc.secret, tc.header, err)
		}
	}
}

// TestREADMEEventTypes: README.md's table of event types for partners
// names exactly the types an endpoint may choose.
func TestREADMEEventTypes(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "## Partner webhooks")
	table := snippet(t, section, "### Event types\n", "\n### ")
	var listed []string
	for _, line := range strings.Split(table, "\n") {
		first, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " | ")
		for _, f := range strings.Split(first, ", ") {
			if strings.HasPrefix(f, "`") && strings.HasSuffix(f, "`") {
				listed = append(listed, strings.Trim(f, "`"))
			}
		}
	}
	slices.Sort(listed)
	want := partner.EventTypes()
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Fatalf("README lists %v\nendpoints may choose %v", listed, want)
	}
}
