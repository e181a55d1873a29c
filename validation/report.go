package validation

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/trellis-authz/trellis/engine"
)

// WriteText prints the report for a person: one line per passed file, and for
// each failure its file:line, the assertion, what was expected, what came out
// and the explain trace as an indented tree.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, a := range r.Assertions {
		if a.Passed {
			continue
		}
		fmt.Fprintf(&b, "%s:%d: %s %s\n", r.File, a.Line, a.Kind, a.Assertion)
		fmt.Fprintf(&b, "    expected: %s\n", a.Want)
		if a.Error != "" {
			fmt.Fprintf(&b, "    got:      error: %s\n", a.Error)
		} else {
			fmt.Fprintf(&b, "    got:      %s", a.Got)
			if len(a.MissingContext) > 0 {
				fmt.Fprintf(&b, " (missing context: %s)", strings.Join(a.MissingContext, ", "))
			}
			b.WriteString("\n")
		}
		if a.Trace != nil {
			b.WriteString("    trace:\n")
			WriteTrace(&b, a.Trace, 3)
		}
	}
	for _, e := range r.Expected {
		if e.Passed {
			continue
		}
		if e.Line > 0 {
			fmt.Fprintf(&b, "%s:%d: validation %s does not match what the engine computes\n", r.File, e.Line, e.Key)
		} else {
			fmt.Fprintf(&b, "%s: validation %s is not in the file\n", r.File, e.Key)
		}
		if e.Error != "" {
			fmt.Fprintf(&b, "    error: %s\n", e.Error)
			continue
		}
		for _, m := range e.Missing {
			fmt.Fprintf(&b, "    - %s    (line %d: expected, not computed)\n", m.Text, m.Line)
		}
		for _, u := range e.Unexpected {
			fmt.Fprintf(&b, "    + %s    (computed, not expected)\n", u)
		}
		b.WriteString("    computed:\n")
		if len(e.Got) == 0 {
			b.WriteString("      (no subject has it)\n")
		}
		for _, g := range e.Got {
			fmt.Fprintf(&b, "      %s\n", g)
		}
		b.WriteString("    (if the change is intended, run trellis validate --update to rewrite the block)\n")
	}
	if r.Passed {
		fmt.Fprintf(&b, "%s: ok (%s, %s)\n", r.File, plural(len(r.Assertions), "assertion"), plural(len(r.Expected), "validation entry", "validation entries"))
	} else {
		fmt.Fprintf(&b, "%s: FAILED: %s of %d\n", r.File, plural(r.Failures, "failure"), len(r.Assertions)+len(r.Expected))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, one string, many ...string) string {
	if n == 1 {
		return "1 " + one
	}
	if len(many) > 0 {
		return fmt.Sprintf("%d %s", n, many[0])
	}
	return fmt.Sprintf("%d %ss", n, one)
}

// WriteTrace prints an explain trace as an indented tree, two spaces per
// level starting at indent levels:
//
//	check dataset:claims#read for user:ana: denied
//	  exclusion: denied
//	    union: allowed
//	      relation dataset:claims#reader for user:ana: allowed [dataset:claims#reader@user:ana]
func WriteTrace(w io.Writer, t *engine.Trace, indent int) {
	var b strings.Builder
	writeTrace(&b, t, indent)
	io.WriteString(w, b.String())
}

func writeTrace(b *strings.Builder, t *engine.Trace, depth int) {
	b.WriteString(strings.Repeat("  ", depth))
	b.WriteString(t.Kind)
	switch {
	case t.Resource != "" && t.Relation != "":
		b.WriteString(" " + t.Resource + "#" + t.Relation)
	case t.Resource != "" || t.Relation != "":
		b.WriteString(" " + t.Resource + t.Relation)
	}
	if t.Subject != "" {
		b.WriteString(" for " + t.Subject)
	}
	b.WriteString(": " + t.Result)
	if len(t.Missing) > 0 {
		b.WriteString(" (missing " + strings.Join(t.Missing, ", ") + ")")
	}
	if len(t.Tuples) > 0 {
		b.WriteString(" [" + strings.Join(t.Tuples, ", ") + "]")
	}
	for _, k := range slices.Sorted(maps.Keys(t.Detail)) {
		fmt.Fprintf(b, " %s=%q", k, t.Detail[k])
	}
	if t.Cached {
		b.WriteString(" (cached)")
	}
	b.WriteString("\n")
	for _, c := range t.Children {
		writeTrace(b, c, depth+1)
	}
}
