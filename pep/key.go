package pep

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"math"
	"slices"
	"strings"
)

// The cache key of a question is a 64-bit hash of its resource, permission,
// subject and context, computed without allocating; an entry keeps the
// question itself (the context in canonical form) and a lookup compares it
// field by field, so two questions that collide in the hash never share an
// answer.
//
// Canonical context: two contexts are the same key only when they are sent
// to Trellis as the same JSON. Strings and booleans are themselves; a whole
// number of magnitude at most 2^53 is the same key whatever Go type carries
// it (int, int64, uint8, float64(3)...), since its JSON is the same digits;
// other numbers keep their kind and bits; any other value (a map, a slice, a
// struct, a time) is keyed by its JSON encoding, which costs an allocation
// (only such values do).

// value kinds of a canonical context value.
const (
	kNull uint8 = iota + 1
	kFalse
	kTrue
	kInt   // n is an int64 in two's complement
	kUint  // n is a uint64 above math.MaxInt64
	kFloat // n is the float64's bits
	kString
	kJSON // s is the JSON encoding
	kBad  // not encodable as JSON (NaN, a channel...): never equal, never cached
)

// cval is one canonical context value.
type cval struct {
	kind uint8
	n    uint64
	s    string
}

// ckv is one canonical context entry; an entry's context is sorted by key.
type ckv struct {
	key string
	val cval
}

// maxExactInt is the largest magnitude below which every integer is a
// float64 and its JSON is its digits.
const maxExactInt = 1 << 53

func canon(v any) cval {
	switch x := v.(type) {
	case nil:
		return cval{kind: kNull}
	case bool:
		if x {
			return cval{kind: kTrue}
		}
		return cval{kind: kFalse}
	case string:
		return cval{kind: kString, s: x}
	case int:
		return cval{kind: kInt, n: uint64(int64(x))}
	case int8:
		return cval{kind: kInt, n: uint64(int64(x))}
	case int16:
		return cval{kind: kInt, n: uint64(int64(x))}
	case int32:
		return cval{kind: kInt, n: uint64(int64(x))}
	case int64:
		return cval{kind: kInt, n: uint64(x)}
	case uint:
		return canonUint(uint64(x))
	case uint8:
		return canonUint(uint64(x))
	case uint16:
		return canonUint(uint64(x))
	case uint32:
		return canonUint(uint64(x))
	case uint64:
		return canonUint(x)
	case float32:
		return canonFloat(float64(x))
	case float64:
		return canonFloat(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return cval{kind: kBad}
	}
	return cval{kind: kJSON, s: string(b)}
}

func canonUint(u uint64) cval {
	if u <= math.MaxInt64 {
		return cval{kind: kInt, n: u}
	}
	return cval{kind: kUint, n: u}
}

func canonFloat(f float64) cval {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return cval{kind: kBad}
	}
	if f == math.Trunc(f) && f >= -maxExactInt && f <= maxExactInt {
		return cval{kind: kInt, n: uint64(int64(f))}
	}
	return cval{kind: kFloat, n: math.Float64bits(f)}
}

func (a cval) equal(b cval) bool {
	return a.kind != kBad && a.kind == b.kind && a.n == b.n && a.s == b.s
}

// mix is a 64-bit finalizer (splitmix64's).
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// hasher computes question keys with one random seed per Client.
type hasher struct{ seed maphash.Seed }

func (h hasher) str(s string) uint64 { return maphash.String(h.seed, s) }

func (h hasher) val(v cval) uint64 {
	x := mix(uint64(v.kind)*0x9e3779b97f4a7c15 ^ v.n)
	if v.kind == kString || v.kind == kJSON {
		x ^= h.str(v.s)
	}
	return x
}

// key hashes a question. The context's pairs are combined by addition, so
// the map's iteration order does not matter. It reports whether the question
// can be cached at all (a context value that is not JSON cannot).
func (h hasher) key(q *Question) (uint64, bool) {
	k := h.str(q.Resource)
	k = mix(k ^ h.str(q.Permission)*31)
	k = mix(k ^ h.str(q.Subject)*131)
	var sum uint64
	for name, v := range q.Context {
		c := canon(v)
		if c.kind == kBad {
			return 0, false
		}
		sum += mix(h.str(name) ^ h.val(c)*0x2545f4914f6cdd1d)
	}
	return mix(k ^ sum), true
}

// canonContext returns a question's context in the form an entry keeps.
func canonContext(ctx map[string]any) []ckv {
	if len(ctx) == 0 {
		return nil
	}
	out := make([]ckv, 0, len(ctx))
	for k, v := range ctx {
		out = append(out, ckv{k, canon(v)})
	}
	slices.SortFunc(out, func(a, b ckv) int { return strings.Compare(a.key, b.key) })
	return out
}

// sameContext says whether a question's context is the canonical one kept.
func sameContext(kept []ckv, ctx map[string]any) bool {
	if len(kept) != len(ctx) {
		return false
	}
	for k, v := range ctx {
		i, found := slices.BinarySearchFunc(kept, k, func(e ckv, k string) int { return strings.Compare(e.key, k) })
		if !found || !kept[i].val.equal(canon(v)) {
			return false
		}
	}
	return true
}

// contextJSON encodes a question's context for the REST body (nil when
// empty).
func contextJSON(ctx map[string]any) (json.RawMessage, error) {
	if len(ctx) == 0 {
		return nil, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ctx); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
