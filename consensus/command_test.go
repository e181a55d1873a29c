package consensus

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/tuple"
)

func sampleCommands() []Command {
	when := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
	meta := Meta{Principal: "alice", Reason: "JIRA-1", RequestID: "req-1", IdempotencyKey: "6f1c2b1e-8d5a-4c1e-9f3a-2d4b5c6d7e8f", Time: when}
	subrel := "member"
	return []Command{
		&NoopCommand{Meta: meta},
		&WriteCommand{Meta: meta,
			Updates: []tuple.Update{
				{Op: tuple.OpTouch, Relationship: rel(`dataset:claims#reader@team:ml#member`)},
				{Op: tuple.OpCreate, Relationship: rel(`dataset:claims#reader@user:ana[purpose_is:{"purpose":"fraud","n":3}][expiration:2027-01-01T00:00:00Z]`)},
				{Op: tuple.OpDelete, Relationship: rel(`dataset:claims#reader@user:*`)},
			},
			Preconditions: []tuple.Precondition{{Op: tuple.MustNotMatch, Filter: tuple.Filter{ResourceType: "dataset", Subject: &tuple.SubjectFilter{Type: "team", Relation: &subrel}}}},
		},
		&DeleteCommand{Meta: meta, Filter: tuple.Filter{ResourceType: "dataset", ResourceIDPrefix: "c"}, Limit: 10},
		&ImportCommand{Meta: meta, Relationships: []tuple.Relationship{rel("team:ml#member@user:bob"), rel("team:ml#member@user:carl")}},
		&SchemaCommand{Meta: meta, Text: testSchema},
		&MemberCommand{Meta: meta, ID: "n2", RaftAddr: "10.0.0.2:7001", APIAddr: "http://10.0.0.2:8080"},
		&AnchorCommand{Meta: meta, Node: "n2", Size: 42, Head: strings.Repeat("ab", 32)},
		&SuspendCommand{Meta: meta, Subject: tuple.SubjectRef{Type: "team", ID: "ml", Relation: "member"}, Until: &when},
		&SuspendCommand{Meta: meta, Subject: tuple.SubjectRef{Type: "user", ID: "eve"}, Remove: true},
		&AlertLetterCommand{Meta: meta, Remove: "d1"},
		&AuditRootCommand{Meta: meta, Node: "n1", Size: 7, Root: strings.Repeat("0f", 32)},
	}
}

func TestCommandRoundTrip(t *testing.T) {
	for _, c := range sampleCommands() {
		t.Run(c.Type().String(), func(t *testing.T) {
			b, err := Encode(c)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if got := CommandType(b[0]); got != c.Type() {
				t.Fatalf("type byte %d, want %d", got, c.Type())
			}
			d, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			b2, err := Encode(d)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, b2) {
				t.Fatalf("re-encoding differs:\n got %s\nwant %s", b2, b)
			}
			if !reflect.DeepEqual(d.Header(), c.Header()) {
				t.Fatalf("meta: got %+v, want %+v", d.Header(), c.Header())
			}
			if w, ok := c.(*WriteCommand); ok {
				dw := d.(*WriteCommand)
				for i := range w.Updates {
					if !dw.Updates[i].Relationship.Equal(w.Updates[i].Relationship) || dw.Updates[i].Op != w.Updates[i].Op {
						t.Fatalf("update %d: got %v %s, want %v %s", i, dw.Updates[i].Op, dw.Updates[i].Relationship, w.Updates[i].Op, w.Updates[i].Relationship)
					}
				}
			}
		})
	}
}

