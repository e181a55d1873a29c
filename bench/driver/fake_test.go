package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trellis-authz/trellis/bench/workload"
)

// fakeServer answers /v1/check and /v1/lookup/resources from the expectations
// of a query file: a fake of the layer below the driver.
type fakeServer struct {
	t       *testing.T
	checks  map[string]string
	lookups map[string][]workload.LookupItem
	// wrongClass makes every answer of that class wrong on purpose.
	wrongClass string
	classOf    map[string]string
	// failEvery makes every n-th request answer 500.
	failEvery int64
	pageSize  int
	token     string
	block     bool // hang until the client gives up
	closing   chan struct{}

	requests atomic.Int64
	noops    atomic.Int64
	newConns atomic.Int64
	mu       sync.Mutex
	writes   []writeUpdate
}

func key(q workload.Query) string {
	p, _ := q.Context["purpose"].(string)
	return q.Resource + q.ResourceType + "|" + q.Permission + "|" + q.Subject + "|" + p
}

func newFake(t *testing.T, qs []workload.Query) *fakeServer {
	f := &fakeServer{t: t, checks: map[string]string{}, lookups: map[string][]workload.LookupItem{}, classOf: map[string]string{}, closing: make(chan struct{})}
	for _, q := range qs {
		f.classOf[key(q)] = q.Class
		if q.IsLookup() {
			f.lookups[key(q)] = q.ExpectResources
		} else {
			f.checks[key(q)] = q.Expect
		}
	}
	return f
}

func (f *fakeServer) start() *httptest.Server {
	srv := httptest.NewUnstartedServer(f)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.newConns.Add(1)
		}
	}
	srv.Start()
	f.t.Cleanup(srv.Close)
	f.t.Cleanup(func() { close(f.closing) }) // runs first: releases blocked handlers
	return srv
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	if f.block {
		_, _ = io.Copy(io.Discard, r.Body) // lets the server notice the client going away
		select {
		case <-r.Context().Done():
		case <-f.closing:
		}
		return
	}
	if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
		writeJSON(w, 401, map[string]any{"error": map[string]string{"code": "unauthenticated", "message": "no token"}})
		return
	}
	if f.failEvery > 0 && n%f.failEvery == 0 {
		w.WriteHeader(500)
		return
	}
	switch r.URL.Path {
	case "/healthz":
		f.noops.Add(1)
		writeJSON(w, 200, map[string]string{"status": "ok"})
	case "/v1/check":
		var b checkBody
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			writeJSON(w, 400, map[string]any{"error": map[string]string{"code": "invalid_argument"}})
			return
		}
		q := workload.Query{Resource: b.Resource, Permission: b.Permission, Subject: b.Subject, Context: b.Context}
		res, ok := f.checks[key(q)]
		if !ok {
			writeJSON(w, 404, map[string]any{"error": map[string]string{"code": "unknown_query"}})
			return
		}
		if f.classOf[key(q)] == f.wrongClass {
			res = map[string]string{"allowed": "denied", "denied": "allowed", "conditional": "allowed"}[res]
		}
		writeJSON(w, 200, map[string]string{"result": res, "checked_at": "t1.x"})
	case "/v1/lookup/resources":
		var b lookupBody
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			writeJSON(w, 400, map[string]any{"error": map[string]string{"code": "invalid_argument"}})
			return
		}
		q := workload.Query{ResourceType: b.ResourceType, Permission: b.Permission, Subject: b.Subject, Context: b.Context}
		items := f.lookups[key(q)]
		if f.classOf[key(q)] == f.wrongClass && len(items) > 0 {
			items = items[1:]
		}
		from := 0
		if b.Cursor != "" {
			from, _ = strconv.Atoi(b.Cursor)
		}
		limit := b.Limit
		if f.pageSize > 0 {
			limit = min(limit, f.pageSize)
		}
		to := min(from+limit, len(items))
		var out []map[string]string
		for _, it := range items[from:to] {
			out = append(out, map[string]string{"id": it.ID, "result": it.Result})
		}
		resp := map[string]any{"resources": out, "read_at": "t1.x"}
		if to < len(items) {
			resp["next_cursor"] = fmt.Sprint(to)
		}
		writeJSON(w, 200, resp)
	case "/v1/relationships/write":
		var b writeBody
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || len(b.Updates) != 1 {
			writeJSON(w, 400, map[string]any{"error": map[string]string{"code": "invalid_argument"}})
			return
		}
		f.mu.Lock()
		f.writes = append(f.writes, b.Updates[0])
		f.mu.Unlock()
		writeJSON(w, 200, map[string]string{"written_at": "t1.y"})
	default:
		writeJSON(w, 404, map[string]any{"error": map[string]string{"code": "not_found"}})
	}
}

// tinyWorkload generates the tiny preset in memory.
func tinyWorkload(t *testing.T) ([]workload.Query, []string) {
	t.Helper()
	cfg, err := workload.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	var qbuf, wbuf bytes.Buffer
	if _, err := workload.Generate(context.Background(), cfg, workload.Outputs{Queries: &qbuf, Writes: &wbuf}); err != nil {
		t.Fatal(err)
	}
	qs, err := ReadQueries(&qbuf)
	if err != nil {
		t.Fatal(err)
	}
	var pool []string
	for _, l := range bytes.Split(bytes.TrimSpace(wbuf.Bytes()), []byte("\n")) {
		pool = append(pool, string(l))
	}
	return qs, pool
}
