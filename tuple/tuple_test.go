package tuple

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func ptr[T any](v T) *T { return &v }

func ts(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	t = t.UTC()
	return &t
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		in   string
		want Relationship
		str  string // canonical String(); "" means same as in
	}{
		{in: "document:plan#viewer@user:tom", want: Relationship{Resource: ObjectRef{"document", "plan"}, Relation: "viewer", Subject: SubjectRef{Type: "user", ID: "tom"}}},
		{in: "dataset:claims#reader@team:ml#member", want: Relationship{Resource: ObjectRef{"dataset", "claims"}, Relation: "reader", Subject: SubjectRef{"team", "ml", "member"}}},
		{in: "dataset:claims#reader@user:*", want: Relationship{Resource: ObjectRef{"dataset", "claims"}, Relation: "reader", Subject: SubjectRef{Type: "user", ID: "*"}}},
		{in: "acme/emea/dataset:claims#reader@acme/user:ana", want: Relationship{Resource: ObjectRef{"acme/emea/dataset", "claims"}, Relation: "reader", Subject: SubjectRef{Type: "acme/user", ID: "ana"}}},
		{in: "doc:A-z_0|9=+/x#reader@user:X", want: Relationship{Resource: ObjectRef{"doc", "A-z_0|9=+/x"}, Relation: "reader", Subject: SubjectRef{Type: "user", ID: "X"}}},
		{in: `dataset:claims#reader@user:ana[purpose_is:{"allowed":["fraud-model"]}]`, want: Relationship{
			Resource: ObjectRef{"dataset", "claims"}, Relation: "reader", Subject: SubjectRef{Type: "user", ID: "ana"},
			Caveat: &Caveat{Name: "purpose_is", Context: map[string]any{"allowed": []any{"fraud-model"}}}}},
		{in: "dataset:claims#reader@user:bob[expiration:2027-01-01T00:00:00Z]", want: Relationship{
			Resource: ObjectRef{"dataset", "claims"}, Relation: "reader", Subject: SubjectRef{Type: "user", ID: "bob"},
			Expiration: ts("2027-01-01T00:00:00Z")}},
		{in: "dataset:claims#reader@user:eve[purpose_is][expiration:2027-01-01T00:00:00Z]", want: Relationship{
			Resource: ObjectRef{"dataset", "claims"}, Relation: "reader", Subject: SubjectRef{Type: "user", ID: "eve"},
			Caveat: &Caveat{Name: "purpose_is"}, Expiration: ts("2027-01-01T00:00:00Z")}},
		{in: "doc:a#reader@user:b[expiration:2027-01-01T02:00:00.5+02:00]", str: "doc:a#reader@user:b[expiration:2027-01-01T00:00:00.5Z]", want: Relationship{
			Resource: ObjectRef{"doc", "a"}, Relation: "reader", Subject: SubjectRef{Type: "user", ID: "b"},
			Expiration: ts("2027-01-01T00:00:00.5Z")}},
		{in: `doc:a#reader@user:b[cav:{"z": 1, "a": {"k": [1.5, true, null, "s]"]}}]`, str: `doc:a#reader@user:b[cav:{"a":{"k":[1.5,true,null,"s]"]},"z":1}]`, want: Relationship{
			Resource: ObjectRef{"doc", "a"}, Relation: "reader", Subject: SubjectRef{Type: "user", ID: "b"},
			Caveat: &Caveat{Name: "cav", Context: map[string]any{"z": int64(1), "a": map[string]any{"k": []any{1.5, true, nil, "s]"}}}}}},
		{in: `doc:a#reader@user:b[cav:{}]`, str: `doc:a#reader@user:b[cav]`, want: Relationship{
			Resource: ObjectRef{"doc", "a"}, Relation: "reader", Subject: SubjectRef{Type: "user", ID: "b"},
			Caveat: &Caveat{Name: "cav", Context: map[string]any{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			want := tt.str
			if want == "" {
				want = tt.in
			}
			if s := got.String(); s != want {
				t.Errorf("String: got %s, want %s", s, want)
			}
			if got.Key() != tt.want.Key() {
				t.Errorf("Key: got %s, want %s", got.Key(), tt.want.Key())
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: got %v, want nil", err)
			}
			again, err := Parse(got.String())
			if err != nil || !again.Equal(got) {
				t.Errorf("round trip: got %v (%v), want %v", again, err, got)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("a", 65)
	tests := []struct {
		in, part, msg string
	}{
		{" doc:a#reader@user:b", "relationship", "white space"},
		{"doc:a#reader@user:b ", "relationship", "white space"},
		{"doc:a@user:b", "relation", "missing '#relation'"},
		{"doc:a#reader", "subject", "missing '@subject'"},
		{"doca#reader@user:b", "resource", "has no ':'"},
		{":a#reader@user:b", "resource type", "type name is empty"},
		{"Doc:a#reader@user:b", "resource type", "lowercase letter"},
		{"do:a#reader@user:b", "resource type", "3 to 64"},
		{"doc_:a#reader@user:b", "resource type", "must not end with '_'"},
		{"doc-x:a#reader@user:b", "resource type", "only lowercase letters"},
		{"acme//doc:a#reader@user:b", "resource type", "segment"},
		{"doc:#reader@user:b", "resource id", "object ID is empty"},
		{"doc:a b#reader@user:b", "resource id", "has ' '"},
		{"doc:*#reader@user:b", "resource id", "only allowed as a subject"},
		{"doc:" + strings.Repeat("x", 1025) + "#reader@user:b", "resource id", "at most 1024"},
		{"doc:a#@user:b", "relation", "3 to 64"},
		{"doc:a#Reader@user:b", "relation", "lowercase letter"},
		{"doc:a#" + long + "@user:b", "relation", "3 to 64"},
		{"doc:a#reader@userb", "subject", "has no ':'"},
		{"doc:a#reader@us:b", "subject type", "3 to 64"},
		{"doc:a#reader@user:", "subject id", "object ID is empty"},
		{"doc:a#reader@user:b!", "subject id", "has '!'"},
		{"doc:a#reader@user:b#", "subject relation", "ends with '#'"},
		{"doc:a#reader@user:*#member", "subject relation", "wildcard subject"},
		{"doc:a#reader@team:b#Member", "subject relation", "lowercase letter"},
		{"doc:a#reader@user:bx", "", ""}, // control: valid
		{"doc:a#reader@user:b]", "subject id", "has ']'"},
		{"doc:a#reader@user:b[cav]x", "traits", "unexpected \"x\""},
		{"doc:a#reader@user:b[cav", "caveat", "missing ']' after the caveat name"},
		{"doc:a#reader@user:b[ca]", "caveat", "3 to 64"},
		{"doc:a#reader@user:b[cav][cav]", "caveat", "given twice"},
		{"doc:a#reader@user:b[expiration:2027-01-01T00:00:00Z][cav]", "caveat", "before the expiration"},
		{"doc:a#reader@user:b[cav:]", "caveat context", "expected a JSON object"},
		{"doc:a#reader@user:b[cav:[1]]", "caveat context", "expected a JSON object"},
		{`doc:a#reader@user:b[cav:{"a":}]`, "caveat context", "not valid JSON"},
		{`doc:a#reader@user:b[cav:{"a":1}`, "caveat context", "missing ']' after the context JSON"},
		{`doc:a#reader@user:b[cav:{"a":1}x]`, "caveat context", "missing ']' after the context JSON"},
		{`doc:a#reader@user:b[cav:{"a":1e400}]`, "caveat context", "out of range"},
		{"doc:a#reader@user:b[expiration:2027-01-01T00:00:00Z", "expiration", "missing ']'"},
		{"doc:a#reader@user:b[expiration:2027-01-01]", "expiration", "not an RFC 3339 time"},
		{"doc:a#reader@user:b[expiration:2027-01-01T00:00:00Z][expiration:2028-01-01T00:00:00Z]", "expiration", "given twice"},
		{"doc:a#reader@user:b[expiration:0000-01-01T00:00:00+01:00]", "expiration", "outside the years"},
		{"doc:a#reader@user:b[expiration:9999-12-31T23:00:00-02:00]", "expiration", "outside the years"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if tt.part == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want one about the %s", tt.part)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %T, want *Error", err)
			}
			if e.Part != tt.part {
				t.Errorf("got part %q, want %q (%v)", e.Part, tt.part, err)
			}
			if !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got message %q, want it to contain %q", e.Msg, tt.msg)
			}
			if e.Input != tt.in {
				t.Errorf("got Input %q, want %q", e.Input, tt.in)
			}
			if !strings.Contains(err.Error(), "invalid relationship") {
				t.Errorf("got %q, want it to start with the input", err)
			}
		})
	}
}

func TestNameLimits(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"abc", true},
		{"ab", false},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"a_1", true},
		{"a1_", false},
		{"1ab", false},
		{"_ab", true}, // SpiceDB's private-name convention
		{"_internal_viewer", true},
		{"_a", false},
		{"__", false},
		{"_ab_", false},
		{"aBc", false},
		{"ab-c", false},
		{"ab/c", false},
		{"", false},
	}
	for _, tt := range tests {
		err := ValidateName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateName(%q): got %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestTypeNameLimits(t *testing.T) {
	seg := strings.Repeat("a", 63)
	tests := []struct {
		name string
		ok   bool
	}{
		{"user", true},
		{"acme/user", true},
		{"acme/emea/user", true},
		{seg + "/" + seg, true},                        // 127 bytes
		{seg + "/" + seg + "b", true},                  // 128 bytes
		{seg + "/" + seg + "bc", false},                // 129 bytes
		{"/user", false},                               // empty prefix
		{"acme/", false},                               // empty name
		{"ab/user", false},                             // short prefix
		{"acme/User", false},                           // uppercase
		{strings.Repeat("a", 65), false},               // segment too long
		{"", false},                                    // empty
		{"acme/" + strings.Repeat("a", 64), true},      // 69 bytes
		{"acme/" + strings.Repeat("a", 65), false},     // segment 65
		{"acme:user", false},                           // bad byte
		{"acme_/user", false},                          // prefix ends with _
		{"acme/us", false},                             // short name
		{"acme/use", true},                             // 3 characters
		{"a" + strings.Repeat("/abc", 31) + "", false}, // first segment too short
	}
	for _, tt := range tests {
		err := ValidateTypeName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateTypeName(%q) (%d bytes): got %v, want ok=%v", tt.name, len(tt.name), err, tt.ok)
		}
	}
}

