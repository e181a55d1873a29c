package consensus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// auditLogs installs a real audit log (persisted in each node's own store)
// on every node a tune function configures.
type auditLogs struct {
	mu   sync.Mutex
	logs map[string]*audit.Log
}

func (a *auditLogs) tune(t testing.TB) func(*Config) {
	return func(cfg *Config) {
		l, err := audit.Open(AuditStore(cfg.Store))
		if err != nil {
			t.Fatalf("audit.Open on %s: %v", cfg.NodeID, err)
		}
		cfg.Audit = NewAuditLog(l)
		a.mu.Lock()
		a.logs[cfg.NodeID] = l
		a.mu.Unlock()
	}
}

func (a *auditLogs) get(id string) *audit.Log {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.logs[id]
}

func TestAuditRootsEqualOnAllNodes(t *testing.T) {
	logs := &auditLogs{logs: map[string]*audit.Log{}}
	c := startCluster(t, 3, logs.tune(t))
	meta := func(reason string) Meta {
		return Meta{Principal: "user:auditor-test", Reason: reason, RequestID: uuid.NewString(), IdempotencyKey: uuid.NewString()}
	}
	c.write(&SchemaCommand{Meta: meta("schema"), Text: testSchema})
	w := touch("dataset:a#reader@user:x", "dataset:a#reader@user:y")
	w.Meta = meta("grant")
	c.write(w)
	c.write(&ImportCommand{Meta: meta("import"), Relationships: []tuple.Relationship{rel("dataset:b#owner@user:z"), rel("dataset:c#owner@user:z")}})
	f := tuple.Filter{ResourceType: "dataset", ResourceID: "a", Relation: "reader"}
	res := c.write(&DeleteCommand{Meta: meta("revoke"), Filter: f})
	if res.Changed != 2 {
		t.Fatalf("delete changed %d relationships, want 2", res.Changed)
	}

	// Every node applies up to the last write, then all logs must agree.
	for _, tn := range c.running() {
		if err := tn.store.WaitApplied(ctxT(t, 10*time.Second), res.Revision); err != nil {
			t.Fatalf("%s: WaitApplied(%d): %v", tn.id, res.Revision, err)
		}
	}
	var wantRoot []byte
	var wantEntries []audit.Entry
	for i, tn := range c.running() {
		l := logs.get(tn.id)
		if got := l.Size(); got != 4 {
			t.Fatalf("%s: audit size %d, want 4 (schema, write, import, delete)", tn.id, got)
		}
		entries, _, err := l.Entries(0, 10, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			wantRoot, wantEntries = l.Root(), entries
			for j, kind := range []string{audit.KindSchema, audit.KindWrite, audit.KindImport, audit.KindDelete} {
				if entries[j].Kind != kind {
					t.Errorf("entry %d kind %q, want %q", j, entries[j].Kind, kind)
				}
				if entries[j].Principal != "user:auditor-test" || entries[j].IdempotencyKey == "" || entries[j].RequestID == "" {
					t.Errorf("entry %d lost its metadata: %+v", j, entries[j])
				}
			}
			if entries[3].ChangeCount != 2 {
				t.Errorf("delete entry change_count %d, want 2", entries[3].ChangeCount)
			}
			continue
		}
		if got := l.Root(); !bytes.Equal(got, wantRoot) {
			t.Errorf("%s: root %x, want %x (the first node's)", tn.id, got, wantRoot)
		}
		for j := range entries {
			a, _ := entries[j].MarshalBinary()
			b, _ := wantEntries[j].MarshalBinary()
			if !bytes.Equal(a, b) {
				t.Errorf("%s: entry %d differs: got %+v, want %+v", tn.id, j, entries[j], wantEntries[j])
			}
		}
	}

	// The change digest is recomputable from the change feed.
	l := c.running()[0]
	e := wantEntries[1]
	errStop := errors.New("stop")
	err := l.store.Changes(context.Background(), e.Revision, func(rev uint64, changes []storage.Change, _ []byte) error {
		if rev != e.Revision {
			return nil
		}
		lines := ChangeStrings(AuditRecord{Kind: e.Kind}, changes)
		if got := audit.DigestChanges(lines); !bytes.Equal(got, e.ChangeDigest) {
			t.Errorf("digest from the change feed %x, want %x", got, e.ChangeDigest)
		}
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		t.Fatal(err)
	}
}

// TestAuditIdempotentRetryAddsNoEntry: a retry with the same key replays the
// first answer and appends nothing.
func TestAuditIdempotentRetryAddsNoEntry(t *testing.T) {
	logs := &auditLogs{logs: map[string]*audit.Log{}}
	tn := newTestNode(t, "n1")
	tn.tune = logs.tune(t)
	tn.open(true, nil)
	waitIsLeader(t, tn.node)
	ctx := ctxT(t, 10*time.Second)
	if _, err := tn.node.Write(ctx, &SchemaCommand{Text: testSchema}); err != nil {
		t.Fatal(err)
	}
	w := touch("dataset:a#reader@user:x")
	w.IdempotencyKey = uuid.NewString()
	for i := range 2 {
		res, err := tn.node.Write(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := res.Replayed, i == 1; got != want {
			t.Errorf("attempt %d: replayed %v, want %v", i, got, want)
		}
	}
	if got := logs.get("n1").Size(); got != 2 {
		t.Errorf("audit size %d, want 2 (schema + one write)", got)
	}
	// A rejected write (no such type) appends nothing either.
	if _, err := tn.node.Write(ctx, touch("nosuch:a#reader@user:x")); err == nil {
		t.Fatal("write of an unknown type succeeded")
	}
	if got := logs.get("n1").Size(); got != 2 {
		t.Errorf("after a rejected write: audit size %d, want 2", got)
	}
}

// BenchmarkWriteAudit compares sequential single-node write latency with
// and without the real audit hook (production raft timeouts), with the
// store's fsync on (what a deployment pays) and off (which isolates the
// hook's CPU and write-volume cost from the disk).
func BenchmarkWriteAudit(b *testing.B) {
	for _, sync := range []bool{true, false} {
		for _, withAudit := range []bool{false, true} {
			for _, batch := range []int{1, 100} {
				b.Run(fmt.Sprintf("fsync=%v/audit=%v/batch=%d", sync, withAudit, batch), func(b *testing.B) {
					logs := &auditLogs{logs: map[string]*audit.Log{}}
					tune := func(cfg *Config) {
						d := DefaultConfig()
						cfg.HeartbeatTimeout, cfg.ElectionTimeout = d.HeartbeatTimeout, d.ElectionTimeout
						cfg.LeaderLeaseTimeout, cfg.CommitTimeout = d.LeaderLeaseTimeout, d.CommitTimeout
						if withAudit {
							logs.tune(b)(cfg)
						} else {
							cfg.Audit = nil
						}
					}
					tn := newTestNode(b, "n1")
					tn.sync = sync
					tn.tune = tune
					tn.open(true, nil)
					waitIsLeader(b, tn.node)
					if _, err := tn.node.Write(context.Background(), &SchemaCommand{Text: testSchema}); err != nil {
						b.Fatal(err)
					}
					i := 0
					b.ResetTimer()
					for b.Loop() {
						w := &WriteCommand{Meta: Meta{Principal: "bench", Reason: "bench", RequestID: uuid.NewString()}}
						for j := range batch {
							w.Updates = append(w.Updates, touch(fmt.Sprintf("dataset:d%d#reader@user:u%d", i, j)).Updates...)
						}
						i++
						if _, err := tn.node.Write(context.Background(), w); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "rels/s")
					if withAudit {
						if got := logs.get("n1").Size(); got < uint64(b.N) {
							b.Fatalf("audit size %d below %d writes", got, b.N)
						}
					}
				})
			}
		}
	}
}

// emptyExtra is a store with no extra keys: a fresh audit log.
type emptyExtra struct{}

func (emptyExtra) Extra([]byte) ([]byte, bool, error) { return nil, false, nil }

// BenchmarkAuditHookAppend measures what the hook adds to each apply, in
// CPU: building the entry, digesting the changes, hashing the leaf and the
// completed subtrees, and producing the key/values (the store then writes
// about three extra keys per entry).
func BenchmarkAuditHookAppend(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			l, err := audit.Open(AuditStore(emptyExtra{}))
			if err != nil {
				b.Fatal(err)
			}
			h := NewAuditLog(l)
			changes := make([]storage.Change, batch)
			for j := range changes {
				changes[j] = storage.Change{Op: tuple.OpTouch, Relationship: rel(fmt.Sprintf("dataset:d%d#reader@user:u%d", j, j))}
			}
			rec := AuditRecord{Time: time.Now(), Kind: "write", Principal: "bench", Reason: "bench", RequestID: uuid.NewString()}
			for b.Loop() {
				rec.Revision++
				kvs, commit, err := h.Append(rec, changes)
				if err != nil || len(kvs) == 0 {
					b.Fatal(err)
				}
				commit()
			}
		})
	}
}

