package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/storage"
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

// LastEventIDHeader is the header an SSE client resumes with.
const LastEventIDHeader = "Last-Event-ID"

// WatchHeartbeat is how often an idle watch stream gets an SSE comment, so
// proxies keep it open and a vanished client is noticed.
const WatchHeartbeat = 15 * time.Second

// WatchEvent is the data of one "change" event: the changes of one revision
// (only those whose resource type was asked for). The SSE id of the event
// is Token.
type WatchEvent struct {
	Revision uint64        `json:"revision"`
	Token    string        `json:"token"`
	Time     time.Time     `json:"time,omitzero"`
	Changes  []WatchChange `json:"changes"`
}

// WatchChange is one relationship written (op "touch") or deleted (op
// "delete"), in canonical string form.
type WatchChange struct {
	Op           string `json:"op"`
	Relationship string `json:"relationship"`
}

// WatchError is the data of an "error" event, sent when a stream that has
// already started cannot go on (for example the change feed was trimmed past
// a slow consumer). Its code is one of the API error codes.
type WatchError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// RegisterWatch adds GET /v1/watch to s, streaming feed's changes.
func RegisterWatch(s *Server, feed ChangeFeed) {
	w := watcher{s: s, feed: feed}
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/watch",
		Summary:   "Stream relationship changes as server-sent events, resumable from any token in the change-feed window",
		Role:      RoleReader,
		StreamOut: "text/event-stream",
		NoTimeout: true,
		Query: []QueryParam{
			{"since", "a token (written_at, read_at or an event id): stream the revisions after it; default: from now. The Last-Event-ID header, when set, takes precedence"},
			{"types", "comma-separated resource types to include (default: all)"},
		},
		QueryExample: "types=dataset,team",
		Handler:      w.handle})
}

type watcher struct {
	s    *Server
	feed ChangeFeed
}

func (w watcher) handle(c echo.Context) error {
	since, from := c.Request().Header.Get(LastEventIDHeader), "Last-Event-ID"
	if since == "" {
		since, from = c.QueryParam("since"), "since"
	}
	var next uint64
	if since == "" {
		next = w.feed.AppliedRevision() + 1
	} else {
		rev, err := w.s.tokens.Decode(since)
		if err != nil {
			var re *requestError
			if errors.As(err, &re) {
				re.msg = from + ": " + re.msg
			}
			return err
		}
		next = rev + 1
	}
	var types map[string]bool
	if t := c.QueryParam("types"); t != "" {
		types = map[string]bool{}
		for _, name := range strings.Split(t, ",") {
			if name = strings.TrimSpace(name); name != "" {
				types[name] = true
			}
		}
	}

	ctx := c.Request().Context()
	resp := c.Response()
	started := false
	start := func() {
		if started {
			return
		}
		started = true
		h := resp.Header()
		h.Set(echo.HeaderContentType, "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		resp.WriteHeader(http.StatusOK)
		resp.Flush()
	}
	emit := func(rev uint64, changes []storage.Change, meta []byte) error {
		ev := WatchEvent{Revision: rev, Token: w.s.tokens.Encode(rev), Changes: []WatchChange{}}
		for _, ch := range changes {
			if types != nil && !types[ch.Relationship.Resource.Type] {
				continue
			}
			ev.Changes = append(ev.Changes, WatchChange{Op: ch.Op.String(), Relationship: ch.Relationship.String()})
		}
		if len(ev.Changes) == 0 {
			return nil
		}
		var m struct {
			Time time.Time `json:"time"`
		}
		_ = json.Unmarshal(meta, &m) // the time is informative; a batch without meta has none
		ev.Time = m.Time.UTC()
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		start()
		_, err = fmt.Fprintf(resp, "id: %s\nevent: change\ndata: %s\n\n", ev.Token, data)
		return err
	}
	streamError := func(err error) error {
		if !started {
			if isSnapshotExpired(err) {
				return fail(ErrSnapshotExpired, map[string]any{"since": since},
					"%s: %v; read a fresh snapshot (export) and watch from its read_at token", from, err)
			}
			return err
		}
		if ctx.Err() != nil {
			return nil // the client went away
		}
		_, body := httpError(err)
		data, _ := json.Marshal(WatchError{Code: body.Code, Message: body.Message})
		fmt.Fprintf(resp, "event: error\ndata: %s\n\n", data)
		resp.Flush()
		return nil
	}

	for {
		if cur := w.feed.AppliedRevision(); next <= cur {
			err := w.feed.Changes(ctx, next, func(rev uint64, changes []storage.Change, meta []byte) error {
				if err := emit(rev, changes, meta); err != nil {
					return err
				}
				next = rev + 1
				return nil
			})
			if err != nil {
				return streamError(err)
			}
			next = max(next, cur+1)
		}
		start()
		resp.Flush()
		wctx, cancel := context.WithTimeout(ctx, WatchHeartbeat)
		err := w.feed.WaitApplied(wctx, next)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			if _, err := fmt.Fprint(resp, ": heartbeat\n\n"); err != nil {
				return nil
			}
		case err != nil:
			return streamError(err)
		}
	}
}
