package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// newFeedLog is a decision log over a buffer keeping the latest recent
// records in its feed.
func newFeedLog(t *testing.T, head DecisionHead, recent int) (*DecisionLog, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	cfg := DefaultDecisionConfig("n1")
	cfg.Recent = recent
	d, err := NewDecisionLog(&buf, head, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d, &buf
}

func record(t *testing.T, d *DecisionLog, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if ok, err := d.Record(testDecision(i)); err != nil || !ok {
			t.Fatalf("Record %d: %v, %v", i, ok, err)
		}
	}
}

func indexes(recs []DecisionRecord) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.Index
	}
	return out
}

// TestDecisionFeedKeepsTheFileRecords: the feed's records are the chain
// file's lines (same JSON), the ring keeps the latest Recent, Recent and
// Window say which.
func TestDecisionFeedKeepsTheFileRecords(t *testing.T) {
	d, buf := newFeedLog(t, DecisionHead{}, 4)
	f := d.Feed()
	if recs, next := f.Recent(10); len(recs) != 0 || next != 0 {
		t.Fatalf("empty feed: %v, next %d", recs, next)
	}
	record(t, d, 0, 7)
	var lines []DecisionRecord
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	for sc.Scan() {
		var r DecisionRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, r)
	}
	recs, next := f.Recent(10)
	if next != 7 || !reflect.DeepEqual(indexes(recs), []uint64{3, 4, 5, 6}) {
		t.Fatalf("Recent(10) after 7 records kept 4: %v, next %d; want 3..6, next 7", indexes(recs), next)
	}
	for _, r := range recs {
		if !reflect.DeepEqual(r, lines[r.Index]) {
			t.Errorf("record %d: feed %+v, file %+v", r.Index, r, lines[r.Index])
		}
	}
	if recs, _ := f.Recent(2); !reflect.DeepEqual(indexes(recs), []uint64{5, 6}) {
		t.Errorf("Recent(2): %v, want 5, 6", indexes(recs))
	}
	if oldest, next := f.Window(); oldest != 3 || next != 7 || f.Kept() != 4 {
		t.Errorf("Window: %d..%d kept %d, want 3..7 kept 4", oldest, next, f.Kept())
	}

	// After a restart the indexes continue from the verified head; the
	// ring holds only what this process appended.
	head, err := VerifyDecisions(bytes.NewReader(buf.Bytes()), nil)
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := newFeedLog(t, head, 0)
	if oldest, next := d2.Feed().Window(); oldest != 7 || next != 7 || d2.Feed().Kept() != DefaultDecisionRecent {
		t.Errorf("after a restart at head 7: window %d..%d kept %d", oldest, next, d2.Feed().Kept())
	}
	record(t, d2, 7, 8)
	if recs, _ := d2.Feed().Recent(5); !reflect.DeepEqual(indexes(recs), []uint64{7}) {
		t.Errorf("after a restart: %v, want 7", indexes(recs))
	}
}

// TestDecisionFeedSubscribeNoGap: a subscription from a kept index gets the
// kept records from there, then every later record once, in order.
func TestDecisionFeedSubscribeNoGap(t *testing.T) {
	d, _ := newFeedLog(t, DecisionHead{}, 10)
	f := d.Feed()
	record(t, d, 0, 5)
	backlog, sub, err := f.Subscribe(2, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	record(t, d, 5, 8)
	got := indexes(backlog)
	for range 3 {
		got = append(got, (<-sub.C()).Index)
	}
	if !reflect.DeepEqual(got, []uint64{2, 3, 4, 5, 6, 7}) {
		t.Errorf("subscribed from 2: %v, want 2..7", got)
	}
	if f.Subscribers() != 1 {
		t.Errorf("%d subscribers, want 1", f.Subscribers())
	}
	sub.Close()
	if _, open := <-sub.C(); open || f.Subscribers() != 0 {
		t.Errorf("after Close: channel open %v, %d subscribers", open, f.Subscribers())
	}
	if _, dropped := sub.Missed(); dropped {
		t.Errorf("a closed subscription reports being dropped")
	}
	sub.Close() // twice is harmless

	if _, _, err := f.Subscribe(9, 1); !errors.Is(err, ErrBadRange) {
		t.Errorf("from 9 with next 8: %v, want ErrBadRange", err)
	}
	record(t, d, 8, 14) // keeps 4..13
	if _, _, err := f.Subscribe(3, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("from 3 with 4..13 kept: %v, want ErrNotFound", err)
	}
	if b, s, err := f.Subscribe(14, 1); err != nil || len(b) != 0 {
		t.Errorf("from next: %v, %v", b, err)
	} else {
		s.Close()
	}
}

// TestDecisionFeedDropsASlowSubscriber: a subscriber that does not read is
// dropped when its buffer is full; Record does not wait for it, and the
// subscriber gets what its buffer held, then learns the first record it
// missed.
func TestDecisionFeedDropsASlowSubscriber(t *testing.T) {
	d, _ := newFeedLog(t, DecisionHead{}, 0)
	f := d.Feed()
	_, slow, err := f.Subscribe(0, 3)
	if err != nil {
		t.Fatal(err)
	}
	_, fast, err := f.Subscribe(0, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	record(t, d, 0, 10) // returns: nothing waits for the slow subscriber
	var got []uint64
	for r := range slow.C() {
		got = append(got, r.Index)
	}
	missed, dropped := slow.Missed()
	if !reflect.DeepEqual(got, []uint64{0, 1, 2}) || !dropped || missed != 3 {
		t.Errorf("slow subscriber: got %v, dropped %v at %d; want 0..2, dropped at 3", got, dropped, missed)
	}
	if len(fast.C()) != 10 || f.Subscribers() != 1 {
		t.Errorf("fast subscriber holds %d records, %d subscribers left; want 10 and 1", len(fast.C()), f.Subscribers())
	}
}