func TestIDLimits(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"a", true},
		{strings.Repeat("x", 1024), true},
		{strings.Repeat("x", 1025), false},
		{"", false},
		{"AZaz09/_|-=+", true},
		{"*", false},
		{"a*", false},
		{"a:b", false},
		{"a#b", false},
		{"a@b", false},
		{"a b", false},
		{"a.b", false},
		{"é", false},
	}
	for _, tt := range tests {
		err := ValidateID(tt.id)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateID(%q): got %v, want ok=%v", tt.id, err, tt.ok)
		}
	}
}

func TestWildcardRules(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"subject wildcard", "user:*", true},
		{"subject wildcard with relation", "user:*#member", false},
		{"star inside id", "user:a*", false},
		{"subject set", "team:ml#member", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSubject(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseSubject(%q): got %v, want ok=%v", tt.in, err, tt.ok)
			}
			if err == nil && s.String() != tt.in {
				t.Errorf("got %s, want %s", s, tt.in)
			}
			if err == nil && s.IsWildcard() != strings.HasSuffix(tt.in, ":*") {
				t.Errorf("IsWildcard: got %v for %s", s.IsWildcard(), tt.in)
			}
		})
	}
	if _, err := ParseObject("doc:*"); err == nil {
		t.Error("ParseObject(doc:*): got nil, want an error (wildcard only as a subject)")
	}
	if err := (Relationship{Resource: ObjectRef{"doc", "*"}, Relation: "reader", Subject: SubjectRef{Type: "user", ID: "b"}}).Validate(); err == nil {
		t.Error("Validate with a wildcard resource: got nil, want an error")
	}
}

