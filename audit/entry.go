package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/transparency-dev/merkle/rfc6962"
)

// Entry kinds.
const (
	KindWrite          = "write"
	KindDelete         = "delete"
	KindImport         = "import"
	KindSchema         = "schema"
	KindDecisionAnchor = "decision_anchor"
	KindSuspend        = "suspend"   // a subject suspended (docs/suspension.md)
	KindUnsuspend      = "unsuspend" // a suspension lifted
	KindAlerts         = "alerts"    // the alert rule set replaced (docs/alerts.md)
)

// entryVersion is the first byte of every canonical entry encoding.
const entryVersion = 0x01

// Limits on entry fields, so one entry cannot bloat the log.
const (
	// MaxFieldLen is the longest Kind, Principal, Reason, RequestID or
	// IdempotencyKey accepted, in bytes.
	MaxFieldLen = 4096
	// MaxDigestLen is the longest ChangeDigest accepted, in bytes.
	MaxDigestLen = 64
)

// Entry is one audit record: one applied write, delete, import chunk, schema
// change or decision-chain anchor. Every field is chosen by the leader and
// carried in the raft command, so every replica encodes identical bytes.
type Entry struct {
	// Seq is the entry's position in the log (its Merkle leaf index), starting
	// at 0. Log.Append assigns it.
	Seq uint64
	// Revision is the store revision the entry's change was applied at.
	Revision uint64
	// Time is the leader-chosen time carried in the command (never the local
	// clock). It is encoded as Unix nanoseconds and decoded in UTC.
	Time time.Time
	// Kind is one of the Kind* constants.
	Kind string
	// Principal is the authenticated caller.
	Principal string
	// Reason is the client's stated reason for the change.
	Reason string
	// RequestID is the request's id.
	RequestID string
	// IdempotencyKey is the request's idempotency key, if any.
	IdempotencyKey string
	// ChangeCount is how many changes the request made.
	ChangeCount int
	// ChangeDigest is DigestChanges over the canonical change list (for a
	// decision anchor, the chain head hash).
	ChangeDigest []byte
}

var knownKinds = map[string]bool{
	KindWrite: true, KindDelete: true, KindImport: true, KindSchema: true, KindDecisionAnchor: true,
	KindSuspend: true, KindUnsuspend: true, KindAlerts: true,
}

// Validate checks that e can be encoded canonically and losslessly: a known
// kind, a time within Unix-nanosecond range, valid UTF-8 fields within
// MaxFieldLen, a non-negative change count and a digest of at most
// MaxDigestLen bytes.
func (e *Entry) Validate() error {
	if !knownKinds[e.Kind] {
		return fmt.Errorf("%w: kind %q; want write, delete, import, schema, decision_anchor, suspend or unsuspend", ErrInvalidEntry, e.Kind)
	}
	if e.Time.IsZero() {
		return fmt.Errorf("%w: time is zero; the leader must set it in the command", ErrInvalidEntry)
	}
	if y := e.Time.UTC().Year(); y < 1678 || y > 2261 {
		return fmt.Errorf("%w: time %s is outside the years 1678..2261 that Unix nanoseconds cover", ErrInvalidEntry, e.Time)
	}
	for _, f := range []struct{ name, v string }{
		{"kind", e.Kind}, {"principal", e.Principal}, {"reason", e.Reason},
		{"request_id", e.RequestID}, {"idempotency_key", e.IdempotencyKey},
	} {
		if len(f.v) > MaxFieldLen {
			return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrInvalidEntry, f.name, len(f.v), MaxFieldLen)
		}
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidEntry, f.name)
		}
	}
	if e.ChangeCount < 0 {
		return fmt.Errorf("%w: change_count %d is negative", ErrInvalidEntry, e.ChangeCount)
	}
	if len(e.ChangeDigest) > MaxDigestLen {
		return fmt.Errorf("%w: change_digest is %d bytes, limit %d", ErrInvalidEntry, len(e.ChangeDigest), MaxDigestLen)
	}
	return nil
}

// MarshalBinary returns the canonical encoding of e (see the package
// documentation). Equal entries always encode to equal bytes.
func (e *Entry) MarshalBinary() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	n := 1 + 8 + 8 + 8 + 5*4 + len(e.Kind) + len(e.Principal) + len(e.Reason) +
		len(e.RequestID) + len(e.IdempotencyKey) + 8 + 4 + len(e.ChangeDigest)
	b := make([]byte, 0, n)
	b = append(b, entryVersion)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, e.Revision)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	for _, s := range []string{e.Kind, e.Principal, e.Reason, e.RequestID, e.IdempotencyKey} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(e.ChangeCount))
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.ChangeDigest)))
	b = append(b, e.ChangeDigest...)
	return b, nil
}

