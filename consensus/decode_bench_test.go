package consensus

import (
	"fmt"
	"testing"

	"github.com/trellis-authz/trellis/tuple"
)

// BenchmarkDecodeImport5000 measures decoding one import command of 5,000
// relationships (JSON, then parsing each relationship), which every replica's
// state machine does for every import chunk before it can stage it.
func BenchmarkDecodeImport5000(b *testing.B) {
	c := &ImportCommand{}
	for i := range 5000 {
		c.Relationships = append(c.Relationships, tuple.MustParse(fmt.Sprintf("dataset:o1-p%d-d%d#reader@user:o1-u%d", i%50, i, i)))
	}
	data, err := Encode(c)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
