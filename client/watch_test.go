package client

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func newTestWatcher(stream string) *Watcher {
	body := io.NopCloser(strings.NewReader(stream))
	return &Watcher{body: body, sc: bufio.NewScanner(body)}
}

func TestWatcherNext(t *testing.T) {
	stream := ": heartbeat\n\n" +
		"id: t1.A\nevent: change\ndata: {\"revision\":5,\"token\":\"t1.A\",\"changes\":[{\"op\":\"touch\",\"relationship\":\"doc:a#viewer@user:x\"}]}\n\n" +
		"event: unknown\ndata: ignored\n\n" +
		"id: t1.B\ndata: {\"revision\":6,\"token\":\"t1.B\",\"changes\":[]}\n\n" +
		"event: error\ndata: {\"code\":\"snapshot_expired\",\"message\":\"trimmed\"}\n\n"
	w := newTestWatcher(stream)
	ev, err := w.Next()
	if err != nil || ev.Revision != 5 || len(ev.Changes) != 1 || w.LastID() != "t1.A" {
		t.Fatalf("got %+v, %v, last id %q; want revision 5 with one change, last id t1.A", ev, err, w.LastID())
	}
	ev, err = w.Next()
	if err != nil || ev.Revision != 6 || w.LastID() != "t1.B" {
		t.Fatalf("got %+v, %v; want revision 6 (the unknown event skipped)", ev, err)
	}
	_, err = w.Next()
	var ce *Error
	if !errors.As(err, &ce) || ce.Code != "snapshot_expired" {
		t.Fatalf("got %v, want *Error snapshot_expired", err)
	}
	if _, err := w.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("got %v, want io.EOF at the end of the stream", err)
	}
}

// FuzzWatcherNext: any byte stream ends in events, errors or io.EOF, never
// a panic or a loop.
func FuzzWatcherNext(f *testing.F) {
	f.Add("id: t1.A\nevent: change\ndata: {\"revision\":1}\n\n")
	f.Add("event: error\ndata: {}\n\n")
	f.Add("data: a\ndata: b\n\n:\n\n")
	f.Fuzz(func(t *testing.T, stream string) {
		w := newTestWatcher(stream)
		for range len(stream) + 2 {
			if _, err := w.Next(); errors.Is(err, io.EOF) {
				return
			}
		}
	})
}
