package pepecho

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/pep"
	"github.com/trellis-authz/trellis/pep/internal/peptest"
	"github.com/trellis-authz/trellis/wire"
)

func TestEchoMiddleware(t *testing.T) {
	tn := peptest.Start(t, peptest.ReadSchema)
	tn.Write(t, peptest.Touch("dataset:claims#reader@user:ana"))
	cfg := pep.DefaultConfig(tn.URL, tn.Reader)
	cfg.Log = peptest.QuietLog()
	c, err := pep.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	e := echo.New()
	e.Use(Middleware(c, func(ec echo.Context) (pep.Question, error) {
		user := ec.Request().Header.Get("X-User")
		if user == "" {
			return pep.Question{}, errors.New("no user")
		}
		return pep.Question{Resource: "dataset:" + ec.Param("id"), Permission: "read", Subject: "user:" + user}, nil
	}))
	e.GET("/datasets/:id", func(ec echo.Context) error {
		d, ok := pep.DecisionFrom(ec.Request().Context())
		if !ok || !d.Allowed {
			return ec.String(http.StatusInternalServerError, "reached without an allow")
		}
		return ec.String(http.StatusOK, "rows")
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)

	call := func(user string) (int, string, wire.ErrorResponse) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/datasets/claims", nil)
		if user != "" {
			req.Header.Set("X-User", user)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var er wire.ErrorResponse
		if resp.StatusCode != http.StatusOK {
			if err := json.Unmarshal(b, &er); err != nil {
				t.Fatalf("%d %s: %v", resp.StatusCode, b, err)
			}
		}
		return resp.StatusCode, resp.Header.Get(pep.DecisionIDHeader), er
	}
	if status, _, _ := call("ana"); status != http.StatusOK {
		t.Fatalf("ana: %d, want 200", status)
	}
	for _, tc := range []struct{ user, code string }{{"bob", pep.CodeDenied}, {"", pep.CodeFailed}} {
		status, id, er := call(tc.user)
		if status != http.StatusForbidden || id == "" || er.Error.Code != tc.code || er.Error.Details["decision_id"] != id {
			t.Fatalf("user %q: %d, id %q, %+v; want 403 %s with the decision id", tc.user, status, id, er.Error, tc.code)
		}
	}
	tn.Kill()
	peptest.WaitFor(t, "the cache to stop answering", func() bool { return !c.Live() })
	if status, _, er := call("ana"); status != http.StatusForbidden || er.Error.Code != pep.CodeFailed {
		t.Fatalf("Trellis down: %d %+v, want 403 %s", status, er.Error, pep.CodeFailed)
	}
}
