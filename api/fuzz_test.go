package api

import (
	"bytes"
	"encoding/json"
	"github.com/trellis-authz/trellis/wire"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzRequestBodies sends arbitrary bodies to every JSON route (with fakes
// beneath): no input may produce a 500, and every error must be in the error
// model.
func FuzzRequestBodies(f *testing.F) {
	cfg := DefaultConfig()
	cfg.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	cfg.Logger = testLogger()
	srv, err := newTestServer(cfg, testDeps{Engine: &fakeEngine{}, Revisions: &fakeRevisions{applied: 1}, Snapshots: fakeSnapshots{schema: testSchema}, Writer: fakeWriter{}})
	if err != nil {
		f.Fatal(err)
	}
	var routes []Route
	for _, r := range srv.Routes() {
		if r.Request != nil {
			routes = append(routes, r)
			js, _ := json.Marshal(r.Example)
			f.Add(uint8(len(routes)-1), js)
		}
	}
	f.Add(uint8(0), []byte(`{"resource":"dataset:claims","permission":"read","subject":"user:ana","context":{"a":[1,2,{"b":null}]},"consistency":{"at_exact_snapshot":"t1.AQ"}}`))
	f.Add(uint8(6), []byte(`{"updates":[{"op":"create","relationship":"dataset:x#reader@user:y[purpose_is:{\"allowed\":[1]}][expiration:2030-01-01T00:00:00Z]"}]}`))
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		r := routes[int(which)%len(routes)]
		req := httptest.NewRequest(r.Method, r.Path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s with %q: got %d %s", r.Method, r.Path, body, w.Code, w.Body)
		}
		if w.Code != http.StatusOK {
			var e wire.ErrorResponse
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%s %s with %q: error body %s is not in the error model", r.Method, r.Path, body, w.Body)
			}
		}
	})
}
