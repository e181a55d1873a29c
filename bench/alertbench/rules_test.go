package alertbench

import (
	"testing"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/bench/workload"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/tuple"
)

// The benchmark's rule sets validate against the workload's schema, hold 50
// rules of the kinds Rules says, and match the writes it says.
func TestRulesValidAndShaped(t *testing.T) {
	sch, errs := compile.CompileText("schema.zed", workload.SchemaText)
	if err := errs.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opt  Options
		want map[string]int
	}{
		{"default", Options{}, map[string]int{alerts.KindRelationship: 38, alerts.KindDecision: 5, alerts.KindDenials: 5, alerts.KindSchema: 1, alerts.KindAudit: 1}},
		{"wide", Options{Wide: true}, map[string]int{alerts.KindRelationship: 38, alerts.KindDecision: 5, alerts.KindDenials: 5, alerts.KindSchema: 1, alerts.KindAudit: 1}},
		{"quiet", Options{Quiet: true}, map[string]int{alerts.KindRelationship: 38, alerts.KindDecision: 5, alerts.KindDenials: 5, alerts.KindSchema: 1, alerts.KindAudit: 1}},
		{"no-trace", Options{NoTrace: true}, map[string]int{alerts.KindRelationship: 43, alerts.KindDenials: 5, alerts.KindSchema: 1, alerts.KindAudit: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rs := Rules("http://127.0.0.1:1", "k", c.opt)
			if err := alerts.Validate(rs, sch); err != nil {
				t.Fatalf("validate: %v", err)
			}
			kinds := map[string]int{}
			for _, r := range rs.Rules {
				kinds[r.Kind()]++
			}
			if len(rs.Rules) != 50 || len(kinds) != len(c.want) {
				t.Errorf("%d rules of kinds %v, want 50 of %v", len(rs.Rules), kinds, c.want)
			}
			for k, n := range c.want {
				if kinds[k] != n {
					t.Errorf("%d rules of kind %s, want %d", kinds[k], k, n)
				}
			}
		})
	}

	// The write pool's shape: dataset:oO-pP-dD#reader@user:oO-wN.
	cases := []struct {
		rel          string
		op           tuple.Op
		narrow, wide string // the rule each set matches, "" none
	}{
		{"dataset:o3-p1-d2#reader@user:o3-w4", tuple.OpTouch, "o3-dataset-readers", "o3-dataset-readers"},
		{"dataset:o3-p4-d2#reader@user:o3-w4", tuple.OpDelete, "", "o3-dataset-readers"},
		{"dataset:o7-p0-d30#reader@user:o7-w4", tuple.OpDelete, "o7-reader-removed", "o7-reader-removed"},
		{"dataset:o7-p2-d30#reader@user:o7-w4", tuple.OpDelete, "", "o7-reader-removed"},
		{"dataset:o7-p0-d30#reader@user:o7-w4", tuple.OpTouch, "", ""},
		{"dataset:o5-p0-d1#reader@user:o5-w17", tuple.OpTouch, "watched-user", "watched-user"},
		{"dataset:o1-p4-d9#reader@user:o1-w3", tuple.OpTouch, "", ""},
		{"dataset:o0-p9-d9#reader@user:o0-w3", tuple.OpDelete, "p9-datasets", "p9-datasets"},
	}
	for _, c := range cases {
		rel, err := tuple.Parse(c.rel)
		if err != nil {
			t.Fatal(err)
		}
		for _, set := range []struct {
			opt  Options
			want string
		}{{Options{}, c.narrow}, {Options{Wide: true}, c.wide}} {
			var got []string
			for _, r := range Rules("http://127.0.0.1:1", "k", set.opt).Rules {
				if r.Kind() == alerts.KindRelationship && r.Match.Matches(c.op, rel) {
					got = append(got, r.Name)
				}
			}
			if set.want == "" && len(got) != 0 || set.want != "" && (len(got) != 1 || got[0] != set.want) {
				t.Errorf("wide=%v: %s %s matched %v, want %q", set.opt.Wide, c.op, c.rel, got, set.want)
			}
		}
	}
}
