package service

import (
	"context"
	"errors"
	"fmt"
	"iter"

	"github.com/google/uuid"

	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// ImportLine is one relationship of an import stream, with its line number
// in the caller's input (for error messages).
type ImportLine struct {
	Line int
	Text string
}

// Describe turns an error into the transport's error body, and says whether
// it is an answer to the caller (false: a failure of the server, whose cause
// must not be shown).
type Describe func(error) (*wire.Error, bool)

// Import writes the relationships of lines in chunks of ImportBatchSize, each
// one raft command that touches its relationships (so a retried chunk changes
// nothing). Each chunk's idempotency key is derived from the request's, so
// retrying a whole import with the same key is safe. An error the sequence
// yields (the transport could not decode a line) stops the import at that
// line like a bad relationship does.
func (rs *Relationships) Import(ctx context.Context, c Caller, reason, idempotencyKey string, lines iter.Seq2[ImportLine, error], describe Describe) (wire.ImportResponse, error) {
	var meta Mutation
	if err := mutationMeta(c, &meta, reason, idempotencyKey); err != nil {
		return wire.ImportResponse{}, err
	}
	v, err := rs.reads.latestSchema(ctx)
	if err != nil {
		return wire.ImportResponse{}, err
	}
	defer v.snap.Close()
	s := rs
	var (
		chunk      []tuple.Relationship
		chunkLines []int // the body line of each relationship of chunk
		imported   int
		lastRev    = v.rev
		line       int
		chunkNo    int
		// chunkBytes approximates what the chunk adds to one store
		// transaction (forward and reverse key per relationship), so a chunk
		// of long relationships is cut before it could exceed the store's
		// transaction limit.
		chunkBytes int
	)
	// Chunks are written while the next is parsed, so parsing and validating
	// overlap with consensus and the store. Chunks always apply in order. A
	// writer that can submit without waiting (the leader's consensus node)
	// gets up to two chunks in flight, submitted from this goroutine one after
	// the other, so raft appends the next while the state machine applies the
	// previous. Any other writer gets one. imported counts the chunks before
	// the first failure; chunks after it that were already in flight are
	// waited for and counted in afterFailure.
	submitter, canSubmit := s.writer.(Submitter)
	inFlight := 1
	if canSubmit {
		inFlight = 2
	}
	var (
		queue        []*importChunk
		failed       error
		afterFailure int
	)
	settle := func(p *importChunk) {
		rev, err := p.wait()
		switch {
		case failed != nil:
			if err == nil {
				afterFailure += p.n
			}
		case err != nil:
			failed = err
			line = p.lastLine // report the line the failed chunk ended at
		default:
			imported += p.n
			lastRev = rev
		}
	}
	// wait settles chunks, oldest first, until at most keep are in flight.
	wait := func(keep int) error {
		for len(queue) > keep {
			p := queue[0]
			queue = queue[1:]
			settle(p)
		}
		return failed
	}
	flush := func() error {
		if len(chunk) == 0 {
			return nil
		}
		// The one duplicate rule of a write (tuple.CheckDistinct), with the
		// lines of the body named.
		if err := tuple.CheckDistinct(chunk); err != nil {
			var ue *tuple.UpdateError
			if errors.As(err, &ue) && ue.Duplicate() {
				line = chunkLines[ue.Index]
				return argErr("relationship", "%s repeats line %d of the same chunk", chunk[ue.Index].Key(), chunkLines[ue.Other])
			}
			return argErr("relationship", "%v", err)
		}
		if err := wait(inFlight - 1); err != nil {
			return err
		}
		m := meta
		m.Import = chunk
		m.IdempotencyKey = chunkKey(meta.IdempotencyKey, "import", chunkNo)
		p := &importChunk{n: len(chunk), lastLine: line}
		wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteTimeout)
		if canSubmit {
			w, err := submitter.Submit(wctx, m)
			if err != nil {
				// Nothing was proposed: settle the chunks before this one,
				// then fail here (unless one of them failed first).
				cancel()
				if werr := wait(0); werr != nil {
					return werr
				}
				failed, line = err, p.lastLine
				return err
			}
			p.wait = func() (uint64, error) {
				defer cancel()
				res, err := w()
				return res.Revision, err
			}
		} else {
			done := make(chan struct{})
			var res MutationResult
			var err error
			go func() {
				defer close(done)
				defer cancel()
				res, err = s.writer.Write(wctx, m)
			}()
			p.wait = func() (uint64, error) {
				<-done
				return res.Revision, err
			}
		}
		queue = append(queue, p)
		chunk, chunkNo, chunkBytes = nil, chunkNo+1, 0
		chunkLines = chunkLines[:0]
		return nil
	}
	partial := func(err error) error {
		// The chunks in flight settle first: imported counts them, and when
		// one failed, its error is the one to report (it came first).
		if werr := wait(0); werr != nil {
			err = writeError(werr)
		}
		body, answer := describe(err)
		if !answer {
			return err
		}
		d := map[string]any{"imported": imported, "line": line}
		if afterFailure > 0 {
			d["applied_after_failure"] = afterFailure
		}
		for k, x := range body.Details {
			d[k] = x
		}
		also := ""
		if afterFailure > 0 {
			also = fmt.Sprintf(", and %d of the chunk in flight after it", afterFailure)
		}
		return fail(err, d, "line %d: %s (the %d relationships before this chunk were imported%s; fix the line and import again from it, the retry is safe)", line, body.Message, imported, also)
	}
	for l, err := range lines {
		line = l.Line
		if err != nil {
			return wire.ImportResponse{}, partial(err)
		}
		r, err := parseRelationship(s.cfg, "relationship", l.Text)
		if err != nil {
			return wire.ImportResponse{}, partial(err)
		}
		if err := validateRelationship(s.cfg, v.schema, "relationship", r); err != nil {
			return wire.ImportResponse{}, partial(err)
		}
		chunk, chunkLines = append(chunk, r), append(chunkLines, line)
		chunkBytes += 2*len(l.Text) + 64
		if len(chunk) >= s.cfg.ImportBatchSize || chunkBytes >= importChunkBytes {
			if err := flush(); err != nil {
				return wire.ImportResponse{}, partial(writeError(err))
			}
		}
	}
	if err := flush(); err != nil {
		return wire.ImportResponse{}, partial(writeError(err))
	}
	if err := wait(0); err != nil {
		return wire.ImportResponse{}, partial(writeError(err))
	}
	return wire.ImportResponse{WrittenAt: s.reads.tokens.Encode(lastRev), Imported: imported}, nil
}

// importChunk is an import chunk being written.
type importChunk struct {
	n        int                    // relationships in the chunk
	lastLine int                    // the body line the chunk ended at
	wait     func() (uint64, error) // blocks until written: its revision or error
}

// importChunkBytes caps the approximate size of one import chunk (two keys
// per relationship; the change record adds about half again); the store's
// transaction limit (15% of its 32 MiB memtable, ~4.8 MB) is above it.
const importChunkBytes = 2 << 20

// chunkKey derives the idempotency key of chunk n of a request with key base
// ("" without one), so that retrying the request retries each chunk.
func chunkKey(base, what string, n int) string {
	if base == "" {
		return ""
	}
	if what == "import" {
		what = "chunk" // the key derivation of earlier versions, kept
	} else {
		what += "-chunk"
	}
	return uuid.NewSHA1(uuid.MustParse(base), fmt.Appendf(nil, "%s-%d", what, n)).String()
}