func TestEqual(t *testing.T) {
	base := MustParse(`doc:a#reader@user:b[cav:{"x":1}][expiration:2027-01-01T00:00:00Z]`)
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"same", `doc:a#reader@user:b[cav:{"x":1}][expiration:2027-01-01T00:00:00Z]`, true},
		{"same instant other zone", `doc:a#reader@user:b[cav:{"x":1.0}][expiration:2027-01-01T01:00:00+01:00]`, true},
		{"other context", `doc:a#reader@user:b[cav:{"x":2}][expiration:2027-01-01T00:00:00Z]`, false},
		{"no context", `doc:a#reader@user:b[cav][expiration:2027-01-01T00:00:00Z]`, false},
		{"no caveat", `doc:a#reader@user:b[expiration:2027-01-01T00:00:00Z]`, false},
		{"other caveat", `doc:a#reader@user:b[cav2:{"x":1}][expiration:2027-01-01T00:00:00Z]`, false},
		{"no expiration", `doc:a#reader@user:b[cav:{"x":1}]`, false},
		{"other expiration", `doc:a#reader@user:b[cav:{"x":1}][expiration:2027-01-01T00:00:01Z]`, false},
		{"other subject", `doc:a#reader@user:c[cav:{"x":1}][expiration:2027-01-01T00:00:00Z]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := base.Equal(MustParse(tt.in)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExpiredAt(t *testing.T) {
	r := MustParse("doc:a#reader@user:b[expiration:2027-01-01T00:00:00Z]")
	at := *ts("2027-01-01T00:00:00Z")
	if r.ExpiredAt(at.Add(-time.Nanosecond)) {
		t.Error("got expired just before the expiration, want not expired")
	}
	if !r.ExpiredAt(at) {
		t.Error("got not expired at the expiration instant, want expired")
	}
	if MustParse("doc:a#reader@user:b").ExpiredAt(at) {
		t.Error("got expired for a relationship without expiration")
	}
}

func TestParseContext(t *testing.T) {
	ctx, err := ParseContext([]byte(`{"i": 3, "f": 2.5, "big": 12345678901234567890, "l": [1, {"n": 2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := FormatContext(ctx), `{"big":12345678901234567000,"f":2.5,"i":3,"l":[1,{"n":2}]}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if _, ok := ctx["i"].(int64); !ok {
		t.Errorf("got %T for an integral number, want int64", ctx["i"])
	}
	for _, bad := range []string{`[1]`, `{"a":1} {}`, `{"a":1e999}`, `{"a":[-1e999]}`, ``} {
		if _, err := ParseContext([]byte(bad)); err == nil {
			t.Errorf("ParseContext(%q): got nil, want an error", bad)
		}
	}
	if got := SortedContextKeys(ctx); strings.Join(got, ",") != "big,f,i,l" {
		t.Errorf("got keys %v, want big,f,i,l", got)
	}
}

func TestOps(t *testing.T) {
	for _, op := range []Op{OpCreate, OpTouch, OpDelete} {
		got, err := ParseOp(op.String())
		if err != nil || got != op {
			t.Errorf("ParseOp(%s): got %v, %v", op, got, err)
		}
	}
	if _, err := ParseOp("upsert"); err == nil {
		t.Error("ParseOp(upsert): got nil, want an error")
	}
	for _, op := range []PreconditionOp{MustMatch, MustNotMatch} {
		got, err := ParsePreconditionOp(op.String())
		if err != nil || got != op {
			t.Errorf("ParsePreconditionOp(%s): got %v, %v", op, got, err)
		}
	}
	if _, err := ParsePreconditionOp("match"); err == nil {
		t.Error("ParsePreconditionOp(match): got nil, want an error")
	}
}
