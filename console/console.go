package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var embedded embed.FS

// CSP is the Content-Security-Policy of every console response: scripts,
// styles, images and connections from this origin only, no inline script or
// style (no 'unsafe-inline' anywhere), no plugins, no framing, no form posts.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Files returns the console's files (index.html at the root).
func Files() fs.FS {
	sub, err := fs.Sub(embedded, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// Handler serves the console's files under prefix (e.g. "/console/"), with
// CSP and headers that keep the page from being sniffed, framed or cached
// stale, and without directory listings.
func Handler(prefix string) http.Handler {
	files := http.StripPrefix(prefix, http.FileServerFS(Files()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-cache")
		if p := strings.TrimPrefix(r.URL.Path, prefix); p != "" && strings.HasSuffix(p, "/") {
			http.NotFound(w, r) // no listings of the js/ directory
			return
		}
		files.ServeHTTP(w, r)
	})
}

// EmbeddedBytes is the total size of the embedded files, which is what the
// console adds to the binary (plus a few kilobytes of code and file table).
func EmbeddedBytes() int64 {
	var n int64
	_ = fs.WalkDir(Files(), ".", func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	return n
}
