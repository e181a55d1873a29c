package api

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/trellis-authz/trellis/consensus"
)

// failingWriter passes writes to the real writer except the failAt-th (1-based),
// which it refuses as a leaderless cluster would.
type failingWriter struct {
	next   service.Writer
	failAt int32
	calls  atomic.Int32
}

func (w *failingWriter) Write(ctx context.Context, m service.Mutation) (service.MutationResult, error) {
	if w.calls.Add(1) == w.failAt {
		return service.MutationResult{}, fail(service.ErrUnavailable, nil, "no leader (injected)")
	}
	return w.next.Write(ctx, m)
}

// importServer is an API over s's store and consensus with w as its writer,
// no authentication, and import chunks of batch relationships (0: default).
func importServer(t *testing.T, s *stack, w service.Writer, batch int) *Server {
	t.Helper()
	deps := s.deps
	deps.Writer = w
	cfg := s.config()
	if batch > 0 {
		cfg.ImportBatchSize = batch
	}
	cfg.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	srv, err := newTestServer(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// importFailingSecondChunk imports 35 relationships in chunks of 10 through
// srv, whose writer fails the second chunk, checks what every such answer
// says (503; the 10 relationships of the first chunk imported; the failed
// chunk ended at line 20) and returns the error's details.
func importFailingSecondChunk(t *testing.T, srv *Server) map[string]any {
	t.Helper()
	var body strings.Builder
	for i := range 35 {
		fmt.Fprintf(&body, "dataset:d%02d#reader@user:u%d\n", i, i)
	}
	r := doHandler(t, srv, http.MethodPost, "/v1/relationships/import?reason=seed", body.String())
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("import with a failing second chunk: got %d %s, want 503", r.status, r.body)
	}
	var e wire.ErrorResponse
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatal(err)
	}
	if got := e.Error.Details["imported"]; got != float64(10) {
		t.Errorf("imported: got %v, want 10 (the first chunk only)", got)
	}
	if got := e.Error.Details["line"]; got != float64(20) {
		t.Errorf("line: got %v, want 20 (where the failed chunk ended)", got)
	}
	return e.Error.Details
}

// TestImportChunkFailure: a writer that cannot submit without waiting gets
// one chunk at a time, written while the next is parsed; when one fails, the
// answer counts only the chunks before it, names the line it ended at, and no
// later chunk is written.
func TestImportChunkFailure(t *testing.T) {
	s := newStack(t)
	s.putSchema(testSchema)
	fw := &failingWriter{next: s.deps.Writer, failAt: 2}
	if _, ok := service.Writer(fw).(service.Submitter); ok {
		t.Fatal("the test writer must not be a Submitter")
	}
	details := importFailingSecondChunk(t, importServer(t, s, fw, 10))
	if _, ok := details["applied_after_failure"]; ok {
		t.Errorf("applied_after_failure %v with one chunk in flight", details["applied_after_failure"])
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
	srv := importServer(t, s, fw, 0)          // ImportBatchSize: the default
	const n = 3000
	long := strings.Repeat("x", 1000)
	var body strings.Builder
	for i := range n {
		fmt.Fprintf(&body, "dataset:%s%04d#reader@user:%s%04d\n", long, i, long, i)
	}
	r := doHandler(t, srv, http.MethodPost, "/v1/relationships/import?reason=long", body.String())
	var out wire.ImportResponse
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
	next      service.Submitter
	failAt    int32
	submitErr bool
	calls     atomic.Int32
}

func (w *failingSubmitter) Write(ctx context.Context, m service.Mutation) (service.MutationResult, error) {
	wait, err := w.Submit(ctx, m)
	if err != nil {
		return service.MutationResult{}, err
	}
	return wait()
}

func (w *failingSubmitter) Submit(ctx context.Context, m service.Mutation) (func() (service.MutationResult, error), error) {
	if w.calls.Add(1) == w.failAt {
		err := fail(service.ErrUnavailable, nil, "no leader (injected)")
		if w.submitErr {
			return nil, err
		}
		return func() (service.MutationResult, error) { return service.MutationResult{}, err }, nil
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
			real, ok := s.deps.Writer.(service.Submitter)
			if !ok {
				t.Fatal("the consensus writer does not submit without waiting")
			}
			fw := &failingSubmitter{next: real, failAt: 2, submitErr: tc.submitErr}
			details := importFailingSecondChunk(t, importServer(t, s, fw, 10))
			if got, ok := details["applied_after_failure"]; (tc.wantAfter == 0) == ok || (ok && got != tc.wantAfter) {
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
	srv := importServer(t, s, s.deps.Writer, 2) // many chunks, so several are in flight
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

// plainCommandWriter writes but cannot submit without waiting.
type plainCommandWriter struct{}

func (plainCommandWriter) Write(context.Context, consensus.Command) (consensus.WriteResult, error) {
	return consensus.WriteResult{Revision: 7}, nil
}

// TestConsensusWriterSubmitsOnlyWhenTheNodeCan: the adapter is a service.Submitter
// over a node that can submit, and a plain service.Writer otherwise, so import never
// picks two chunks in flight it cannot have.
func TestConsensusWriterSubmitsOnlyWhenTheNodeCan(t *testing.T) {
	if _, ok := service.ConsensusWriter(plainCommandWriter{}).(service.Submitter); ok {
		t.Error("ConsensusWriter over a node without Submit claims to submit")
	}
	if res, err := service.ConsensusWriter(plainCommandWriter{}).Write(context.Background(), service.Mutation{}); err != nil || res.Revision != 7 {
		t.Errorf("Write through the plain adapter: %+v, %v", res, err)
	}
	s := newStack(t)
	if _, ok := s.deps.Writer.(service.Submitter); !ok {
		t.Error("ConsensusWriter over consensus.Node is not a Submitter")
	}
}
