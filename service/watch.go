package service

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// ChangeFeed is what Watch reads: the store's change feed and its applied
// revision. *storage.Store satisfies it.
//
// Watch waits on the store's applied revision rather than the raft node's
// applied index: the store's only advances when a revision reaches the
// store, so every wake-up has something to read (the raft index also moves
// for membership entries and rejected commands, which would wake a watcher
// for nothing).
type ChangeFeed interface {
	Changes(ctx context.Context, from uint64, fn func(rev uint64, changes []storage.Change, meta []byte) error) error
	AppliedRevision() uint64
	WaitApplied(ctx context.Context, rev uint64) error
}

var _ ChangeFeed = (*storage.Store)(nil)

// Watch streams relationship changes.
type Watch struct {
	feed   ChangeFeed
	reads  *Reads
	tokens Tokens
}

// NewWatch returns the watch service over a change feed; reads checks resume
// tokens and type names.
func NewWatch(feed ChangeFeed, reads *Reads) *Watch {
	return &Watch{feed: feed, reads: reads, tokens: reads.Tokens()}
}

// WatchRequest says where a stream starts and what it shows.
type WatchRequest struct {
	// Since is a token: stream the revisions after it ("": from now). From
	// names where it came from for error messages ("since", "Last-Event-ID").
	Since, From string
	// Types lists the resource types to include, comma-separated ("": all).
	Types string
	// Heartbeat is how long an idle stream waits before Idle is called.
	Heartbeat time.Duration
}

// WatchSink is where a stream goes: Event for each revision's changes, Flush
// when the stream has caught up and is about to wait, Heartbeat after a
// heartbeat interval without a change.
type WatchSink struct {
	Event     func(wire.WatchEvent) error
	Flush     func() error
	Heartbeat func() error
}

// Stream sends the changes of every revision after req.Since to the sink,
// one event per revision with at least one change of the requested types,
// and then waits for new ones. It returns nil when ctx ends, and the first
// error of the sink. An error before the first event is an answer for the
// caller (bad token, a token older than the feed keeps); after it, the
// transport reports it inside the stream.
func (w *Watch) Stream(ctx context.Context, req WatchRequest, sink WatchSink) error {
	var next uint64
	if req.Since == "" {
		next = w.feed.AppliedRevision() + 1
	} else {
		rev, err := w.tokens.Decode(req.Since)
		if err != nil {
			var se *Error
			if errors.As(err, &se) {
				se.Message = req.From + ": " + se.Message
			}
			return err
		}
		// A resume point the cluster never committed would wait forever.
		if rev > w.feed.AppliedRevision() {
			if err := w.reads.committed(ctx, rev); err != nil {
				return err
			}
		}
		next = rev + 1
	}
	types, err := w.types(ctx, req.Types)
	if err != nil {
		return err
	}
	send := func(rev uint64, changes []storage.Change, meta []byte) error {
		ev := wire.WatchEvent{Revision: rev, Token: w.tokens.Encode(rev), Changes: []wire.WatchChange{}}
		for _, ch := range changes {
			if types != nil && !types[ch.Relationship.Resource.Type] {
				continue
			}
			ev.Changes = append(ev.Changes, wire.WatchChange{Op: ch.Op.String(), Relationship: ch.Relationship.String()})
		}
		var m struct {
			Time       time.Time `json:"time"`
			Suspension string    `json:"suspension"`
		}
		_ = json.Unmarshal(meta, &m) // the time is informative; a batch without meta has none
		ev.Time, ev.Suspension = m.Time.UTC(), m.Suspension
		if len(ev.Changes) == 0 && ev.Suspension == "" {
			return nil
		}
		return sink.Event(ev)
	}
	for {
		if cur := w.feed.AppliedRevision(); next <= cur {
			err := w.feed.Changes(ctx, next, func(rev uint64, changes []storage.Change, meta []byte) error {
				if err := send(rev, changes, meta); err != nil {
					return err
				}
				next = rev + 1
				return nil
			})
			if err != nil {
				if isSnapshotExpired(err) {
					return fail(ErrSnapshotExpired, map[string]any{"since": req.Since},
						"%s: %v; read a fresh snapshot (export) and watch from its read_at token", req.From, err)
				}
				return err
			}
			next = max(next, cur+1)
		}
		if err := sink.Flush(); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, req.Heartbeat)
		err := w.feed.WaitApplied(wctx, next)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			if err := sink.Heartbeat(); err != nil {
				return nil // the client went away
			}
		case err != nil:
			return err
		}
	}
}

// types parses the comma-separated type filter and checks each name against
// the schema in force (nil: all types).
func (w *Watch) types(ctx context.Context, list string) (map[string]bool, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	v, err := w.reads.latest(ctx)
	if err != nil {
		return nil, err
	}
	defer v.snap.Close()
	types := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if err := tuple.ValidateTypeName(name); err != nil {
			return nil, argErr("types", "types: %q: %v", name, err)
		}
		if _, err := schemaType(v.schema, "types", name); err != nil {
			return nil, err
		}
		types[name] = true
	}
	return types, nil
}