// TestAuditHookSanitizesFields: text the audit log would refuse (invalid
// UTF-8, over the length limit) is made acceptable instead of failing the
// batch, which would halt every replica.
func TestAuditHookSanitizesFields(t *testing.T) {
	mem := memExtra{}
	l, err := audit.Open(AuditStore(mem))
	if err != nil {
		t.Fatal(err)
	}
	h := NewAuditLog(l)
	long := strings.Repeat("é", audit.MaxFieldLen) // 2 bytes each
	rec := AuditRecord{Revision: 1, Time: time.Unix(1, 0), Kind: "write", Principal: "p", Reason: "bad \xff byte", RequestID: long}
	kvs, commit, err := h.Append(rec, nil)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	for _, kv := range kvs {
		mem[string(kv.Key)] = kv.Value
	}
	commit()
	e, err := l.Entry(0)
	if err != nil {
		t.Fatal(err)
	}
	if e.Reason != "bad \uFFFD byte" {
		t.Errorf("got reason %q, want the invalid byte replaced", e.Reason)
	}
	if len(e.RequestID) != audit.MaxFieldLen || !utf8.ValidString(e.RequestID) {
		t.Errorf("got request id of %d bytes (valid UTF-8 %v), want %d valid bytes", len(e.RequestID), utf8.ValidString(e.RequestID), audit.MaxFieldLen)
	}
}

