package api

import (
	"bytes"
	"encoding/json"
	"github.com/trellis-authz/trellis/wire"
	"testing"
)

// FuzzPlainImportLine: the import's fast path for {"relationship":"..."}
// lines agrees with the JSON decoder it skips, on every line it takes.
func FuzzPlainImportLine(f *testing.F) {
	for _, s := range []string{
		`{"relationship":"dataset:d1#reader@user:ana"}`,
		`{"relationship":"team:ml#member@team:core#member"}`,
		`{"relationship":"doc:1#viewer@user:x[purpose_is:{\"purpose\":\"eval\"}]"}`,
		`{"relationship":"doc:1#viewer@user:\u0078"}`,
		`{"relationship": "doc:1#viewer@user:x"}`,
		`{"relationship":"doc:1#viewer@user:x","extra":1}`,
		`{"relationship":"doc:1#viewer@user:ü"}`,
		`{"relationship":""}`,
		`{"relationship":"a"}}`,
		`{"relationship":"x"} `,
		`{"relationship":"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		text, ok := plainImportLine(b)
		if !ok {
			return
		}
		var l wire.ExportLine
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("fast path took %q as %q, the decoder rejects it: %v", b, text, err)
		}
		if dec.More() {
			t.Fatalf("fast path took %q, which holds more than one JSON value", b)
		}
		if l.Relationship != text {
			t.Fatalf("fast path read %q from %q, the decoder %q", text, b, l.Relationship)
		}
	})
}

func TestPlainImportLine(t *testing.T) {
	for line, want := range map[string]bool{
		`{"relationship":"dataset:d1#reader@user:ana"}`:       true,
		`{"relationship": "dataset:d1#reader@user:ana"}`:      false, // a space: the decoder's job
		`{"relationship":"doc:1#viewer@user:\u0078"}`:         false, // an escape
		`{"relationship":"doc:1#viewer@user:x","reason":"r"}`: false, // another field
		`dataset:d1#reader@user:ana`:                          false, // plain text lines are parsed as text
	} {
		if _, ok := plainImportLine([]byte(line)); ok != want {
			t.Errorf("plainImportLine(%s) took it: %v, want %v", line, ok, want)
		}
	}
}
