package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/tuple"
)

func TestParseConsistency(t *testing.T) {
	tests := []struct {
		in      string
		want    *wire.Consistency
		wantErr string
	}{
		{"", nil, ""},
		{"minimize_latency", &wire.Consistency{Mode: wire.MinimizeLatency}, ""},
		{"fully_consistent", &wire.Consistency{Mode: wire.FullyConsistent}, ""},
		{"at_least_as_fresh:t1.AbC", &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: "t1.AbC"}, ""},
		{"exact:t1.AbC", &wire.Consistency{Mode: wire.AtExactSnapshot, Token: "t1.AbC"}, ""},
		{"at_exact_snapshot:t1.AbC", &wire.Consistency{Mode: wire.AtExactSnapshot, Token: "t1.AbC"}, ""},
		{"exact", nil, "needs a token"},
		{"at_least_as_fresh:", nil, "needs a token"},
		{"fully_consistent:t1.x", nil, "takes no token"},
		{"latest", nil, "use minimize_latency"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseConsistency(tc.in)
			if tc.wantErr != "" {
				var u usageError
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.As(err, &u) {
					t.Fatalf("got %v, want a usage error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestFilterPattern(t *testing.T) {
	rel := func(s string) *string { return &s }
	tests := []struct {
		name    string
		pattern string
		flags   filterFlags
		want    tuple.Filter
		wantErr string
	}{
		{"type", "dataset", filterFlags{}, tuple.Filter{ResourceType: "dataset"}, ""},
		{"object", "dataset:claims", filterFlags{}, tuple.Filter{ResourceType: "dataset", ResourceID: "claims"}, ""},
		{"object relation", "dataset:claims#reader", filterFlags{}, tuple.Filter{ResourceType: "dataset", ResourceID: "claims", Relation: "reader"}, ""},
		{"type relation subject", "team#member@team:research#member", filterFlags{},
			tuple.Filter{ResourceType: "team", Relation: "member", Subject: &tuple.SubjectFilter{Type: "team", ID: "research", Relation: rel("member")}}, ""},
		{"flags", "", filterFlags{resourceType: "dataset", relation: "reader", subject: "user:ana"},
			tuple.Filter{ResourceType: "dataset", Relation: "reader", Subject: &tuple.SubjectFilter{Type: "user", ID: "ana"}}, ""},
		{"pattern and flags agree", "dataset:claims", filterFlags{resourceType: "dataset", resourceIDPrefix: ""},
			tuple.Filter{ResourceType: "dataset", ResourceID: "claims"}, ""},
		{"subject type only", "", filterFlags{subject: "user"}, tuple.Filter{Subject: &tuple.SubjectFilter{Type: "user"}}, ""},
		{"conflict", "dataset:claims", filterFlags{resourceID: "other"}, tuple.Filter{}, "resource ID given twice"},
		{"empty", "", filterFlags{}, tuple.Filter{}, "empty"},
		{"dangling at", "dataset@", filterFlags{}, tuple.Filter{}, "ends with '@'"},
		{"bad type", "Data Set", filterFlags{}, tuple.Filter{}, "resource_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.flags.filter(tc.pattern)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g, w := got.String(), tc.want.String(); g != w {
				t.Errorf("got %s, want %s", g, w)
			}
		})
	}
}

// FuzzFilterPattern: any pattern either is refused or yields a valid filter.
func FuzzFilterPattern(f *testing.F) {
	for _, s := range []string{"dataset", "dataset:claims#reader@user:ana", "team#member@team:x#member", "@", "a:b#", ":#@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		got, err := (&filterFlags{}).filter(pattern)
		if err != nil {
			return
		}
		if verr := got.Validate(); verr != nil {
			t.Errorf("pattern %q gave invalid filter %+v: %v", pattern, got, verr)
		}
	})
}

func TestConvertLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"dataset:claims#reader@user:ana\n", `{"relationship":"dataset:claims#reader@user:ana"}` + "\n"},
		{"  dataset:claims#reader@user:dan[purpose_is:{\"allowed\":[\"x\"]}]  \r\n", `{"relationship":"dataset:claims#reader@user:dan[purpose_is:{\"allowed\":[\"x\"]}]"}` + "\n"},
		{`{"relationship": "a:b#c@d:e"}` + "\n", `{"relationship": "a:b#c@d:e"}` + "\n"},
		{"// comment\n", "\n"},
		{"# comment\n", "\n"},
		{"   \n", "\n"},
		{"no-newline-at-end:x#y@z:w", `{"relationship":"no-newline-at-end:x#y@z:w"}` + "\n"},
	}
	for _, tc := range tests {
		if got := string(convertLine([]byte(tc.in))); got != tc.want {
			t.Errorf("convertLine(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNDJSONConverterKeepsLineNumbers(t *testing.T) {
	in := "// header\na:1#r@u:a\n\n{\"relationship\":\"a:2#r@u:b\"}\nlast:3#r@u:c"
	c := newNDJSONConverter(strings.NewReader(in))
	out, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("got %d lines, want 5 (one per input line):\n%s", len(lines), out)
	}
	for i, want := range []string{"", "a:1#r@u:a", "", "a:2#r@u:b", "last:3#r@u:c"} {
		var l wire.ExportLine
		if want == "" {
			if lines[i] != "" {
				t.Errorf("line %d: got %q, want blank", i+1, lines[i])
			}
			continue
		}
		if err := json.Unmarshal([]byte(lines[i]), &l); err != nil || l.Relationship != want {
			t.Errorf("line %d: got %q (%v), want relationship %q", i+1, lines[i], err, want)
		}
	}
	if got := c.bytes.Load(); got != int64(len(in)) {
		t.Errorf("got %d bytes counted, want %d", got, len(in))
	}
	if got := c.lines.Load(); got != 5 {
		t.Errorf("got %d lines counted, want 5", got)
	}
}

func TestProgressLine(t *testing.T) {
	got := progressLine("rels.txt", 512<<10, 2<<20, 1234567, 3*time.Second)
	want := "importing rels.txt  [#####---------------]  25%  512.0 KiB / 2.0 MiB  1,234,567 lines  3s"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	got = progressLine("stdin", 100, -1, 7, 0)
	if want := "importing stdin  100 B  7 lines  0s"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestPrintTrace(t *testing.T) {
	tr := &wire.Trace{Kind: "check", Resource: "dataset:claims", Relation: "read", Subject: "user:ana", Result: "allowed", Children: []*wire.Trace{
		{Kind: "union", Result: "allowed", Children: []*wire.Trace{
			{Kind: "relation", Resource: "dataset:claims", Relation: "reader", Subject: "user:ana", Result: "allowed", Relationships: []string{"dataset:claims#reader@user:ana"}},
			{Kind: "arrow", Relation: "project", Result: "denied", Detail: map[string]string{"computed": "admin"}},
		}},
		{Kind: "caveat", Result: "conditional", Missing: []string{"purpose"}, Cached: true},
	}}
	var b bytes.Buffer
	printTrace(&b, tr, "", "", true)
	want := `allowed     check dataset:claims#read @ user:ana
├─ allowed     union
│  ├─ allowed     relation dataset:claims#reader @ user:ana  [dataset:claims#reader@user:ana]
│  └─ denied      arrow project->admin
└─ conditional caveat  missing: purpose  (cached)
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestPrintExpand(t *testing.T) {
	exp := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
	n := &wire.ExpandNode{Kind: "union", Resource: "dataset:claims", Relation: "read", Children: []*wire.ExpandNode{
		{Kind: "leaf", Resource: "dataset:claims", Relation: "reader", Subjects: []wire.ExpandSubject{{Subject: "user:ana"}, {Subject: "user:dan", Caveat: "purpose_is", Expiration: &exp}}},
		{Kind: "leaf", Resource: "dataset:claims", Relation: "steward"},
	}}
	var b bytes.Buffer
	printExpand(&b, n, "", "", true)
	want := `union dataset:claims#read
├─ dataset:claims#reader
│  ├─ user:ana
│  └─ user:dan [purpose_is] [until 2099-01-01T00:00:00Z]
└─ dataset:claims#steward  (no subjects)
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}