// BenchmarkWriteAuditPaired runs two single-node clusters side by side, one
// without and one with the real audit hook, and alternates one write to each
// per iteration, so both see the same machine load (on a shared machine the
// separate runs of BenchmarkWriteAudit vary more between runs than the
// hook costs). It reports the mean latency of each and the overhead in
// percent.
func BenchmarkWriteAuditPaired(b *testing.B) {
	for _, sync := range []bool{true, false} {
		for _, batch := range []int{1, 100} {
			b.Run(fmt.Sprintf("fsync=%v/batch=%d", sync, batch), func(b *testing.B) {
				logs := &auditLogs{logs: map[string]*audit.Log{}}
				open := func(id string, withAudit bool) *Node {
					tn := newTestNode(b, id)
					tn.sync = sync
					tn.tune = func(cfg *Config) {
						d := DefaultConfig()
						cfg.HeartbeatTimeout, cfg.ElectionTimeout = d.HeartbeatTimeout, d.ElectionTimeout
						cfg.LeaderLeaseTimeout, cfg.CommitTimeout = d.LeaderLeaseTimeout, d.CommitTimeout
						cfg.Audit = nil
						if withAudit {
							logs.tune(b)(cfg)
						}
					}
					tn.open(true, nil)
					waitIsLeader(b, tn.node)
					if _, err := tn.node.Write(context.Background(), &SchemaCommand{Text: testSchema}); err != nil {
						b.Fatal(err)
					}
					return tn.node
				}
				plain, audited := open("plain", false), open("audited", true)
				var tPlain, tAudit time.Duration
				i := 0
				for b.Loop() {
					w := &WriteCommand{Meta: Meta{Principal: "bench", Reason: "bench", RequestID: uuid.NewString()}}
					for j := range batch {
						w.Updates = append(w.Updates, touch(fmt.Sprintf("dataset:d%d#reader@user:u%d", i, j)).Updates...)
					}
					i++
					// Alternate which goes first, so neither always follows the other's fsync.
					first, second, tf, ts := plain, audited, &tPlain, &tAudit
					if i%2 == 0 {
						first, second, tf, ts = audited, plain, &tAudit, &tPlain
					}
					start := time.Now()
					if _, err := first.Write(context.Background(), w); err != nil {
						b.Fatal(err)
					}
					mid := time.Now()
					if _, err := second.Write(context.Background(), w); err != nil {
						b.Fatal(err)
					}
					*tf += mid.Sub(start)
					*ts += time.Since(mid)
				}
				n := float64(b.N)
				b.ReportMetric(float64(tPlain.Nanoseconds())/n, "ns/write-plain")
				b.ReportMetric(float64(tAudit.Nanoseconds())/n, "ns/write-audit")
				b.ReportMetric(100*(float64(tAudit)/float64(tPlain)-1), "overhead-%")
				b.ReportMetric(float64(batch)*n/tAudit.Seconds(), "rels/s-audit")
				b.ReportMetric(float64(batch)*n/tPlain.Seconds(), "rels/s-plain")
				if got := logs.get("audited").Size(); got < uint64(b.N) {
					b.Fatalf("audit size %d below %d writes", got, b.N)
				}
			})
		}
	}
}

