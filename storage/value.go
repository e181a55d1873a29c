package storage

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/trellis-authz/trellis/tuple"
)

// Relationship value encoding (see doc.go): a relationship with neither caveat
// nor expiration has an empty value. Otherwise:
//
//	flags byte (1 = caveat, 2 = expiration)
//	[expiration: varint unix seconds, uvarint nanoseconds]
//	[caveat: uvarint len + name, context]
//
// A context is a uvarint count of entries in sorted key order, each a uvarint
// len + key and a tagged value (see the tag constants).
const (
	tagNull   byte = 0
	tagFalse  byte = 1
	tagTrue   byte = 2
	tagInt    byte = 3 // zig-zag varint int64
	tagFloat  byte = 4 // 8 bytes IEEE 754, big-endian
	tagString byte = 5 // uvarint len + bytes
	tagList   byte = 6 // uvarint n + values
	tagMap    byte = 7 // a context
)

const maxNesting = 64

// appendValue encodes r's caveat and expiration and returns the userMeta bits.
func appendValue(b []byte, r *tuple.Relationship) ([]byte, byte, error) {
	var flags byte
	if r.Caveat != nil {
		flags |= umCaveat
	}
	if r.Expiration != nil {
		flags |= umExpiration
	}
	if flags == 0 {
		return b, 0, nil
	}
	b = append(b, flags)
	if r.Expiration != nil {
		t := r.Expiration.UTC()
		b = binary.AppendVarint(b, t.Unix())
		b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	}
	if r.Caveat != nil {
		b = appendString(b, r.Caveat.Name)
		var err error
		if b, err = appendContext(b, r.Caveat.Context, 0); err != nil {
			return nil, 0, err
		}
	}
	return b, flags, nil
}

// decodeValue fills r's caveat and expiration from v.
func decodeValue(v []byte, r *tuple.Relationship) error {
	if len(v) == 0 {
		return nil
	}
	d := decoder{b: v}
	flags := d.byte()
	if flags&umExpiration != 0 {
		sec := d.varint()
		nsec := d.uvarint()
		if d.err == nil {
			if nsec >= 1e9 {
				d.fail("expiration nanoseconds out of range")
			}
			t := time.Unix(sec, int64(nsec)).UTC()
			r.Expiration = &t
		}
	}
	if flags&umCaveat != 0 {
		c := &tuple.Caveat{Name: d.string()}
		c.Context = d.context(0)
		r.Caveat = c
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return fmt.Errorf("%w: relationship value: %v", ErrCorrupt, d.err)
	}
	return nil
}

// expirationOf decodes only the expiration of a value.
func expirationOf(v []byte) (time.Time, bool) {
	if len(v) == 0 || v[0]&umExpiration == 0 {
		return time.Time{}, false
	}
	d := decoder{b: v[1:]}
	sec, nsec := d.varint(), d.uvarint()
	if d.err != nil {
		return time.Time{}, false
	}
	return time.Unix(sec, int64(nsec)), true
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendContext(b []byte, ctx map[string]any, depth int) ([]byte, error) {
	if depth > maxNesting {
		return nil, fmt.Errorf("caveat context nested deeper than %d levels", maxNesting)
	}
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	var err error
	for _, k := range keys {
		b = appendString(b, k)
		if b, err = appendAny(b, ctx[k], depth+1); err != nil {
			return nil, fmt.Errorf("caveat context key %q: %w", k, err)
		}
	}
	return b, nil
}

func appendAny(b []byte, v any, depth int) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, tagNull), nil
	case bool:
		if x {
			return append(b, tagTrue), nil
		}
		return append(b, tagFalse), nil
	case int64:
		return binary.AppendVarint(append(b, tagInt), x), nil
	case int:
		return binary.AppendVarint(append(b, tagInt), int64(x)), nil
	case int32:
		return binary.AppendVarint(append(b, tagInt), int64(x)), nil
	case uint32:
		return binary.AppendVarint(append(b, tagInt), int64(x)), nil
	case uint64:
		if x > math.MaxInt64 {
			return appendAny(b, float64(x), depth)
		}
		return binary.AppendVarint(append(b, tagInt), int64(x)), nil
	case float64:
		// Integral floats are stored as integers, except -0, which would
		// come back as 0 (JSON input never holds it: "-0" parses as the
		// integer 0; a float -0 stays a float).
		if x == math.Trunc(x) && x < 1<<53 && x > -(1<<53) && !(x == 0 && math.Signbit(x)) {
			return binary.AppendVarint(append(b, tagInt), int64(x)), nil
		}
		return binary.BigEndian.AppendUint64(append(b, tagFloat), math.Float64bits(x)), nil
	case float32:
		return appendAny(b, float64(x), depth)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return appendAny(b, i, depth)
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %q: %w", x, err)
		}
		return appendAny(b, f, depth)
	case string:
		return appendString(append(b, tagString), x), nil
	case []any:
		if depth > maxNesting {
			return nil, fmt.Errorf("nested deeper than %d levels", maxNesting)
		}
		b = binary.AppendUvarint(append(b, tagList), uint64(len(x)))
		var err error
		for i, e := range x {
			if b, err = appendAny(b, e, depth+1); err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
		}
		return b, nil
	case map[string]any:
		return appendContext(append(b, tagMap), x, depth)
	}
	return nil, fmt.Errorf("value of type %T cannot be stored; use JSON values (null, bool, number, string, list, object)", v)
}

