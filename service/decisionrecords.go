package service

import (
	"context"
	"errors"
	"time"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/wire"
)

// DecisionStreamBuffer is how many records a decision stream may fall
// behind the node's decision log before it is dropped (and told so).
const DecisionStreamBuffer = 256

// DecisionRecords serves the records this node's decision log appends: the
// latest ones it keeps in memory and a live stream of the next. The log
// (trellis serve --decision-log) is per node and optional; without it every
// call is ErrDecisionLogDisabled.
type DecisionRecords struct {
	feed *audit.DecisionFeed // nil: no decision log
	node string
}

// NewDecisionRecords serves feed, the Feed of node's decision log; a nil
// feed means the node keeps no decision log.
func NewDecisionRecords(feed *audit.DecisionFeed, node string) *DecisionRecords {
	return &DecisionRecords{feed: feed, node: node}
}

func (d *DecisionRecords) enabled() error {
	if d.feed == nil {
		return fail(ErrDecisionLogDisabled, map[string]any{"node": d.node},
			"node %s keeps no decision log, so it has no decision records to serve; start it with trellis serve --decision-log FILE (docs/audit.md, section Decision log)", d.node)
	}
	return nil
}

func decisionRecord(r audit.DecisionRecord) wire.DecisionRecord {
	return wire.DecisionRecord{Index: r.Index, Prev: r.Prev, Time: r.Time.UTC(), Principal: r.Principal, RequestID: r.RequestID,
		Resource: r.Resource, Permission: r.Permission, Subject: r.Subject, Result: r.Result, Token: r.Token, Hash: r.Hash}
}

// Recent returns up to limit (1..wire.MaxDecisionLimit) of the latest
// records, oldest first.
func (d *DecisionRecords) Recent(limit uint64) (wire.DecisionsResponse, error) {
	if err := d.enabled(); err != nil {
		return wire.DecisionsResponse{}, err
	}
	if limit == 0 || limit > wire.MaxDecisionLimit {
		return wire.DecisionsResponse{}, fail(ErrInvalidArgument, map[string]any{"param": "limit"},
			"limit=%d is out of range; use 1..%d", limit, wire.MaxDecisionLimit)
	}
	recs, next := d.feed.Recent(int(limit))
	out := wire.DecisionsResponse{Records: make([]wire.DecisionRecord, len(recs)), Next: next, Kept: d.feed.Kept(), Node: d.node}
	for i, r := range recs {
		out.Records[i] = decisionRecord(r)
	}
	return out, nil
}

// DecisionStreamRequest says where a decision stream starts.
type DecisionStreamRequest struct {
	// From is the index of the first record to send (nil: the next record
	// the log appends). It may reach back as far as the records kept in
	// memory. FromName names where it came from for error messages ("from",
	// "Last-Event-ID").
	From     *uint64
	FromName string
	// Heartbeat is how long an idle stream waits before sink.Heartbeat.
	Heartbeat time.Duration
}

// DecisionSink is where a decision stream goes: Record for each record,
// Flush when the stream has caught up and is about to wait, Heartbeat after
// a heartbeat interval without a record.
type DecisionSink struct {
	Record    func(wire.DecisionRecord) error
	Flush     func() error
	Heartbeat func() error
}

// Stream sends the records from req.From on, in index order, as the node's
// decision log appends them, until ctx ends (then it returns nil) or the
// sink fails. Appending never waits for a stream: one that falls more than
// DecisionStreamBuffer records behind is ended with ErrDecisionsMissed,
// naming the first record it did not get, from which it can resume while
// the node still keeps it. An error before the first record (no decision
// log, a bad From) is an answer for the caller; after it, the transport
// reports it inside the stream.
func (d *DecisionRecords) Stream(ctx context.Context, req DecisionStreamRequest, sink DecisionSink) error {
	if err := d.enabled(); err != nil {
		return err
	}
	from := uint64(0)
	if req.From != nil {
		from = *req.From
	} else {
		_, from = d.feed.Window()
	}
	backlog, sub, err := d.feed.Subscribe(from, DecisionStreamBuffer)
	if err != nil {
		oldest, next := d.feed.Window()
		name := req.FromName
		if name == "" {
			name = "from"
		}
		details := map[string]any{"param": name, "oldest": oldest, "next": next}
		if errors.Is(err, audit.ErrNotFound) {
			return fail(ErrDecisionsMissed, details,
				"%s=%d: record %d is no longer kept in memory by node %s (it keeps the latest %d, now %d..%d); it is in the node's decision log file; resume from %d or later",
				name, from, from, d.node, d.feed.Kept(), oldest, next, oldest)
		}
		return fail(ErrInvalidArgument, details, "%s=%d: node %s has appended records up to %d only; resume from at most %d (the next record)", name, from, d.node, next, next)
	}
	defer sub.Close()
	for _, r := range backlog {
		if err := sink.Record(decisionRecord(r)); err != nil {
			return err
		}
	}
	if err := sink.Flush(); err != nil {
		return err
	}
	heartbeat := req.Heartbeat
	if heartbeat <= 0 {
		heartbeat = 15 * time.Second
	}
	idle := time.NewTimer(heartbeat)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-idle.C:
			if err := sink.Heartbeat(); err != nil {
				return err
			}
			if err := sink.Flush(); err != nil {
				return err
			}
			idle.Reset(heartbeat)
		case r, ok := <-sub.C():
			if !ok {
				missed, dropped := sub.Missed()
				if !dropped {
					return nil
				}
				return fail(ErrDecisionsMissed, map[string]any{"missed": missed},
					"this stream fell more than %d records behind node %s's decision log and was dropped (the log never waits for a reader); record %d and later were not sent; reconnect with from=%d while the node still keeps it (its latest %d)",
					DecisionStreamBuffer, d.node, missed, missed, d.feed.Kept())
			}
			if err := sink.Record(decisionRecord(r)); err != nil {
				return err
			}
			if len(sub.C()) == 0 {
				if err := sink.Flush(); err != nil {
					return err
				}
			}
			idle.Reset(heartbeat)
		}
	}
}
