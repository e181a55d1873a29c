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

// TestImportLongRelationshipsChunkedByBytes: relationships with long IDs
// are cut into chunks by size before the count limit, so each chunk fits one
// store transaction, and all of them are imported.
func TestImportLongRelationshipsChunkedByBytes(t *testing.T) {
	s := newStack(t)
	s.putSchema(testSchema)
	fw := &failingWriter{next: s.deps.Writer} // never fails; counts chunks
	deps := s.deps
	deps.Writer = fw
	cfg := s.config()
	cfg.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	srv, err := New(cfg, deps) // ImportBatchSize: the default
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	long := strings.Repeat("x", 1000)
	var body strings.Builder
	for i := range n {
		fmt.Fprintf(&body, "dataset:%s%04d#reader@user:%s%04d\n", long, i, long, i)
	}
	r := doHandler(t, srv, http.MethodPost, "/v1/relationships/import?reason=long", body.String())
	var out ImportResponse
	if r.status != http.StatusOK || json.Unmarshal(r.body, &out) != nil || out.Imported != n {
		t.Fatalf("import of %d long relationships: got %d %s", n, r.status, r.body)
	}
	// ~2 KiB of keys per relationship: the 2 MiB cap cuts a chunk at about
	// 1,000 of them, well before the 5,000 count limit.
	if calls := fw.calls.Load(); calls < 3 {
		t.Errorf("%d relationships of ~2 KiB went in %d chunks; want them cut by size (at least 3)", n, calls)
	}
	if got := strings.Count(string(s.export()), "\n"); got != n {
		t.Errorf("store holds %d relationships, want %d", got, n)
	}
}

// failingSubmitter passes submissions to the real writer except the
// failAt-th (1-based): with submitErr it refuses to submit it, otherwise it
// takes it and its wait fails (as a chunk whose outcome went wrong would).
type failingSubmitter struct {
	next      Submitter
	failAt    int32
	submitErr bool
	calls     atomic.Int32
}

func (w *failingSubmitter) Write(ctx context.Context, m Mutation) (MutationResult, error) {
	wait, err := w.Submit(ctx, m)
	if err != nil {
		return MutationResult{}, err
	}
	return wait()
}

func (w *failingSubmitter) Submit(ctx context.Context, m Mutation) (func() (MutationResult, error), error) {
	if w.calls.Add(1) == w.failAt {
		err := fail(ErrUnavailable, nil, "no leader (injected)")
		if w.submitErr {
			return nil, err
		}
		return func() (MutationResult, error) { return MutationResult{}, err }, nil
	}
	return w.next.Submit(ctx, m)
}

// TestImportTwoChunksInFlight: with a writer that submits without waiting,
// two chunks are in flight; when the second fails, the third was already
// submitted and is applied (and reported); when the second cannot even be
// submitted, nothing after it is.
func TestImportTwoChunksInFlight(t *testing.T) {
	for _, tc := range []struct {
		name        string
		submitErr   bool
		wantCalls   int32
		wantAfter   float64
		wantInStore int
	}{
		{"second chunk fails after submission", false, 3, 10, 20},
		{"second chunk cannot be submitted", true, 2, 0, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStack(t)
			s.putSchema(testSchema)
			real, ok := s.deps.Writer.(Submitter)
			if !ok {
				t.Fatal("the consensus writer does not submit without waiting")
			}
			fw := &failingSubmitter{next: real, failAt: 2, submitErr: tc.submitErr}
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
				t.Fatalf("got %d %s, want 503", r.status, r.body)
			}
			var e ErrorResponse
			if err := json.Unmarshal(r.body, &e); err != nil {
				t.Fatal(err)
			}
			if got := e.Error.Details["imported"]; got != float64(10) {
				t.Errorf("imported: got %v, want 10 (the first chunk)", got)
			}
			if got := e.Error.Details["line"]; got != float64(20) {
				t.Errorf("line: got %v, want 20 (where the failed chunk ended)", got)
			}
			if got, ok := e.Error.Details["applied_after_failure"]; (tc.wantAfter == 0) == ok || (ok && got != tc.wantAfter) {
				t.Errorf("applied_after_failure: got %v (present %v), want %v", got, ok, tc.wantAfter)
			}
			if got := fw.calls.Load(); got != tc.wantCalls {
				t.Errorf("submitted %d chunks, want %d", got, tc.wantCalls)
			}
			if held := string(s.export()); strings.Count(held, "\n") != tc.wantInStore {
				t.Errorf("store holds:\n%s\nwant %d relationships", held, tc.wantInStore)
			}
		})
	}
}

// TestImportKeepsLineOrder: with chunks in flight together, a relationship
// written again later in the body ends with its last line's caveat context,
// as if the body were applied line by line.
func TestImportKeepsLineOrder(t *testing.T) {
	s := newStack(t)
	s.putSchema(testSchema)
	cfg := s.config()
	cfg.ImportBatchSize = 2 // many chunks, so several are in flight
	cfg.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	srv, err := New(cfg, s.deps)
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	const rounds = 40
	for i := range rounds {
		fmt.Fprintf(&body, "dataset:claims#reader@user:eve[purpose_is:{\"allowed\":[\"p%d\"]}]\n", i)
		fmt.Fprintf(&body, "dataset:other%d#reader@user:ana\n", i)
	}
	r := doHandler(t, srv, http.MethodPost, "/v1/relationships/import?reason=order", body.String())
	if r.status != http.StatusOK {
		t.Fatalf("import: got %d %s", r.status, r.body)
	}
	want := fmt.Sprintf(`[\"p%d\"]`, rounds-1)
	if got := string(s.export()); !strings.Contains(got, `user:eve[purpose_is:{\"allowed\":`+want) {
		t.Errorf("eve's grant after the import:\n%s\nwant the last line's context %s", got, want)
	}
}
