// Package playground serves the GraphQL playground (GraphiQL) from the
// binary: the page, its script and the pinned React and GraphiQL builds
// (assets/PINS, fetched by scripts/playground-assets), all from the
// server's own origin under a Content-Security-Policy that allows nothing
// else. It works offline, air-gapped and behind a strict proxy, where a
// page loading them from a CDN would show only "Loading…".
package playground

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// CSP is the Content-Security-Policy of the page and its assets: scripts,
// styles and requests (the API over HTTP and WebSocket) only from the
// server's own origin, fonts and images from it or inlined as data: URIs
// (GraphiQL's stylesheet embeds its fonts), and no inline script at all.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self' data:; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// AssetsPath is the URL path prefix the page's files are served under.
const AssetsPath = "/playground/"

//go:embed assets page
var files embed.FS

// Handler serves the page, which talks to the GraphQL endpoint at the
// path endpoint (say "/graphql"), for GET "/" and its files for GET
// AssetsPath+name.
func Handler(endpoint string) (http.Handler, error) {
	page, err := renderPage(endpoint)
	if err != nil {
		return nil, err
	}
	assets, err := loadAssets()
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := page, r.URL.Path == "/"
		if !ok {
			name, isAsset := strings.CutPrefix(r.URL.Path, AssetsPath)
			a, ok = assets[name]
			ok = ok && isAsset
		}
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Type", a.contentType)
		// Revalidated every time; the ETag makes that a 304.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	}), nil
}

// asset is one file as served.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

func newAsset(name string, body []byte) asset {
	sum := sha256.Sum256(body)
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "text/plain; charset=utf-8"
	}
	return asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// renderPage fills the page's template with the endpoint.
func renderPage(endpoint string) (asset, error) {
	t, err := template.ParseFS(files, "page/index.html")
	if err != nil {
		return asset{}, err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, struct{ Endpoint string }{endpoint}); err != nil {
		return asset{}, err
	}
	return newAsset("index.html", b.Bytes()), nil
}

// loadAssets reads the pinned files and the page's own script and style.
func loadAssets() (map[string]asset, error) {
	out := map[string]asset{}
	for _, dir := range []string{"assets", "page"} {
		entries, err := fs.ReadDir(files, dir)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Name() == "index.html" || e.Name() == "PINS" {
				continue
			}
			b, err := fs.ReadFile(files, dir+"/"+e.Name())
			if err != nil {
				return nil, fmt.Errorf("playground: %w", err)
			}
			out[e.Name()] = newAsset(e.Name(), b)
		}
	}
	return out, nil
}
