package audit

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// decisionDomain separates decision-record hashes from every other hash.
const decisionDomain = "trellis-decision/v1\n"

// Decision is one permission check decision.
type Decision struct {
	// Time is this node's clock when the decision was made.
	Time time.Time `json:"time"`
	// Principal is the authenticated caller who asked.
	Principal string `json:"principal"`
	// RequestID is the request's id (also the sampling key).
	RequestID string `json:"request_id"`
	// Resource, Permission and Subject say what was asked, e.g. "doc:1",
	// "view", "user:alice".
	Resource   string `json:"resource"`
	Permission string `json:"permission"`
	Subject    string `json:"subject"`
	// Result is the answer, e.g. "allowed", "denied", "conditional".
	Result string `json:"result"`
	// Token is the consistency token (revision) the check was evaluated at.
	Token string `json:"token"`
}

// A line of the chain is a DecisionRecord (decisionfeed.go): the record
// index, the previous record's hash, the decision and this record's hash
// SHA-256("trellis-decision/v1\n" || prev || canonical(index, decision)).

func (d *Decision) validate() error {
	if d.Time.IsZero() {
		return fmt.Errorf("%w: decision time is zero", ErrInvalidEntry)
	}
	if y := d.Time.UTC().Year(); y < 1678 || y > 2261 {
		return fmt.Errorf("%w: decision time %s is outside the years 1678..2261", ErrInvalidEntry, d.Time)
	}
	for _, f := range []struct{ name, v string }{
		{"principal", d.Principal}, {"request_id", d.RequestID}, {"resource", d.Resource},
		{"permission", d.Permission}, {"subject", d.Subject}, {"result", d.Result}, {"token", d.Token},
	} {
		if len(f.v) > MaxFieldLen {
			return fmt.Errorf("%w: decision %s is %d bytes, limit %d", ErrInvalidEntry, f.name, len(f.v), MaxFieldLen)
		}
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("%w: decision %s is not valid UTF-8", ErrInvalidEntry, f.name)
		}
	}
	return nil
}

// hashRecord computes a record's hash from its index, previous hash and
// decision. Strings are length-prefixed, the time is Unix nanoseconds.
func hashRecord(index uint64, prev []byte, d *Decision) []byte {
	h := sha256.New()
	h.Write([]byte(decisionDomain))
	h.Write(prev)
	var b []byte
	b = binary.BigEndian.AppendUint64(b, index)
	b = binary.BigEndian.AppendUint64(b, uint64(d.Time.UnixNano()))
	for _, s := range []string{d.Principal, d.RequestID, d.Resource, d.Permission, d.Subject, d.Result, d.Token} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	h.Write(b)
	return h.Sum(nil)
}

// DecisionHead is the end of a decision chain: how many records it has and
// the last record's hash (32 zero bytes when empty).
type DecisionHead struct {
	Count uint64 `json:"count"`
	Hash  []byte `json:"hash"`
}

// DecisionConfig configures a DecisionLog.
type DecisionConfig struct {
	// Node names this node; anchors carry it as principal "node:<Node>".
	Node string
	// SampleRate is the fraction of requests recorded, 0..1. Sampling is
	// deterministic for a given SampleKey: a request is recorded when the
	// first 53 bits of HMAC-SHA-256(SampleKey, request id), as a fraction,
	// are below SampleRate. Clients choose request ids; keyed by a secret
	// they do not know, they cannot choose ids that escape the log.
	SampleRate float64
	// SampleKey is the secret that keys sampling. Empty: NewDecisionLog
	// draws a random one, so each process samples its own way.
	SampleKey []byte
	// Recent is how many of the latest records the log keeps in memory for
	// its Feed (0: DefaultDecisionRecent).
	Recent int
}

// DefaultDecisionConfig records every decision.
func DefaultDecisionConfig(node string) DecisionConfig {
	return DecisionConfig{Node: node, SampleRate: 1}
}

