package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/trellis-authz/trellis/tuple"
)

// Key prefixes (see doc.go).
const (
	sep byte = 0x00

	pfxForward = "t\x00"
	pfxReverse = "r\x00"
	pfxChange  = "c\x00"
	pfxMeta    = "m\x00"
	pfxExtra   = "x\x00"
)

var (
	keyApplied       = []byte(pfxMeta + "applied")
	keySchema        = []byte(pfxMeta + "schema")
	keyHorizon       = []byte(pfxMeta + "horizon")
	keyChangeHorizon = []byte(pfxMeta + "changes_horizon")
	keyChangeFloor   = []byte(pfxMeta + "changes_floor")
)

// userMeta bits on relationship entries, so key-only scans know whether the
// value must be read.
const (
	umCaveat     byte = 1 << 0
	umExpiration byte = 1 << 1
)

func appendForwardKey(b []byte, r *tuple.Relationship) []byte {
	b = append(b, pfxForward...)
	b = append(b, r.Resource.Type...)
	b = append(b, sep)
	b = append(b, r.Resource.ID...)
	b = append(b, sep)
	b = append(b, r.Relation...)
	b = append(b, sep)
	b = append(b, r.Subject.Type...)
	b = append(b, sep)
	b = append(b, r.Subject.ID...)
	b = append(b, sep)
	b = append(b, r.Subject.Relation...)
	return b
}

func appendReverseKey(b []byte, r *tuple.Relationship) []byte {
	b = append(b, pfxReverse...)
	b = append(b, r.Subject.Type...)
	b = append(b, sep)
	b = append(b, r.Subject.ID...)
	b = append(b, sep)
	b = append(b, r.Subject.Relation...)
	b = append(b, sep)
	b = append(b, r.Resource.Type...)
	b = append(b, sep)
	b = append(b, r.Relation...)
	b = append(b, sep)
	b = append(b, r.Resource.ID...)
	return b
}

// splitKey splits the six 0x00-separated fields after a two-byte prefix.
func splitKey(k []byte) (f [6]string, ok bool) {
	if len(k) < 2 {
		return f, false
	}
	s := string(k[2:]) // one allocation; the fields share it
	for i := 0; i < 5; i++ {
		j := strings.IndexByte(s, sep)
		if j < 0 {
			return f, false
		}
		f[i], s = s[:j], s[j+1:]
	}
	if strings.IndexByte(s, sep) >= 0 {
		return f, false
	}
	f[5] = s
	return f, true
}

func parseForwardKey(k []byte) (tuple.Relationship, error) {
	f, ok := splitKey(k)
	if !ok || !bytes.HasPrefix(k, []byte(pfxForward)) {
		return tuple.Relationship{}, fmt.Errorf("%w: forward key %q", ErrCorrupt, k)
	}
	return tuple.Relationship{
		Resource: tuple.ObjectRef{Type: f[0], ID: f[1]},
		Relation: f[2],
		Subject:  tuple.SubjectRef{Type: f[3], ID: f[4], Relation: f[5]},
	}, nil
}

func parseReverseKey(k []byte) (tuple.Relationship, error) {
	f, ok := splitKey(k)
	if !ok || !bytes.HasPrefix(k, []byte(pfxReverse)) {
		return tuple.Relationship{}, fmt.Errorf("%w: reverse key %q", ErrCorrupt, k)
	}
	return tuple.Relationship{
		Resource: tuple.ObjectRef{Type: f[3], ID: f[5]},
		Relation: f[4],
		Subject:  tuple.SubjectRef{Type: f[0], ID: f[1], Relation: f[2]},
	}, nil
}

func changeKey(rev uint64) []byte {
	k := make([]byte, len(pfxChange)+8)
	copy(k, pfxChange)
	binary.BigEndian.PutUint64(k[len(pfxChange):], rev)
	return k
}

func extraKey(k []byte) []byte {
	out := make([]byte, 0, len(pfxExtra)+len(k))
	return append(append(out, pfxExtra...), k...)
}

func be64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}

// hasSep reports whether any of the strings holds the key separator.
func hasSep(ss ...string) bool {
	for _, s := range ss {
		if strings.IndexByte(s, sep) >= 0 {
			return true
		}
	}
	return false
}
