package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// failingWriter passes writes to the real writer except the failAt-th (1-based),
// which it refuses as a leaderless cluster would.
type failingWriter struct {
	next   Writer
	failAt int32
	calls  atomic.Int32
}

func (w *failingWriter) Write(ctx context.Context, m Mutation) (MutationResult, error) {
	if w.calls.Add(1) == w.failAt {
		return MutationResult{}, fail(ErrUnavailable, nil, "no leader (injected)")
	}
	return w.next.Write(ctx, m)
}

// TestImportChunkFailure: chunks are written one at a time while the next is
// parsed; when one fails, the answer counts only the chunks before it, names
// the line it ended at, and no later chunk is written.
func TestImportChunkFailure(t *testing.T) {
	s := newStack(t)
	s.putSchema(testSchema)
	fw := &failingWriter{next: s.deps.Writer, failAt: 2}
	deps := s.deps
	deps.Writer = fw
	cfg := s.config()
	cfg.ImportBatchSize = 10
	cfg.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	srv, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	for i := range 35 {
		fmt.Fprintf(&body, "dataset:d%02d#reader@user:u%d\n", i, i)
	}
	r := doHandler(t, srv, http.MethodPost, "/v1/relationships/import?reason=seed", body.String())
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("import with a failing second chunk: got %d %s, want 503", r.status, r.body)
	}
	var e ErrorResponse
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatal(err)
	}
	if got := e.Error.Details["imported"]; got != float64(10) {
		t.Errorf("imported: got %v, want 10 (the first chunk only)", got)
	}
	if got := e.Error.Details["line"]; got != float64(20) {
		t.Errorf("line: got %v, want 20 (where the failed chunk ended)", got)
	}
	if got := fw.calls.Load(); got != 2 {
		t.Errorf("writer called %d times, want 2: nothing after the failed chunk is written", got)
	}
	if held := string(s.export()); strings.Count(held, "\n") != 10 {
		t.Errorf("store holds:\n%s\nwant the 10 relationships of the first chunk", held)
	}
}