// Validate checks the configuration.
func (c DecisionConfig) Validate() error {
	if c.Node == "" || strings.ContainsAny(c.Node, " \n") {
		return fmt.Errorf("audit decision config: Node %q must be non-empty without spaces", c.Node)
	}
	if !(c.SampleRate >= 0 && c.SampleRate <= 1) {
		return fmt.Errorf("audit decision config: SampleRate %v must be within 0..1", c.SampleRate)
	}
	if c.Recent < 0 {
		return fmt.Errorf("audit decision config: Recent %d must be 0 (the default, %d) or positive", c.Recent, DefaultDecisionRecent)
	}
	return nil
}

// DecisionLog is a per-node hash chain of check decisions, written as NDJSON
// to an io.Writer (normally an append-only file). It is not replicated; its
// head is anchored into the replicated log with Anchor. Safe for concurrent
// use.
type DecisionLog struct {
	cfg DecisionConfig

	mu   sync.Mutex
	w    io.Writer
	head DecisionHead
	feed *DecisionFeed
}

// NewDecisionLog continues the chain whose head is head (the zero
// DecisionHead for a new chain; after a restart, the head VerifyDecisions
// returns for the existing file), writing new records to w.
func NewDecisionLog(w io.Writer, head DecisionHead, cfg DecisionConfig) (*DecisionLog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if head.Hash == nil {
		head.Hash = make([]byte, sha256.Size)
	}
	if len(cfg.SampleKey) == 0 {
		cfg.SampleKey = make([]byte, 32)
		if _, err := rand.Read(cfg.SampleKey); err != nil {
			return nil, fmt.Errorf("audit decision log: sampling key: %w", err)
		}
	}
	if len(head.Hash) != sha256.Size {
		return nil, fmt.Errorf("audit decision log: head hash has %d bytes, want %d", len(head.Hash), sha256.Size)
	}
	recent := cfg.Recent
	if recent == 0 {
		recent = DefaultDecisionRecent
	}
	return &DecisionLog{cfg: cfg, w: w, head: head, feed: newDecisionFeed(recent, head.Count)}, nil
}

// Feed returns the log's feed: the latest records this process appended and
// a live subscription to the next ones.
func (d *DecisionLog) Feed() *DecisionFeed { return d.feed }

// Sampled reports whether a request with this id is recorded.
func (d *DecisionLog) Sampled(requestID string) bool {
	return sampled(d.cfg.SampleKey, requestID, d.cfg.SampleRate)
}

func sampled(key []byte, requestID string, rate float64) bool {
	switch {
	case rate >= 1:
		return true
	case rate <= 0:
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(requestID))
	sum := m.Sum(nil)
	x := binary.BigEndian.Uint64(sum[:8]) >> 11 // 53 bits
	return float64(x)/float64(uint64(1)<<53) < rate
}

// Record appends dec to the chain if its request is sampled, and reports
// whether it did. The head advances, and the record goes to the Feed, only
// when the write succeeded.
func (d *DecisionLog) Record(dec Decision) (bool, error) {
	if !d.Sampled(dec.RequestID) {
		return false, nil
	}
	if err := dec.validate(); err != nil {
		return false, err
	}
	dec.Time = dec.Time.UTC()
	d.mu.Lock()
	defer d.mu.Unlock()
	hash := hashRecord(d.head.Count, d.head.Hash, &dec)
	rec := DecisionRecord{Index: d.head.Count, Prev: hex.EncodeToString(d.head.Hash), Decision: dec, Hash: hex.EncodeToString(hash)}
	line, err := json.Marshal(rec)
	if err != nil {
		return false, err
	}
	if _, err := d.w.Write(append(line, '\n')); err != nil {
		return false, fmt.Errorf("audit decision log: write record %d: %w", d.head.Count, err)
	}
	d.head = DecisionHead{Count: d.head.Count + 1, Hash: hash}
	d.feed.publish(rec) // never blocks: a subscriber that is behind is dropped
	return true, nil
}

