package playground_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/dakenh/dakenh/internal/playground"
)

func get(t *testing.T, h http.Handler, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Result()
}

// TestPage checks that the page loads only same-origin files, each of
// which is served, under the CSP, and carries no inline script.
func TestPage(t *testing.T) {
	h, err := playground.Handler("/graphql")
	if err != nil {
		t.Fatal(err)
	}
	resp := get(t, h, "/")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") != playground.CSP {
		t.Fatalf("GET / = %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	if regexp.MustCompile(`<script>|<script [^>]*>[^<]`).Match(body) || strings.Contains(string(body), "<style") {
		t.Fatalf("the page has inline script or style:\n%s", body)
	}
	if !strings.Contains(string(body), `data-endpoint="/graphql"`) {
		t.Fatalf("the page does not name its endpoint:\n%s", body)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(body), -1)
	if len(refs) != 6 {
		t.Fatalf("the page references %d files, want 6: %v", len(refs), refs)
	}
	for _, m := range refs {
		if !strings.HasPrefix(m[1], playground.AssetsPath) {
			t.Errorf("the page loads %s from elsewhere than %s", m[1], playground.AssetsPath)
			continue
		}
		r := get(t, h, m[1])
		if r.StatusCode != 200 || r.Header.Get("ETag") == "" || r.Header.Get("Content-Security-Policy") != playground.CSP {
			t.Errorf("GET %s = %d, ETag %q", m[1], r.StatusCode, r.Header.Get("ETag"))
		}
		if want := map[bool]string{true: "text/javascript; charset=utf-8", false: "text/css; charset=utf-8"}[strings.HasSuffix(m[1], ".js")]; r.Header.Get("Content-Type") != want {
			t.Errorf("GET %s has Content-Type %q, want %q", m[1], r.Header.Get("Content-Type"), want)
		}
	}
	for _, path := range []string{"/playground/PINS", "/playground/index.html", "/playground/../playground.go", "/nope"} {
		if r := get(t, h, path); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, r.StatusCode)
		}
	}
}

// TestPinnedFilesMatch checks the committed third-party files against the
// SHA-256 sums assets/PINS records for them.
func TestPinnedFilesMatch(t *testing.T) {
	f, err := os.Open("assets/PINS")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 5 {
			t.Fatalf("PINS line %q has %d fields, want 5", line, len(fields))
		}
		b, err := os.ReadFile("assets/" + fields[3])
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != fields[4] {
			t.Errorf("assets/%s has SHA-256 %s, PINS says %s: run scripts/playground-assets", fields[3], got, fields[4])
		}
		n++
	}
	if n == 0 {
		t.Fatal("PINS pins no file")
	}
}
