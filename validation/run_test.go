package validation

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

const docSchema = `schema: |-
  use expiration
  definition user {}
  caveat purpose_is(purpose string, allowed list<string>) {
    purpose in allowed
  }
  definition team {
    relation member: user | team#member
  }
  definition document {
    relation owner: user
    relation writer: user | user with expiration
    relation reader: user | user:* | team#member | user with purpose_is
    relation approver: user
    relation banned: user | user with purpose_is
    permission edit = writer + owner
    permission view = (reader + edit) - banned
    permission publish = edit & approver
  }
`

func runText(t *testing.T, text string, opts Options) *Report {
	t.Helper()
	f, err := Parse("p.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), f, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestRunAssertions(t *testing.T) {
	text := docSchema + `relationships: |-
  document:plan#owner@user:tom
  document:plan#reader@user:ana[purpose_is:{"allowed":["eval"]}]
  document:plan#writer@user:kim[expiration:2025-01-01T00:00:00Z]
  document:plan#writer@user:carl[expiration:2099-01-01T00:00:00Z]
assertions:
  assertTrue:
    - document:plan#view@user:tom
    - 'document:plan#view@user:ana with {"purpose": "eval"}'
    - document:plan#edit@user:carl
  assertFalse:
    - 'document:plan#view@user:ana with {"purpose": "ads"}'
    - document:plan#edit@user:kim
  assertCaveated:
    - document:plan#view@user:ana
`
	rep := runText(t, text, Options{})
	if !rep.Passed || rep.Failures != 0 || len(rep.Assertions) != 6 {
		var b strings.Builder
		rep.WriteText(&b)
		t.Fatalf("got passed=%v failures=%d assertions=%d, want all 6 to pass:\n%s", rep.Passed, rep.Failures, len(rep.Assertions), b.String())
	}
	if a := rep.Assertions[5]; a.Kind != "assertCaveated" || !slices.Equal(a.MissingContext, []string{"purpose"}) {
		t.Errorf("got %+v, want assertCaveated missing purpose", a)
	}
	// The same file judged in 2100: carl's grant has ended too.
	rep = runText(t, text, Options{Now: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)})
	if rep.Passed || rep.Failures != 1 || rep.Assertions[2].Passed || rep.Assertions[2].Got != "denied" {
		t.Errorf("in 2100: got failures=%d, assertion %+v; want only carl's edit to fail", rep.Failures, rep.Assertions[2])
	}
}

// TestRunFailureReport makes an assertion fail on purpose and checks the
// report names the line, the assertion, expected vs got and the trace.
func TestRunFailureReport(t *testing.T) {
	text := docSchema + `relationships: |-
  document:plan#reader@user:fred
  document:plan#banned@user:fred
assertions:
  assertTrue:
    - document:plan#view@user:fred
`
	rep := runText(t, text, Options{})
	if rep.Passed || rep.Failures != 1 {
		t.Fatalf("got passed=%v failures=%d, want 1 failure", rep.Passed, rep.Failures)
	}
	a := rep.Assertions[0]
	if a.Line != 25 || a.Want != "allowed" || a.Got != "denied" || a.Trace == nil {
		t.Fatalf("got %+v, want line 25, allowed vs denied, with a trace", a)
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"p.yaml:25: assertTrue document:plan#view@user:fred\n",
		"    expected: allowed\n    got:      denied\n    trace:\n",
		"      check document:plan#view for user:fred: denied\n        exclusion: denied\n",
		"relation document:plan#banned for user:fred: allowed [document:plan#banned@user:fred]",
		"p.yaml: FAILED: 1 failure of 1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("got report:\n%s\nwant it to contain %q", out, want)
		}
	}
}

