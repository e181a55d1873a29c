package storage

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/tuple"
)

func TestValueRoundTrip(t *testing.T) {
	exp := time.Date(2031, 1, 2, 3, 4, 5, 6, time.UTC)
	old := time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		rel  string
		exp  *time.Time
		size int // encoded value length, to keep the encoding compact
	}{
		{"plain", "doc:a#viewer@user:ana", nil, 0},
		{"caveat without context", "doc:a#viewer@user:ana[cav_x]", nil, 8},
		{"caveat with context", `doc:a#viewer@user:ana[cav_x:{"a":1,"b":"two","c":[true,false,null],"d":{"e":2.5}}]`, nil, -1},
		{"expiration", "doc:a#viewer@user:ana", &exp, -1},
		{"expiration before 1678", "doc:a#viewer@user:ana", &old, -1},
		{"both", `doc:a#viewer@user:ana[cav_x:{"n":-9007199254740993}]`, &exp, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := tuple.MustParse(c.rel)
			r.Expiration = c.exp
			v, um, err := appendValue(nil, &r)
			if err != nil {
				t.Fatal(err)
			}
			if c.size >= 0 && len(v) != c.size {
				t.Errorf("encoded size: got %d, want %d", len(v), c.size)
			}
			if (um != 0) != (len(v) != 0) || (um&umExpiration != 0) != (c.exp != nil) {
				t.Errorf("userMeta %b does not describe the value", um)
			}
			got := tuple.Relationship{Resource: r.Resource, Relation: r.Relation, Subject: r.Subject}
			if err := decodeValue(v, &got); err != nil {
				t.Fatal(err)
			}
			if !got.Equal(r) {
				t.Errorf("round trip: got %s, want %s", got, r)
			}
			if c.exp != nil {
				e, ok := expirationOf(v)
				if !ok || !e.Equal(*c.exp) {
					t.Errorf("expirationOf: got %v %v, want %v", e, ok, *c.exp)
				}
			}
			// The encoding is canonical: encoding again gives the same bytes.
			v2, _, _ := appendValue(nil, &got)
			if !bytes.Equal(v, v2) {
				t.Errorf("re-encoding differs: %x vs %x", v, v2)
			}
		})
	}
}

func TestKeyRoundTrip(t *testing.T) {
	for _, s := range []string{"doc:a#viewer@user:ana", "org/doc:a-b=c#viewer@team:ml#member", "doc:a#viewer@user:*"} {
		r := tuple.MustParse(s)
		f, err := parseForwardKey(appendForwardKey(nil, &r))
		if err != nil || f.Key() != r.Key() {
			t.Errorf("forward %s: got %s %v", s, f, err)
		}
		b, err := parseReverseKey(appendReverseKey(nil, &r))
		if err != nil || b.Key() != r.Key() {
			t.Errorf("reverse %s: got %s %v", s, b, err)
		}
	}
	if _, err := parseForwardKey([]byte("t\x00a\x00b")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("short key: got %v, want ErrCorrupt", err)
	}
}

func TestChangeRecordRoundTrip(t *testing.T) {
	changes := []Change{
		{Op: tuple.OpTouch, Relationship: tuple.MustParse(`doc:a#viewer@user:ana[cav_x:{"k":"v"}][expiration:2030-01-01T00:00:00Z]`)},
		{Op: tuple.OpDelete, Relationship: tuple.MustParse("doc:b#viewer@team:ml#member")},
	}
	v, err := encodeChangeRecord([]byte("meta"), changes)
	if err != nil {
		t.Fatal(err)
	}
	meta, got, err := decodeChangeRecord(v)
	if err != nil || string(meta) != "meta" || len(got) != 2 {
		t.Fatalf("got %q %v %v", meta, got, err)
	}
	for i := range got {
		if got[i].Op != changes[i].Op || !got[i].Relationship.Equal(changes[i].Relationship) {
			t.Errorf("change %d: got %v %s, want %v %s", i, got[i].Op, got[i].Relationship, changes[i].Op, changes[i].Relationship)
		}
	}
	for n := 0; n < len(v); n++ {
		if _, _, err := decodeChangeRecord(v[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: got %v, want ErrCorrupt", n, err)
		}
	}
}

// FuzzDecodeValue: decoding arbitrary bytes never panics, and whatever
// decodes re-encodes to bytes that decode to the same relationship.
func FuzzDecodeValue(f *testing.F) {
	exp := time.Date(2031, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, s := range []string{`doc:a#viewer@user:a[cav_x:{"a":[1,{"b":null}],"c":1.5}]`, "doc:a#viewer@user:a[cav_x]"} {
		r := tuple.MustParse(s)
		r.Expiration = &exp
		v, _, _ := appendValue(nil, &r)
		f.Add(v)
	}
	f.Add([]byte{3, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r tuple.Relationship
		if err := decodeValue(data, &r); err != nil {
			return
		}
		v, _, err := appendValue(nil, &r)
		if err != nil {
			t.Fatalf("decoded value does not re-encode: %v", err)
		}
		var r2 tuple.Relationship
		if err := decodeValue(v, &r2); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		if !r2.Equal(r) {
			t.Fatalf("round trip changed the value: %s vs %s", r, r2)
		}
	})
}
