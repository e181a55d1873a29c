package pep

import (
	"maps"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/wire"
)

func TestApplyPlan(t *testing.T) {
	record := map[string]any{"ssn": "123-45-6789", "region": "EU", "notes": "late payer", "email": "a@b.c", "phone": "555", "extra": 7}
	orig := maps.Clone(record)
	plan := wire.PlanResponse{Permissions: []string{"read_raw", "read_masked"}, Plan: []wire.PlanEntry{
		{Resource: "field:claims_region", Permission: "read_raw"},
		{Resource: "field:claims_notes", Permission: "read_masked"},
		{Resource: "field:claims_ssn", Permission: "read_raw", Conditional: true, MissingContext: []string{"client_ip"}},
		{Resource: "field:claims_email", Permission: ""},
		{Resource: "field:claims_phone", Error: &wire.Error{Code: "caveat_evaluation_failed"}},
		{Resource: "field:other_table", Permission: "read_raw"},
	}}
	fieldOf := func(r string) string {
		f, ok := strings.CutPrefix(r, "field:claims_")
		if !ok {
			return ""
		}
		return f
	}
	var masked []string
	mask := func(field string, v any) any {
		masked = append(masked, field)
		return "***"
	}
	got := ApplyPlan(record, plan, fieldOf, mask)
	want := map[string]any{"region": "EU", "notes": "***"}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v (raw region, masked notes; conditional, denied, failed and unplanned fields dropped)", got, want)
	}
	if len(masked) != 1 || masked[0] != "notes" {
		t.Errorf("mask was called for %v, want only notes", masked)
	}
	if !maps.Equal(record, orig) {
		t.Errorf("the record was modified: %v", record)
	}

	// Without a mask function, masked fields are dropped.
	if got := ApplyPlan(record, plan, fieldOf, nil); !maps.Equal(got, map[string]any{"region": "EU"}) {
		t.Errorf("nil mask: got %v, want only the raw region", got)
	}
	// Two entries for one field: the more restrictive wins, in either order.
	for _, entries := range [][]wire.PlanEntry{
		{{Resource: "field:claims_region", Permission: "read_raw"}, {Resource: "field:claims_region", Permission: "read_masked"}},
		{{Resource: "field:claims_region", Permission: "read_masked"}, {Resource: "field:claims_region", Permission: "read_raw"}},
	} {
		p := wire.PlanResponse{Permissions: plan.Permissions, Plan: entries}
		if got := ApplyPlan(record, p, fieldOf, mask); !maps.Equal(got, map[string]any{"region": "***"}) {
			t.Errorf("duplicate entries %v: got %v, want region masked", entries, got)
		}
		p.Plan = append(p.Plan, wire.PlanEntry{Resource: "field:claims_region", Permission: ""})
		if got := ApplyPlan(record, p, fieldOf, mask); len(got) != 0 {
			t.Errorf("a denying duplicate: got %v, want region dropped", got)
		}
	}
	// A plan that does not say which tier is first shows nothing raw.
	if got := ApplyPlan(record, wire.PlanResponse{Plan: plan.Plan}, fieldOf, mask); !maps.Equal(got, map[string]any{"region": "***", "notes": "***"}) {
		t.Errorf("no tiers: got %v, want region and notes masked", got)
	}
}