const validationData = `relationships: |-
  document:plan#owner@user:tom
  document:plan#approver@user:tom
  document:plan#writer@user:amy
  document:plan#reader@team:ml#member
  team:ml#member@user:raj
  document:plan#reader@user:ana[purpose_is:{"allowed":["eval"]}]
  document:pub#reader@user:*
  document:pub#banned@user:bob
  document:pub#banned@user:eve[purpose_is:{"allowed":["x"]}]
  document:pub#writer@user:kim[expiration:2025-01-01T00:00:00Z]
`

// TestComputeNotation pins the notation of computed entries: sources,
// subject sets and their members, conditional subjects, wildcards with
// exclusions, intersections, expired grants left out.
func TestComputeNotation(t *testing.T) {
	text := docSchema + validationData + `validation:
  document:plan#view: []
  document:plan#publish: []
  document:pub#view: []
  document:pub#edit: []
`
	rep := runText(t, text, Options{})
	want := map[string][]string{
		"document:plan#view": {
			"[team:ml#member] is <document:plan#reader>",
			"[user:amy] is <document:plan#writer>",
			"[user:ana[...]] is <document:plan#reader>",
			"[user:raj] is <team:ml#member>",
			"[user:tom] is <document:plan#owner>",
		},
		"document:plan#publish": {"[user:tom] is <document:plan#approver>/<document:plan#owner>"},
		// eve is banned only conditionally: the wildcard does not cover her,
		// and she holds view conditionally through it.
		"document:pub#view": {"[user:* - {user:bob, user:eve[...]}] is <document:pub#reader>", "[user:eve[...]] is <document:pub#reader>"},
		"document:pub#edit": {},
	}
	for _, e := range rep.Expected {
		if !slices.Equal(e.Got, want[e.Key]) {
			t.Errorf("%s: got\n%s\nwant\n%s", e.Key, strings.Join(e.Got, "\n"), strings.Join(want[e.Key], "\n"))
		}
		if e.Passed == (len(want[e.Key]) > 0) {
			t.Errorf("%s: got passed=%v against an empty list", e.Key, e.Passed)
		}
	}
}

func TestRunValidationBlock(t *testing.T) {
	text := docSchema + validationData + `validation:
  document:plan#view:
    - "[user:tom] is <document:plan#owner>"
    - "[user:amy]"
    - "[user:ana[...]] is <document:plan#reader>"
    - "[user:raj] is <team:ml#member>"
    - "[team:ml#member] is <document:plan#reader>"
  document:pub#view:
    - "[user:* - {user:eve[...], user:bob}] is <document:pub#reader>"
    - "[user:eve[...]] is <document:pub#reader>"
  document:plan#edit:
    - "[user:tom] is <document:plan#writer>"
    - "[user:ana] is <document:plan#writer>"
`
	rep := runText(t, text, Options{})
	if len(rep.Expected) != 3 {
		t.Fatalf("got %d entries, want 3", len(rep.Expected))
	}
	// Order of lines and of exclusions does not matter; a line without
	// "is" does not check sources.
	for _, e := range rep.Expected[:2] {
		if !e.Passed {
			t.Errorf("%s: got missing %v unexpected %v, want a match", e.Key, e.Missing, e.Unexpected)
		}
	}
	e := rep.Expected[2]
	wantMissing := []MissingLine{{Line: 42, Text: "[user:tom] is <document:plan#writer>"}, {Line: 43, Text: "[user:ana] is <document:plan#writer>"}}
	if e.Passed || e.Line != 41 || !slices.Equal(e.Missing, wantMissing) {
		t.Errorf("got line %d missing %v, want line 41 missing %v", e.Line, e.Missing, wantMissing)
	}
	wantUnexpected := []string{"[user:amy] is <document:plan#writer>", "[user:tom] is <document:plan#owner>"}
	if !slices.Equal(e.Unexpected, wantUnexpected) {
		t.Errorf("got unexpected %v, want %v", e.Unexpected, wantUnexpected)
	}
	if rep.Failures != 1 {
		t.Errorf("got %d failures, want 1", rep.Failures)
	}
	var b strings.Builder
	rep.WriteText(&b)
	for _, want := range []string{
		"p.yaml:41: validation document:plan#edit does not match what the engine computes",
		"    - [user:tom] is <document:plan#writer>    (line 42: expected, not computed)",
		"    + [user:amy] is <document:plan#writer>    (computed, not expected)",
		"--update",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("got report:\n%s\nwant it to contain %q", b.String(), want)
		}
	}
}

