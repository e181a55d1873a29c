package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sseStream reads server-sent events from a live HTTP response.
type sseStream struct {
	resp *http.Response
	sc   *bufio.Scanner
}

type sseEvent struct {
	id, event, data string
}

func openWatch(t *testing.T, s *stack, query, lastEventID string) (*sseStream, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.http.URL+"/v1/watch"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.tokens[RoleReader])
	if lastEventID != "" {
		req.Header.Set(LastEventIDHeader, lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &sseStream{resp: resp, sc: bufio.NewScanner(resp.Body)}, resp
}

// next returns the next event (comments skipped).
func (w *sseStream) next(t *testing.T) sseEvent {
	t.Helper()
	var ev sseEvent
	for w.sc.Scan() {
		line := w.sc.Text()
		switch {
		case line == "" && ev.data != "":
			return ev
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
	t.Fatalf("stream ended: %v", w.sc.Err())
	return ev
}

func (w *sseStream) nextChange(t *testing.T) wire.WatchEvent {
	t.Helper()
	ev := w.next(t)
	if ev.event != "change" {
		t.Fatalf("got event %q (%s), want change", ev.event, ev.data)
	}
	var we wire.WatchEvent
	if err := json.Unmarshal([]byte(ev.data), &we); err != nil {
		t.Fatalf("event data %q: %v", ev.data, err)
	}
	if we.Token != ev.id {
		t.Fatalf("event id %q differs from its token %q", ev.id, we.Token)
	}
	return we
}

// TestWatchResumeNoGapNoDuplicate: a consumer reads part of the stream,
// drops the connection while more is written, resumes with Last-Event-ID and
// sees every relationship exactly once, in revision order.
func TestWatchResumeNoGapNoDuplicate(t *testing.T) {
	s := newAuditStack(t)
	start := s.putSchema(testSchema)
	const batches, perBatch = 10, 3
	written := []string{}
	writeBatch := func(b int) {
		var ups []wire.Update
		for j := range perBatch {
			rel := fmt.Sprintf("dataset:b%d#reader@user:u%d", b, j)
			ups = append(ups, touch(rel))
			written = append(written, "touch "+rel)
		}
		s.write(ups...)
	}
	for b := range batches / 2 {
		writeBatch(b)
	}
	// Another type, filtered out below.
	s.write(touch("team:t#member@user:x"))

	w, resp := openWatch(t, s.stack, "?types=dataset&since="+start, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("got status %d content type %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var seen []string
	var lastRev uint64
	record := func(ev wire.WatchEvent) {
		if ev.Revision <= lastRev {
			t.Fatalf("revision %d after %d: out of order or repeated", ev.Revision, lastRev)
		}
		lastRev = ev.Revision
		for _, c := range ev.Changes {
			seen = append(seen, c.Op+" "+c.Relationship)
		}
	}
	var last string
	for range 3 {
		ev := w.nextChange(t)
		record(ev)
		last = ev.Token
	}
	resp.Body.Close() // the consumer drops off

	for b := batches / 2; b < batches; b++ {
		writeBatch(b)
	}
	// Resume with Last-Event-ID (which overrides a stale since).
	w2, resp2 := openWatch(t, s.stack, "?types=dataset&since="+start, last)
	if resp2.StatusCode != http.StatusOK {
		t.Fatalf("resume: got status %d, want 200", resp2.StatusCode)
	}
	for len(seen) < len(written) {
		record(w2.nextChange(t))
	}
	if got, want := strings.Join(seen, "\n"), strings.Join(written, "\n"); got != want {
		t.Errorf("got changes:\n%s\nwant:\n%s", got, want)
	}

	// A change written while the stream is open arrives without polling.
	done := make(chan wire.WatchEvent, 1)
	go func() { done <- w2.nextChange(t) }()
	s.write(touch("dataset:late#reader@user:z"))
	select {
	case ev := <-done:
		if len(ev.Changes) != 1 || ev.Changes[0].Relationship != "dataset:late#reader@user:z" {
			t.Errorf("got %+v, want the late write", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the late write never arrived")
	}
}

func TestWatchErrors(t *testing.T) {
	s := newAuditStack(t)
	first := s.putSchema(testSchema)
	s.write(touch("dataset:a#reader@user:x"))
	s.write(touch("dataset:a#reader@user:y"))
	t.Run("bad token", func(t *testing.T) {
		r := s.do(http.MethodGet, "/v1/watch?since=nonsense", s.tokens[RoleReader], nil)
		if r.status != http.StatusBadRequest || r.errorBody(t).Code != "invalid_token" {
			t.Errorf("got %d %s, want 400 invalid_token", r.status, r.body)
		}
	})
	t.Run("unauthenticated", func(t *testing.T) {
		if r := s.do(http.MethodGet, "/v1/watch", "", nil); r.status != http.StatusUnauthorized {
			t.Errorf("got %d, want 401", r.status)
		}
	})
	t.Run("below the horizon", func(t *testing.T) {
		// The feed keeps the revisions from the horizon on; since=first asks
		// from first+1, below it.
		if err := s.store.SetGCHorizon(s.store.AppliedRevision()); err != nil {
			t.Fatal(err)
		}
		s.write(touch("dataset:b#reader@user:x")) // the next apply trims the feed
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.http.URL+"/v1/watch?since="+first, nil)
		req.Header.Set("Authorization", "Bearer "+s.tokens[RoleReader])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e wire.ErrorResponse
		json.NewDecoder(resp.Body).Decode(&e)
		if resp.StatusCode != http.StatusGone || e.Error.Code != "snapshot_expired" {
			t.Errorf("got %d %+v, want 410 snapshot_expired", resp.StatusCode, e)
		}
	})
}
