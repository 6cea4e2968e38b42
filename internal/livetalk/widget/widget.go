// Package widget serves the LiveTalk widget: the one script a business's
// site loads (<script src=".../livetalk/widget.js" data-key="...">), which
// draws the start button, the greeting popup and the chat window and talks
// to the visitor API (graph/visitor) only.
package widget

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

//go:embed widget.js
var script []byte

// Path is where the widget is served; Channel.integrationSnippet points
// there.
const Path = "/livetalk/widget.js"

// maxAge is how long browsers keep the script without asking again. The
// snippet's URL never changes, so a new release reaches pages within it;
// after it a browser revalidates with the ETag and usually gets a 304.
const maxAge = "public, max-age=3600"

var etag = func() string {
	sum := sha256.Sum256(script)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}()

// Handler serves the script to any page: a <script> tag sends no Origin
// to check, and the script holds nothing of any organization (the visitor
// API checks the page's origin against the channel's).
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("Cache-Control", maxAge)
		h.Set("ETag", etag)
		h.Set("X-Content-Type-Options", "nosniff")
		// Pages that isolate themselves (Cross-Origin-Embedder-Policy)
		// may still load it.
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
		http.ServeContent(w, r, "widget.js", time.Time{}, bytes.NewReader(script))
	})
}