// TestRunFileErrors: problems that only the schema reveals are ErrorLists
// naming the line.
func TestRunFileErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"schema error mapped to the policy file", "schema: |-\n  definition user {}\n  definition doc {\n    relation reader: usr\n  }\n",
			[]string{"p.yaml:4: schema: line 3 of the schema", `unknown type "usr"`}},
		{"relationship not allowed", docSchema + "relationships: |-\n  document:plan#owner@user:tom\n  document:plan#owner@team:ml#member\n",
			[]string{"p.yaml:22: relationship document:plan#owner@team:ml#member"}},
		{"expiration not allowed", docSchema + "relationships: |-\n  document:plan#owner@user:tom[expiration:2099-01-01T00:00:00Z]\n",
			[]string{"p.yaml:21:", "cannot expire"}},
		{"duplicate relationship", docSchema + "relationships: |-\n  document:plan#owner@user:tom\n  document:plan#owner@user:tom\n",
			[]string{"p.yaml:22:", "already written at line 21"}},
		{"unknown permission", docSchema + "assertions:\n  assertTrue:\n    - document:plan#veiw@user:tom\n",
			[]string{"p.yaml:22: assertTrue", "veiw"}},
		{"unknown subject type", docSchema + "assertions:\n  assertFalse:\n    - document:plan#view@usr:tom\n",
			[]string{"p.yaml:22: assertFalse", "usr"}},
		{"unknown validation key", docSchema + "validation:\n  document:plan#nope: []\n",
			[]string{"p.yaml:21: validation key document:plan#nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("p.yaml", []byte(tt.text))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Run(context.Background(), f, Options{})
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("got %v, want an ErrorList", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err.Error(), w)
				}
			}
		})
	}
}

func TestRunGenerate(t *testing.T) {
	text := docSchema + validationData + `assertions:
  assertTrue:
    - document:plan#view@user:tom
    - document:plan#view@user:raj
    - document:plan#publish@user:tom
`
	if rep := runText(t, text, Options{}); len(rep.Expected) != 0 {
		t.Errorf("without Generate: got %d entries, want 0", len(rep.Expected))
	}
	rep := runText(t, text, Options{Generate: true})
	var keys []string
	for _, e := range rep.Expected {
		keys = append(keys, e.Key)
	}
	if want := []string{"document:plan#view", "document:plan#publish"}; !slices.Equal(keys, want) {
		t.Errorf("got keys %v, want %v", keys, want)
	}
}

// TestRunBadContext: a context value of the wrong type fails its assertion
// with the engine's message; the other assertions still run.
func TestRunBadContext(t *testing.T) {
	text := docSchema + `relationships: |-
  document:plan#reader@user:ana[purpose_is:{"allowed":["eval"]}]
assertions:
  assertTrue:
    - 'document:plan#view@user:ana with {"purpose": 5}'
    - 'document:plan#view@user:ana with {"purpose": "eval"}'
`
	rep := runText(t, text, Options{})
	if rep.Failures != 1 || rep.Assertions[0].Passed || rep.Assertions[0].Error == "" || !rep.Assertions[1].Passed {
		t.Fatalf("got %+v, want the first assertion failed with an error and the second passed", rep.Assertions)
	}
	var b strings.Builder
	rep.WriteText(&b)
	if !strings.Contains(b.String(), "p.yaml:24: assertTrue document:plan#view@user:ana with {\"purpose\": 5}\n    expected: allowed\n    got:      error: ") {
		t.Errorf("got\n%s\nwant the error reported at line 24", b.String())
	}
}
