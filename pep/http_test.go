package pep

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/trace"

	"github.com/trellis-authz/trellis/pep/internal/peptest"
	"github.com/trellis-authz/trellis/wire"
)

// datasetService is a service guarded by the middleware: GET
// /datasets/{id}?purpose=P as the user named in X-User needs read on
// dataset:{id}, with the purpose as caveat context.
func datasetService(c *Client) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /datasets/{id}", func(w http.ResponseWriter, r *http.Request) {
		d, ok := DecisionFrom(r.Context())
		if !ok || !d.Allowed {
			http.Error(w, "handler reached without an allow", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "rows of "+r.PathValue("id"))
	})
	return Middleware(c, func(r *http.Request) (Question, error) {
		user := r.Header.Get("X-User")
		if user == "" {
			return Question{}, errors.New("no X-User header")
		}
		q := Question{Resource: "dataset:" + strings.TrimPrefix(r.URL.Path, "/datasets/"), Permission: "read", Subject: "user:" + user}
		if p := r.URL.Query().Get("purpose"); p != "" {
			q.Context = map[string]any{"purpose": p}
		}
		return q, nil
	})(mux)
}

func get(t *testing.T, url, user string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if user != "" {
		req.Header.Set("X-User", user)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestMiddleware(t *testing.T) {
	tn := startNode(t, testSchema)
	tn.Write(t, touch("dataset:claims#reader@user:ana"), touch("dataset:claims#reader@user:cat[purpose_is]"))
	c := newClient(t, testConfig(tn.URL, tn.Reader))
	svc := httptest.NewServer(datasetService(c))
	t.Cleanup(svc.Close)

	for _, tc := range []struct {
		name, path, user string
		status           int
		code             string
		missing          []string
	}{
		{"allowed", "/datasets/claims", "ana", 200, "", nil},
		{"denied", "/datasets/claims", "bob", 403, CodeDenied, nil},
		{"conditional", "/datasets/claims", "cat", 403, CodeMissingContext, []string{"purpose"}},
		{"caveat holds", "/datasets/claims?purpose=fraud", "cat", 200, "", nil},
		{"caveat fails", "/datasets/claims?purpose=ads", "cat", 403, CodeDenied, nil},
		{"mapping fails", "/datasets/claims", "", 403, CodeFailed, nil},
		{"invalid question", "/datasets/has%20space", "ana", 403, CodeFailed, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := get(t, svc.URL+tc.path, tc.user)
			if status != tc.status {
				t.Fatalf("status %d (%s), want %d", status, body, tc.status)
			}
			if status == 200 {
				if body != "rows of claims" {
					t.Fatalf("body %q", body)
				}
				return
			}
			id := h.Get(DecisionIDHeader)
			if !uuidRE.MatchString(id) {
				t.Fatalf("%s = %q, want a UUID", DecisionIDHeader, id)
			}
			var er wire.ErrorResponse
			if err := json.Unmarshal([]byte(body), &er); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if er.Error.Code != tc.code || er.Error.Details["decision_id"] != id {
				t.Fatalf("error %+v, want code %s and decision_id %s", er.Error, tc.code, id)
			}
			if tc.missing != nil {
				if got, _ := json.Marshal(er.Error.Details["missing_context"]); string(got) != `["purpose"]` || !strings.Contains(er.Error.Message, "purpose") {
					t.Fatalf("missing_context %s, message %q; want [purpose] named", got, er.Error.Message)
				}
			}
		})
	}

	// Trellis gone: the middleware fails closed.
	tn.Kill()
	waitFor(t, "the cache to stop answering", func() bool { return !c.Live() })
	status, h, body := get(t, svc.URL+"/datasets/claims", "ana")
	if status != 403 || !strings.Contains(body, CodeFailed) || h.Get(DecisionIDHeader) == "" {
		t.Fatalf("Trellis down: %d %s, want 403 %s with a decision id", status, body, CodeFailed)
	}
}

// TestTraceparentAndMetrics: the trace of the incoming request reaches
// Trellis in the traceparent header of the check, and the registry the
// caller passed counts decisions, hits, misses and evictions.
func TestTraceparentAndMetrics(t *testing.T) {
	tn := startNode(t, testSchema)
	tn.Write(t, touch("dataset:claims#reader@user:ana"))
	var mu sync.Mutex
	var parents []string
	front := httptest.NewServer(peptest.RecordingProxy(t, tn.URL, func(r *http.Request) {
		if r.URL.Path == "/v1/check" {
			mu.Lock()
			parents = append(parents, r.Header.Get("Traceparent"))
			mu.Unlock()
		}
	}))
	t.Cleanup(front.Close)
	cfg := testConfig(front.URL, tn.Reader)
	reg := cfg.Registerer.(*prometheus.Registry)
	c := newClient(t, cfg)

	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled, Remote: true}))
	q := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}
	if d := decide(t, c, ctx, q); !d.Allowed {
		t.Fatalf("%+v, want allowed", d)
	}
	mu.Lock()
	got := parents[0]
	mu.Unlock()
	if !strings.HasPrefix(got, "00-4bf92f3577b34da6a3ce929d0e0e4736-") || !strings.HasSuffix(got, "-01") {
		t.Fatalf("traceparent sent to Trellis = %q, want the incoming trace 4bf92f35..., sampled", got)
	}

	warm(t, c, q)
	tn.Write(t, del("dataset:claims#reader@user:ana"))
	waitFor(t, "the revoke", func() bool { return !decide(t, c, ctx, q).Allowed })

	values := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			name := mf.GetName()
			for _, l := range m.Label {
				name += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			values[name] = metricValue(m)
		}
	}
	for _, name := range []string{
		"trellis_pep_decisions_total{result=allowed}", "trellis_pep_decisions_total{result=denied}",
		"trellis_pep_cache_hits_total", "trellis_pep_cache_misses_total{reason=absent}",
		"trellis_pep_cache_evictions_total{reason=watch}", "trellis_pep_watch_connected",
		"trellis_pep_decision_duration_seconds{source=cache}", "trellis_pep_decision_duration_seconds{source=trellis}",
	} {
		if values[name] < 1 {
			t.Errorf("%s = %v, want at least 1 (all: %v)", name, values[name], values)
		}
	}
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}
