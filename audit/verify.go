package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/transparency-dev/merkle/compact"
)

// MaxExportLine is the longest export line Verify accepts, in bytes.
const MaxExportLine = 1 << 20

// Export writes the first size committed entries (size <= Size()) to w as
// NDJSON, one entry per line in sequence order, each with its stored leaf
// hash in "leaf_hash" (hex).
func (l *Log) Export(w io.Writer, size uint64) error {
	if cur := l.Size(); size > cur {
		return fmt.Errorf("%w: export of %d entries, log size %d", ErrBadRange, size, cur)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for seq := range size {
		e, _, err := l.entry(seq)
		if err != nil {
			return err
		}
		leaf, err := l.node(compact.NewNodeID(0, seq))
		if err != nil {
			return err
		}
		j := e.toJSON()
		j.LeafHash = hex.EncodeToString(leaf)
		if err := enc.Encode(&j); err != nil {
			return fmt.Errorf("audit: export entry %d: %w", seq, err)
		}
	}
	return bw.Flush()
}

// VerifyReport says what Verify checked.
type VerifyReport struct {
	// Size is the number of entries in the export.
	Size uint64 `json:"size"`
	// Root is the RFC 6962 root over all of them.
	Root []byte `json:"root"`
	// LastRevision is the newest entry's revision (0 when empty).
	LastRevision uint64 `json:"last_revision"`
	// CheckpointVerified is true when a checkpoint was given and the export
	// reproduced its root at its size (and its revision and time).
	CheckpointVerified bool `json:"checkpoint_verified"`
	// SignatureVerified is true when a public key was given and the
	// checkpoint's signature verified with it.
	SignatureVerified bool `json:"signature_verified"`
}

// Verify checks an export written by Export, offline.
//
// It checks, line by line, that sequence numbers start at 0 and are
// contiguous, that each line's recomputed leaf hash (SHA-256(0x00 ||
// canonical entry)) equals its "leaf_hash", and that revisions never
// decrease; it recomputes the RFC 6962 root. With a checkpoint, the root of
// the first checkpoint.Size entries must equal the checkpoint's root and the
// entry at checkpoint.Size-1 must carry its revision and time; an export
// shorter than the checkpoint fails. With a public key (which needs a
// checkpoint) the checkpoint's signature is checked first.
//
// A failure tied to a position is a *VerifyError whose Seq is the first bad
// sequence number; all failures wrap ErrTampered, ErrBadSignature or
// ErrWrongKey.
func Verify(export io.Reader, checkpoint *Checkpoint, pub ed25519.PublicKey) (*VerifyReport, error) {
	rep := &VerifyReport{}
	if pub != nil {
		if checkpoint == nil {
			return nil, errors.New("audit verify: a public key was given without a checkpoint to check it against")
		}
		if err := checkpoint.Verify(pub); err != nil {
			return nil, err
		}
		rep.SignatureVerified = true
	}
	if checkpoint != nil && checkpoint.Size == 0 {
		if !bytes.Equal(checkpoint.Root, hasher.EmptyRoot()) {
			return nil, &VerifyError{Err: ErrTampered, Msg: "checkpoint of size 0 does not have the empty root"}
		}
		rep.CheckpointVerified = true
	}

	rng := rangeFactory.NewEmptyRange(0)
	sc := bufio.NewScanner(export)
	sc.Buffer(make([]byte, 0, 64<<10), MaxExportLine)
	var (
		seq     uint64
		line    int
		lastRev uint64
		blank   int // line number of a blank line, which may only be last
	)
	fail := func(msg string, args ...any) error {
		return &VerifyError{Seq: seq, HasSeq: true, Line: line, Err: ErrTampered, Msg: fmt.Sprintf(msg, args...)}
	}
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if len(bytes.TrimSpace(text)) == 0 {
			if blank == 0 {
				blank = line
			}
			continue
		}
		if blank != 0 {
			line = blank
			return nil, fail("blank line inside the export")
		}
		var j entryJSON
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&j); err != nil {
			return nil, fail("line is not an export entry: %v", err)
		}
		if dec.More() {
			return nil, fail("more than one JSON value on the line")
		}
		switch {
		case j.Seq < seq:
			return nil, fail("found sequence %d again: duplicated or reordered entry", j.Seq)
		case j.Seq > seq:
			return nil, fail("found sequence %d: entry %d is missing (deleted or reordered)", j.Seq, seq)
		}
		e, err := j.toEntry()
		if err != nil {
			return nil, fail("%v", err)
		}
		leaf, err := e.LeafHash()
		if err != nil {
			return nil, fail("%v", err)
		}
		claimed, err := hex.DecodeString(j.LeafHash)
		if err != nil || len(claimed) != hasher.Size() {
			return nil, fail("leaf_hash %q is not %d hex bytes", j.LeafHash, hasher.Size())
		}
		if !bytes.Equal(leaf, claimed) {
			return nil, fail("leaf hash mismatch: recomputed %x, export says %x (the entry was edited)", leaf, claimed)
		}
		if e.Revision < lastRev {
			return nil, fail("revision %d is below the previous entry's %d", e.Revision, lastRev)
		}
		lastRev = e.Revision
		if err := rng.Append(leaf, nil); err != nil {
			return nil, fail("%v", err)
		}
		seq++
		if checkpoint != nil && seq == checkpoint.Size {
			root, err := rng.GetRootHash(nil)
			if err != nil {
				return nil, fail("%v", err)
			}
			if !bytes.Equal(root, checkpoint.Root) {
				return nil, &VerifyError{Err: ErrTampered, Msg: fmt.Sprintf(
					"root of the first %d entries is %x, checkpoint says %x", seq, root, checkpoint.Root)}
			}
			if e.Revision != checkpoint.Revision || !e.Time.Equal(checkpoint.Time) {
				seq--
				return nil, fail("entry has revision %d time %s, checkpoint of size %d says revision %d time %s",
					e.Revision, e.Time.Format("2006-01-02T15:04:05.999999999Z07:00"), checkpoint.Size,
					checkpoint.Revision, checkpoint.Time.Format("2006-01-02T15:04:05.999999999Z07:00"))
			}
			rep.CheckpointVerified = true
		}
	}
	if err := sc.Err(); err != nil {
		line++
		return nil, fail("reading the export: %v", err)
	}
	if checkpoint != nil && seq < checkpoint.Size {
		line = 0
		return nil, fail("export ends after %d entries but the checkpoint covers %d: truncated", seq, checkpoint.Size)
	}
	root, err := rootOf(rng)
	if err != nil {
		return nil, err
	}
	rep.Size, rep.Root, rep.LastRevision = seq, root, lastRev
	return rep, nil
}
