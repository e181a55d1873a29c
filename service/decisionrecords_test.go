package service_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
)

func recordDecisions(t *testing.T, d *audit.DecisionLog, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		_, err := d.Record(audit.Decision{Time: time.Now(), Principal: "p", RequestID: fmt.Sprint("r", i),
			Resource: "doc:1", Permission: "view", Subject: fmt.Sprint("user:u", i), Result: "allowed", Token: "t"})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestDecisionStreamDropsASlowReader: a stream whose sink does not keep up
// never holds up the decision log; once more than DecisionStreamBuffer
// records wait for it, it ends with ErrDecisionsMissed naming the first
// record it did not get, after sending every record before that one.
func TestDecisionStreamDropsASlowReader(t *testing.T) {
	dl, err := audit.NewDecisionLog(io.Discard, audit.DecisionHead{}, audit.DefaultDecisionConfig("n1"))
	if err != nil {
		t.Fatal(err)
	}
	d := service.NewDecisionRecords(dl.Feed(), "n1")
	ready, entered, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var got []uint64
	done := make(chan error, 1)
	go func() {
		first := true
		done <- d.Stream(context.Background(), service.DecisionStreamRequest{}, service.DecisionSink{
			Record: func(r wire.DecisionRecord) error {
				got = append(got, r.Index)
				if first {
					first = false
					close(entered)
					<-release // a reader that stops reading
				}
				return nil
			},
			Flush: func() error {
				select {
				case <-ready:
				default:
					close(ready)
				}
				return nil
			},
			Heartbeat: func() error { return nil },
		})
	}()
	<-ready // subscribed
	recordDecisions(t, dl, 0, 1)
	<-entered // record 0 is taken; the stream is stuck in its sink
	n := service.DecisionStreamBuffer
	recordDecisions(t, dl, 1, n+10) // 1..n fill the buffer, n+1 overflows: none of these waits
	close(release)
	err = <-done
	var se *service.Error
	if !errors.Is(err, service.ErrDecisionsMissed) || !errors.As(err, &se) || se.Details["missed"] != uint64(n+1) {
		t.Fatalf("Stream: %v, want ErrDecisionsMissed with missed %d", err, n+1)
	}
	if len(got) != n+1 || got[0] != 0 || got[n] != uint64(n) {
		t.Errorf("the stream sent %d records (first %v), want 0..%d", len(got), got[:1], n)
	}
}

// TestDecisionRecordsDisabled: without a decision log every call says how
// to enable one; a bad limit or start index is invalid.
func TestDecisionRecordsDisabled(t *testing.T) {
	off := service.NewDecisionRecords(nil, "n1")
	if _, err := off.Recent(10); !errors.Is(err, service.ErrDecisionLogDisabled) {
		t.Errorf("Recent without a log: %v", err)
	}
	err := off.Stream(context.Background(), service.DecisionStreamRequest{}, service.DecisionSink{})
	if !errors.Is(err, service.ErrDecisionLogDisabled) || !strings.Contains(err.Error(), "--decision-log FILE") || !strings.Contains(err.Error(), "node n1") {
		t.Errorf("Stream without a log: %v", err)
	}
	dl, _ := audit.NewDecisionLog(io.Discard, audit.DecisionHead{}, audit.DefaultDecisionConfig("n1"))
	on := service.NewDecisionRecords(dl.Feed(), "n1")
	for _, limit := range []uint64{0, wire.MaxDecisionLimit + 1} {
		if _, err := on.Recent(limit); !errors.Is(err, service.ErrInvalidArgument) {
			t.Errorf("limit %d: %v, want invalid argument", limit, err)
		}
	}
	future := uint64(5)
	err = on.Stream(context.Background(), service.DecisionStreamRequest{From: &future, FromName: "from"}, service.DecisionSink{})
	if !errors.Is(err, service.ErrInvalidArgument) {
		t.Errorf("from a future index: %v, want invalid argument", err)
	}
}
