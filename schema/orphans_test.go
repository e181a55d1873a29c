package schema_test

import (
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/tuple"
)

func mustCompile(t *testing.T, text string) *schema.Schema {
	t.Helper()
	s, errs := compile.CompileText("o.zed", text)
	if err := errs.Err(); err != nil {
		t.Fatalf("compile %q: %v", text, err)
	}
	return s
}

// orphaned reports which of rels the orphans of old → next select (filter and
// match), by the orphan's String.
func orphaned(os []schema.Orphan, r tuple.Relationship) []string {
	var out []string
	for _, o := range os {
		if o.Filter.Matches(r) && o.Matches(r) {
			out = append(out, o.String())
		}
	}
	return out
}

func TestOrphans(t *testing.T) {
	const base = `use expiration
caveat on_corp(network string) { network == "corp" }
definition user {}
definition team {
  relation member: user
}
definition doc {
  relation reader: user | user:* | team#member | user with on_corp
  relation temp: user with expiration
}
`
	tests := []struct {
		name string
		next string
		rel  string
		want string // substring of the orphan naming rel; "" when rel stays valid
	}{
		{"unchanged", base, "doc:d#reader@user:ana", ""},
		{"type removed", strings.Replace(strings.Replace(base, "definition team {\n  relation member: user\n}\n", "", 1), " | team#member", "", 1), "team:t#member@user:ana", "type team"},
		{"type removed, used as a subject", strings.Replace(strings.Replace(base, "definition team {\n  relation member: user\n}\n", "", 1), " | team#member", "", 1), "doc:d#reader@team:t#member", "type team (as a subject)"},
		{"relation removed", strings.Replace(base, "  relation temp: user with expiration\n", "", 1), "doc:d#temp@user:ana[expiration:2030-01-01T00:00:00Z]", "relation doc#temp is removed"},
		{"caveat added to a plain subject", strings.Replace(base, "reader: user | user:*", "reader: user with on_corp | user:*", 1), "doc:d#reader@user:ana", "no longer allows user"},
		{"wildcard kept when plain dropped", strings.Replace(base, "reader: user | user:*", "reader: user:*", 1), "doc:d#reader@user:*", ""},
		{"plain dropped", strings.Replace(base, "reader: user | user:*", "reader: user:*", 1), "doc:d#reader@user:ana", "doc#reader no longer allows user"},
		{"caveat removed", strings.Replace(strings.Replace(base, " | user with on_corp", "", 1), "caveat on_corp(network string) { network == \"corp\" }\n", "", 1), `doc:d#reader@user:ana[on_corp:{"network":"corp"}]`, "on_corp"},
		{"caveat parameter renamed", strings.Replace(base, `on_corp(network string) { network == "corp" }`, `on_corp(net string) { net == "corp" }`, 1), `doc:d#reader@user:ana[on_corp:{"network":"corp"}]`, "parameters of caveat on_corp"},
		{"caveat parameter renamed, no context", strings.Replace(base, `on_corp(network string) { network == "corp" }`, `on_corp(net string) { net == "corp" }`, 1), `doc:d#reader@user:ana[on_corp]`, ""},
		{"expiration dropped", strings.Replace(base, "temp: user with expiration", "temp: user", 1), "doc:d#temp@user:ana[expiration:2000-01-01T00:00:00Z]", "no longer allows user with expiration"},
		{"alternative added", strings.Replace(base, "temp: user with expiration", "temp: user with expiration | user", 1), "doc:d#temp@user:ana[expiration:2030-01-01T00:00:00Z]", ""},
	}
	old := mustCompile(t, base)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := mustCompile(t, tt.next)
			r := tuple.MustParse(tt.rel)
			if err := old.ValidateRelationship(r); err != nil {
				t.Fatalf("test relationship invalid under the old schema: %v", err)
			}
			got := orphaned(schema.Orphans(old, next), r)
			if tt.want == "" {
				if len(got) > 0 {
					t.Fatalf("got orphans %q, want none", got)
				}
				if err := next.ValidateRelationship(r); err != nil {
					t.Errorf("no orphan but the new schema rejects it: %v", err)
				}
				return
			}
			if len(got) == 0 || !strings.Contains(strings.Join(got, "; "), tt.want) {
				t.Errorf("got orphans %q, want one mentioning %q", got, tt.want)
			}
		})
	}
	if got := schema.Orphans(old, old); len(got) != 0 {
		t.Errorf("same schema: got %d orphans, want none", len(got))
	}
}