// TestEncodeDeterministic encodes the same command many times: caveat context
// is a map, and its encoding must not depend on iteration order.
func TestEncodeDeterministic(t *testing.T) {
	c := sampleCommands()[1]
	want, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		got, _ := Encode(c)
		if !bytes.Equal(got, want) {
			t.Fatalf("encoding varies:\n got %s\nwant %s", got, want)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrUnknownCommand},
		{"unknown type", []byte{0xEE, '{', '}'}, ErrUnknownCommand},
		{"zero type", []byte{0, '{', '}'}, ErrUnknownCommand},
		{"bad json", []byte{byte(TypeWrite), '{'}, ErrInvalidCommand},
		{"bad relationship", append([]byte{byte(TypeWrite)}, `{"meta":{"time":"2026-01-01T00:00:00Z"},"updates":[{"op":"touch","rel":"nope"}]}`...), ErrInvalidCommand},
		{"bad op", append([]byte{byte(TypeWrite)}, `{"meta":{"time":"2026-01-01T00:00:00Z"},"updates":[{"op":"upsert","rel":"a:b#c@d:e"}]}`...), ErrInvalidCommand},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		cmd  Command
		want string // substring; empty means valid
	}{
		{"ok", touch("dataset:a#reader@user:b"), ""},
		{"no updates", &WriteCommand{}, "at least one update"},
		{"duplicate", touch("dataset:a#reader@user:b", "dataset:a#reader@user:b"), "both change"},
		{"bad key", &NoopCommand{Meta: Meta{IdempotencyKey: "not-a-uuid"}}, "not a UUID"},
		{"empty filter", &DeleteCommand{}, "filter"},
		{"negative limit", &DeleteCommand{Filter: tuple.Filter{ResourceType: "dataset"}, Limit: -1}, "negative"},
		{"empty schema", &SchemaCommand{}, "empty schema"},
		{"member without id", &MemberCommand{}, "without an id"},
		{"anchor ok", &AnchorCommand{Node: "n1", Size: 3, Head: strings.Repeat("0f", 32)}, ""},
		{"suspend ok", &SuspendCommand{Meta: Meta{Reason: "SEC-7"}, Subject: tuple.SubjectRef{Type: "user", ID: "eve"}}, ""},
		{"suspend without reason", &SuspendCommand{Subject: tuple.SubjectRef{Type: "user", ID: "eve"}}, "needs a reason"},
		{"suspend wildcard", &SuspendCommand{Meta: Meta{Reason: "x"}, Subject: tuple.SubjectRef{Type: "user", ID: "*"}}, "wildcard"},
		{"suspend bad subject", &SuspendCommand{Meta: Meta{Reason: "x"}, Subject: tuple.SubjectRef{Type: "User!", ID: "eve"}}, "subject"},
		{"suspend long reason", &SuspendCommand{Meta: Meta{Reason: strings.Repeat("x", MaxSuspensionReason+1)}, Subject: tuple.SubjectRef{Type: "user", ID: "eve"}}, "limit"},
		{"audit root ok", &AuditRootCommand{Node: "n1", Size: 3, Root: strings.Repeat("0f", 32)}, ""},
		{"audit root without node", &AuditRootCommand{Size: 3, Root: strings.Repeat("0f", 32)}, "names the node"},
		{"audit root short", &AuditRootCommand{Node: "n1", Size: 3, Root: "abcd"}, "SHA-256"},
		{"anchor of empty chain ok", &AnchorCommand{Node: "n1", Head: strings.Repeat("0", 64)}, ""},
		{"anchor without node", &AnchorCommand{Size: 1, Head: strings.Repeat("0f", 32)}, "node"},
		{"anchor node with space", &AnchorCommand{Node: "n 1", Size: 1, Head: strings.Repeat("0f", 32)}, "without spaces"},
		{"anchor short head", &AnchorCommand{Node: "n1", Size: 1, Head: "abcd"}, "64 hex digits"},
		{"anchor non-hex head", &AnchorCommand{Node: "n1", Size: 1, Head: strings.Repeat("zz", 32)}, "64 hex digits"},
		{"anchor empty chain nonzero head", &AnchorCommand{Node: "n1", Head: strings.Repeat("0f", 32)}, "64 zeros"},
		{"bad precondition", &WriteCommand{Updates: touch("dataset:a#reader@user:b").Updates, Preconditions: []tuple.Precondition{{Op: 9, Filter: tuple.Filter{ResourceType: "x"}}}}, "unknown op"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.cmd)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidCommand) {
				t.Fatalf("got %v, want ErrInvalidCommand mentioning %q", err, tc.want)
			}
		})
	}
}

func TestRequestHashIgnoresTimeAndRequestID(t *testing.T) {
	a := touch("dataset:a#reader@user:b")
	a.Time, a.RequestID = time.Unix(1, 0), "r1"
	b := touch("dataset:a#reader@user:b")
	b.Time, b.RequestID = time.Unix(2, 0), "r2"
	c := touch("dataset:a#reader@user:c")
	ha, _ := requestHash(a)
	hb, _ := requestHash(b)
	hc, _ := requestHash(c)
	if ha != hb {
		t.Fatalf("retries hash differently: %s vs %s", ha, hb)
	}
	if ha == hc {
		t.Fatal("different requests hash the same")
	}
	if a.Time != time.Unix(1, 0) || a.RequestID != "r1" {
		t.Fatal("requestHash modified the command")
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range sampleCommands() {
		b, _ := Encode(c)
		f.Add(b)
	}
	f.Add([]byte{0xEE})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrUnknownCommand) && !errors.Is(err, ErrInvalidCommand) {
				t.Fatalf("untyped decode error: %v", err)
			}
			return
		}
		// Whatever decodes re-encodes to something that decodes the same way.
		b, err := Encode(c)
		if err != nil {
			t.Fatalf("decoded command does not encode: %v", err)
		}
		c2, err := Decode(b)
		if err != nil {
			t.Fatalf("re-encoded command does not decode: %v", err)
		}
		b2, _ := Encode(c2)
		if !bytes.Equal(b, b2) {
			t.Fatalf("encoding not stable:\n%s\n%s", b, b2)
		}
	})
}