// Head returns the chain's current head.
func (d *DecisionLog) Head() DecisionHead {
	d.mu.Lock()
	defer d.mu.Unlock()
	return DecisionHead{Count: d.head.Count, Hash: bytes.Clone(d.head.Hash)}
}

// Anchor returns a "decision_anchor" entry for the current head: principal
// "node:<Node>", ChangeCount the number of records, ChangeDigest the head
// hash. The caller proposes it through raft; the leader fills in Revision and
// Time as for any entry.
func (d *DecisionLog) Anchor() Entry {
	h := d.Head()
	return Entry{
		Kind:         KindDecisionAnchor,
		Principal:    "node:" + d.cfg.Node,
		Reason:       "decision chain head",
		ChangeCount:  int(h.Count),
		ChangeDigest: h.Hash,
	}
}

// VerifyDecisions checks a decision chain written by DecisionLog: indexes
// from 0 and contiguous, each record's prev equal to the previous record's
// hash, each hash recomputed from the record. With an anchor (an entry of
// kind decision_anchor from the replicated log), the record at index
// anchor.ChangeCount-1 must have hash anchor.ChangeDigest and the chain must
// be at least that long. It returns the chain's head. A failure is a
// *VerifyError whose Seq is the first bad record index.
func VerifyDecisions(r io.Reader, anchor *Entry) (DecisionHead, error) {
	if anchor != nil && anchor.Kind != KindDecisionAnchor {
		return DecisionHead{}, fmt.Errorf("audit verify decisions: anchor entry has kind %q, want %q", anchor.Kind, KindDecisionAnchor)
	}
	head := DecisionHead{Hash: make([]byte, sha256.Size)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxExportLine)
	line := 0
	fail := func(msg string, args ...any) error {
		return &VerifyError{Seq: head.Count, HasSeq: true, Line: line, Err: ErrTampered, Msg: fmt.Sprintf(msg, args...)}
	}
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			return DecisionHead{}, fail("blank line")
		}
		var j DecisionRecord
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			return DecisionHead{}, fail("not a decision record: %v", err)
		}
		switch {
		case j.Index < head.Count:
			return DecisionHead{}, fail("found index %d again: duplicated or reordered record", j.Index)
		case j.Index > head.Count:
			return DecisionHead{}, fail("found index %d: record %d is missing", j.Index, head.Count)
		}
		if j.Prev != hex.EncodeToString(head.Hash) {
			return DecisionHead{}, fail("prev %s does not match the previous record's hash %x", j.Prev, head.Hash)
		}
		hash := hashRecord(j.Index, head.Hash, &j.Decision)
		if j.Hash != hex.EncodeToString(hash) {
			return DecisionHead{}, fail("hash mismatch: recomputed %x, record says %s (the record was edited)", hash, j.Hash)
		}
		head = DecisionHead{Count: head.Count + 1, Hash: hash}
		if anchor != nil && head.Count == uint64(anchor.ChangeCount) && !bytes.Equal(hash, anchor.ChangeDigest) {
			head.Count--
			return DecisionHead{}, fail("hash %x differs from the anchored head %x", hash, anchor.ChangeDigest)
		}
	}
	if err := sc.Err(); err != nil {
		return DecisionHead{}, fail("reading the chain: %v", err)
	}
	if anchor != nil && head.Count < uint64(anchor.ChangeCount) {
		line = 0
		return DecisionHead{}, fail("chain ends after %d records but the anchor covers %d: truncated", head.Count, anchor.ChangeCount)
	}
	if anchor != nil && anchor.ChangeCount == 0 && !bytes.Equal(anchor.ChangeDigest, make([]byte, sha256.Size)) {
		return DecisionHead{}, &VerifyError{Err: ErrTampered, Msg: "anchor of an empty chain must carry 32 zero bytes"}
	}
	return head, nil
}