// decoder reads the encodings above; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(msg string) {
	if d.err == nil {
		d.err = fmt.Errorf("%s", msg)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("length beyond end")
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) context(depth int) map[string]any {
	if depth > maxNesting {
		d.fail("nested too deep")
		return nil
	}
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) { // every entry takes at least one byte
		d.fail("count beyond end")
		return nil
	}
	if n == 0 {
		return nil
	}
	m := make(map[string]any, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		k := d.string()
		m[k] = d.any(depth + 1)
	}
	return m
}

func (d *decoder) any(depth int) any {
	switch d.byte() {
	case tagNull:
		return nil
	case tagFalse:
		return false
	case tagTrue:
		return true
	case tagInt:
		return d.varint()
	case tagFloat:
		if len(d.b) < 8 {
			d.fail("truncated float")
			return nil
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(d.b))
		d.b = d.b[8:]
		return f
	case tagString:
		return d.string()
	case tagList:
		if depth > maxNesting {
			d.fail("nested too deep")
			return nil
		}
		n := d.uvarint()
		if n > uint64(len(d.b)) {
			d.fail("count beyond end")
			return nil
		}
		l := make([]any, 0, n)
		for i := uint64(0); i < n && d.err == nil; i++ {
			l = append(l, d.any(depth+1))
		}
		return l
	case tagMap:
		m := d.context(depth)
		if m == nil && d.err == nil {
			m = map[string]any{}
		}
		return m
	}
	d.fail("unknown value tag")
	return nil
}

// appendRelationship encodes a whole relationship (change feed records).
func appendRelationship(b []byte, r *tuple.Relationship) ([]byte, error) {
	for _, s := range [...]string{r.Resource.Type, r.Resource.ID, r.Relation, r.Subject.Type, r.Subject.ID, r.Subject.Relation} {
		b = appendString(b, s)
	}
	v, _, err := appendValue(nil, r)
	if err != nil {
		return nil, err
	}
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...), nil
}

func (d *decoder) relationship() tuple.Relationship {
	var r tuple.Relationship
	r.Resource.Type = d.string()
	r.Resource.ID = d.string()
	r.Relation = d.string()
	r.Subject.Type = d.string()
	r.Subject.ID = d.string()
	r.Subject.Relation = d.string()
	v := d.bytes()
	if d.err == nil {
		if err := decodeValue(v, &r); err != nil {
			d.fail(err.Error())
		}
	}
	return r
}

// Change record: version byte, uvarint len + meta, uvarint n, then n times
// (op byte, relationship).
const changeRecordVersion = 1

func encodeChangeRecord(meta []byte, changes []Change) ([]byte, error) {
	b := make([]byte, 0, 16+len(meta)+len(changes)*64)
	b = append(b, changeRecordVersion)
	b = binary.AppendUvarint(b, uint64(len(meta)))
	b = append(b, meta...)
	b = binary.AppendUvarint(b, uint64(len(changes)))
	var err error
	for i := range changes {
		b = append(b, byte(changes[i].Op))
		if b, err = appendRelationship(b, &changes[i].Relationship); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func decodeChangeRecord(v []byte) (meta []byte, changes []Change, err error) {
	d := decoder{b: v}
	if ver := d.byte(); d.err == nil && ver != changeRecordVersion {
		return nil, nil, fmt.Errorf("%w: change record version %d", ErrCorrupt, ver)
	}
	if m := d.bytes(); len(m) > 0 {
		meta = slices.Clone(m)
	}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("count beyond end")
	}
	if d.err == nil {
		changes = make([]Change, 0, n)
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		op := tuple.Op(d.byte())
		changes = append(changes, Change{Op: op, Relationship: d.relationship()})
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, nil, fmt.Errorf("%w: change record: %v", ErrCorrupt, d.err)
	}
	return meta, changes, nil
}

// Schema value: uvarint revision written, uvarint len + hash, text.
func encodeSchema(rev uint64, s SchemaRecord) []byte {
	b := binary.AppendUvarint(nil, rev)
	b = appendString(b, s.Hash)
	return append(b, s.Text...)
}

func decodeSchema(v []byte) (SchemaRecord, uint64, error) {
	d := decoder{b: v}
	rev := d.uvarint()
	hash := d.string()
	if d.err != nil {
		return SchemaRecord{}, 0, fmt.Errorf("%w: schema record: %v", ErrCorrupt, d.err)
	}
	return SchemaRecord{Text: string(d.b), Hash: hash}, rev, nil
}
