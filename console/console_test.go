package console_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/console"
)

// TestEmbeddedSize: the console adds at most 1 MiB to the binary.
func TestEmbeddedSize(t *testing.T) {
	const limit = 1 << 20
	n := console.EmbeddedBytes()
	if n <= 0 || n > limit {
		t.Errorf("the embedded files total %d bytes, want 1 to %d", n, limit)
	}
	t.Logf("embedded: %d bytes", n)
}

// TestHeadersOnEveryResponse: every response, files, redirects and not
// found alike, carries the CSP and the other headers.
func TestHeadersOnEveryResponse(t *testing.T) {
	h := console.Handler("/console/")
	paths := []string{"/console/", "/console/index.html", "/console/js/", "/console/missing.js", "/console/../go.mod"}
	_ = fs.WalkDir(console.Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, "/console/"+p)
		}
		return err
	})
	if len(paths) < 10 {
		t.Fatalf("only %d paths to ask: the embedded files are missing", len(paths))
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
			want := map[string]string{"Content-Security-Policy": console.CSP, "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}
			for k, v := range want {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("status %d: %s %q, want %q", rec.Code, k, got, v)
				}
			}
			if p == "/console/js/" && rec.Code != http.StatusNotFound {
				t.Errorf("a directory answered %d, want 404 (no listings)", rec.Code)
			}
		})
	}
}

// TestCSPIsStrict: no inline script or style, nothing from elsewhere.
func TestCSPIsStrict(t *testing.T) {
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(console.CSP, bad) {
			t.Errorf("the CSP allows %q: %s", bad, console.CSP)
		}
	}
	for _, need := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(console.CSP, need) {
			t.Errorf("the CSP lacks %q: %s", need, console.CSP)
		}
	}
}

// TestNoInlineScript: index.html loads its one script module from a file,
// has no inline script, event-handler attribute or style, and no file loads
// anything from another origin.
func TestNoInlineScript(t *testing.T) {
	html, err := fs.ReadFile(console.Files(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	scripts := regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllStringSubmatch(string(html), -1)
	if len(scripts) != 1 {
		t.Fatalf("index.html has %d script elements, want 1", len(scripts))
	}
	if attrs, body := scripts[0][1], scripts[0][2]; !strings.Contains(attrs, `src="js/main.js"`) || !strings.Contains(attrs, `type="module"`) || strings.TrimSpace(body) != "" {
		t.Errorf("the script element is not an external module: <script%s>%s</script>", attrs, body)
	}
	for _, rx := range []string{`(?i)\son[a-z]+\s*=`, `(?i)\sstyle\s*=`, `(?i)<style\b`, `(?i)javascript:`} {
		if m := regexp.MustCompile(rx).FindString(string(html)); m != "" {
			t.Errorf("index.html has %q (inline code or style)", m)
		}
	}
	remote := regexp.MustCompile(`(?i)(from\s+["']|import\(\s*["']|src=["']|href=["']|url\(\s*["']?)(https?:)?//`)
	_ = fs.WalkDir(console.Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(console.Files(), p)
		if err != nil {
			return err
		}
		if m := remote.FindString(string(b)); m != "" {
			t.Errorf("%s loads from another origin: %q", p, m)
		}
		return nil
	})
}
