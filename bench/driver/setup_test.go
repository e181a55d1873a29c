package driver

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/bench/workload"
	"github.com/trellis-authz/trellis/tuple"
)

func TestSetup(t *testing.T) {
	for _, format := range []string{workload.FormatNDJSON, workload.FormatText} {
		t.Run(format, func(t *testing.T) {
			cfg, _ := workload.Preset("tiny")
			cfg.Format = format
			dir := t.TempDir()
			s, err := workload.GenerateDir(context.Background(), cfg, dir)
			if err != nil {
				t.Fatal(err)
			}
			var schema string
			imported := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer tok" {
					w.WriteHeader(401)
					return
				}
				switch {
				case r.Method == http.MethodPut && r.URL.Path == "/v1/schema":
					var b struct{ Schema string }
					if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
						w.WriteHeader(400)
						return
					}
					schema = b.Schema
					w.Write([]byte(`{"written_at":"t1.a"}`))
				case r.Method == http.MethodPost && r.URL.Path == "/v1/relationships/import":
					sc := bufio.NewScanner(r.Body)
					for sc.Scan() {
						var l struct {
							Relationship string `json:"relationship"`
						}
						if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
							w.WriteHeader(400)
							return
						}
						if _, err := tuple.Parse(l.Relationship); err != nil {
							w.WriteHeader(400)
							return
						}
						imported++
					}
					json.NewEncoder(w).Encode(map[string]any{"written_at": "t1.b", "imported": imported})
				default:
					w.WriteHeader(404)
				}
			}))
			defer srv.Close()
			res, err := Setup(context.Background(), srv.URL, "tok", dir)
			if err != nil {
				t.Fatal(err)
			}
			if schema != workload.SchemaText {
				t.Errorf("schema sent differs from the generated one (%d vs %d bytes)", len(schema), len(workload.SchemaText))
			}
			if int64(res.Imported) != s.Relationships || int64(imported) != s.Relationships {
				t.Errorf("imported %d (server counted %d), want %d", res.Imported, imported, s.Relationships)
			}
			if _, err := Setup(context.Background(), srv.URL, "wrong", dir); err == nil || !strings.Contains(err.Error(), "401") {
				t.Errorf("wrong token: got %v, want a 401 error", err)
			}
		})
	}
}