// memExtra is an in-memory extra-key store for unit tests of the hook.
type memExtra map[string][]byte

func (m memExtra) Extra(k []byte) ([]byte, bool, error) {
	v, ok := m[string(k)]
	return v, ok, nil
}

// TestAuditHookForgetsFailedBatch: when a batch fails after Append (commit
// never called, nothing written), the next Append starts from the committed
// log, so the failed entry never becomes part of the tree.
func TestAuditHookForgetsFailedBatch(t *testing.T) {
	mem := memExtra{}
	l, err := audit.Open(AuditStore(mem))
	if err != nil {
		t.Fatal(err)
	}
	h := NewAuditLog(l)
	rec := AuditRecord{Revision: 1, Time: time.Unix(1, 0), Kind: "write", Principal: "p", Reason: "failed batch"}
	if _, _, err := h.Append(rec, nil); err != nil {
		t.Fatal(err)
	}
	// The batch failed: its key/values were not written, commit not called.
	rec.Revision, rec.Reason = 2, "next batch"
	kvs, commit, err := h.Append(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range kvs {
		mem[string(kv.Key)] = kv.Value
	}
	commit()
	if got := l.Size(); got != 1 {
		t.Fatalf("got size %d, want 1", got)
	}
	e, err := l.Entry(0)
	if err != nil {
		t.Fatal(err)
	}
	if e.Reason != "next batch" || e.Revision != 2 {
		t.Errorf("got entry 0 = %q at revision %d, want the next batch's at 2", e.Reason, e.Revision)
	}
}

// TestDigestChangesMatchesChangeStrings: the state machine's streaming
// digest is the one verifiers compute from the canonical change strings, for
// every kind of entry and relationships with caveats and expirations.
func TestDigestChangesMatchesChangeStrings(t *testing.T) {
	exp := time.Date(2026, 11, 27, 17, 0, 0, 123000000, time.UTC)
	var changes []storage.Change
	for i, s := range []string{
		"dataset:d1#reader@user:ana",
		"team:ml#member@team:core#member",
		`dataset:d2#reader@user:bo[purpose_is:{"allowed":["eval","train"],"purpose":"x"}]`,
		"dataset:d3#reader@user:cy[purpose_is]",
		"model:m#runner@service_account:sa",
	} {
		r := tuple.MustParse(s)
		if i == 4 {
			r.Expiration = &exp
		}
		op := tuple.OpTouch
		if i%2 == 1 {
			op = tuple.OpDelete
		}
		changes = append(changes, storage.Change{Op: op, Relationship: r})
	}
	for _, rec := range []AuditRecord{
		{Kind: TypeWrite.String()}, {Kind: TypeImport.String()}, {Kind: TypeDelete.String()},
		{Kind: TypeSchema.String(), SchemaHash: "abc123"}, {Kind: TypeAnchor.String()},
	} {
		for _, cs := range [][]storage.Change{changes, changes[:1], nil} {
			lines := ChangeStrings(rec, cs)
			n, got := digestChanges(rec, cs)
			if want := audit.DigestChanges(lines); n != len(lines) || !bytes.Equal(got, want) {
				t.Errorf("%s with %d changes: streaming digest %x over %d, want %x over %d (%q)", rec.Kind, len(cs), got, n, want, len(lines), lines)
			}
		}
	}
}