// UnmarshalEntry decodes a canonical entry encoding. It rejects anything that
// MarshalBinary would not have produced (unknown version, trailing bytes,
// invalid fields), so decoding and re-encoding gives back the same bytes.
func UnmarshalEntry(b []byte) (Entry, error) {
	d := decoder{b: b}
	var e Entry
	if v := d.byte(); v != entryVersion && d.err == nil {
		return Entry{}, fmt.Errorf("%w: encoding version %d, want %d", ErrInvalidEntry, v, entryVersion)
	}
	e.Seq = d.u64()
	e.Revision = d.u64()
	e.Time = time.Unix(0, int64(d.u64())).UTC()
	e.Kind = d.str(MaxFieldLen)
	e.Principal = d.str(MaxFieldLen)
	e.Reason = d.str(MaxFieldLen)
	e.RequestID = d.str(MaxFieldLen)
	e.IdempotencyKey = d.str(MaxFieldLen)
	cc := d.u64()
	if cc > math.MaxInt64 && d.err == nil {
		d.err = fmt.Errorf("change_count %d too large", cc)
	}
	e.ChangeCount = int(cc)
	if dg := d.str(MaxDigestLen); dg != "" {
		e.ChangeDigest = []byte(dg)
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrInvalidEntry, d.err)
	}
	if err := e.Validate(); err != nil {
		return Entry{}, err
	}
	return e, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.err = fmt.Errorf("truncated: need %d bytes, have %d", n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) str(limit int) string {
	v := d.take(4)
	if v == nil {
		return ""
	}
	n := binary.BigEndian.Uint32(v)
	if n > uint32(limit) {
		d.err = fmt.Errorf("field length %d exceeds limit %d", n, limit)
		return ""
	}
	return string(d.take(int(n)))
}

// LeafHash returns the RFC 6962 leaf hash of e: SHA-256(0x00 || canonical
// encoding).
func (e *Entry) LeafHash() ([]byte, error) {
	b, err := e.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return rfc6962.DefaultHasher.HashLeaf(b), nil
}

// DigestChanges returns the SHA-256 digest of a canonical change list: each
// change (a canonical string such as "touch dataset:x#reader@user:a"),
// in order, followed by a newline byte. An empty list digests the empty
// string. Changes must not contain newlines; the caller's canonical form
// guarantees that.
func DigestChanges(changes []string) []byte {
	h := sha256.New()
	for _, c := range changes {
		h.Write([]byte(c))
		h.Write([]byte{'\n'})
	}
	return h.Sum(nil)
}

// entryJSON is the JSON form of an entry (API responses and export lines).
type entryJSON struct {
	Seq            uint64    `json:"seq"`
	Revision       uint64    `json:"revision"`
	Time           time.Time `json:"time"`
	Kind           string    `json:"kind"`
	Principal      string    `json:"principal"`
	Reason         string    `json:"reason"`
	RequestID      string    `json:"request_id"`
	IdempotencyKey string    `json:"idempotency_key"`
	ChangeCount    int       `json:"change_count"`
	ChangeDigest   string    `json:"change_digest"`
	LeafHash       string    `json:"leaf_hash,omitempty"`
}

func (e *Entry) toJSON() entryJSON {
	return entryJSON{
		Seq: e.Seq, Revision: e.Revision, Time: e.Time.UTC(), Kind: e.Kind,
		Principal: e.Principal, Reason: e.Reason, RequestID: e.RequestID,
		IdempotencyKey: e.IdempotencyKey, ChangeCount: e.ChangeCount,
		ChangeDigest: hex.EncodeToString(e.ChangeDigest),
	}
}

func (j *entryJSON) toEntry() (Entry, error) {
	dg, err := hex.DecodeString(j.ChangeDigest)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: change_digest is not hex: %v", ErrInvalidEntry, err)
	}
	if len(dg) == 0 {
		dg = nil
	}
	return Entry{
		Seq: j.Seq, Revision: j.Revision, Time: j.Time.UTC(), Kind: j.Kind,
		Principal: j.Principal, Reason: j.Reason, RequestID: j.RequestID,
		IdempotencyKey: j.IdempotencyKey, ChangeCount: j.ChangeCount, ChangeDigest: dg,
	}, nil
}

// MarshalJSON renders e with snake_case names, the time in RFC 3339 UTC with
// nanoseconds and the digest in hex.
func (e Entry) MarshalJSON() ([]byte, error) {
	return json.Marshal(e.toJSON())
}

// UnmarshalJSON parses the form MarshalJSON writes.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var j entryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	v, err := j.toEntry()
	if err != nil {
		return err
	}
	*e = v
	return nil
}
