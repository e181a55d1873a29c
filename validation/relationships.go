package validation

import (
	"strings"

	"github.com/trellis-authz/trellis/tuple"
)

// ParseRelationships parses a relationships file (such as
// examples/ai-governance/relationships.txt, which `trellis serve
// --relationships` loads): one relationship per line in the syntax of package
// tuple; blank lines and lines starting with // are skipped. It is the same
// format as a policy file's relationships block. Lines are numbered from 1;
// the error, if any, is an ErrorList naming each bad line.
func ParseRelationships(name, text string) ([]Relationship, error) {
	var out []Relationship
	var errs ErrorList
	for i, l := range strings.Split(text, "\n") {
		l, ok := relationshipLine(l)
		if !ok {
			continue
		}
		r, err := tuple.Parse(l)
		if err != nil {
			errs = append(errs, &Error{File: name, Line: i + 1, Msg: err.Error()})
			continue
		}
		out = append(out, Relationship{Rel: r, Line: i + 1})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// relationshipLine is the rule for one line of a relationships block or
// file, as zed reads it: trimmed, and skipped (ok false) when blank or a
// line starting with //.
func relationshipLine(l string) (string, bool) {
	l = strings.TrimSpace(l)
	return l, l != "" && !strings.HasPrefix(l, "//")
}
