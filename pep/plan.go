package pep

import "github.com/trellis-authz/trellis/wire"

// fieldAction is what a plan entry lets a caller do with a field, ordered
// from the most restrictive.
type fieldAction uint8

const (
	dropField fieldAction = iota
	maskField
	keepField
)

// ApplyPlan returns a copy of record with each field treated as the plan
// (the answer of POST /v1/plan) says. fieldOf maps a plan resource
// ("field:claims_ssn") to the record's key ("ssn"), or to "" when the
// resource is none of the record's fields. A field is
//
//   - kept as it is when its entry holds the plan's first tier
//     (plan.Permissions[0], e.g. read_raw);
//   - passed through mask when its entry holds a lower tier (read_masked);
//   - dropped otherwise: no tier holds, the entry is conditional (its
//     context is missing) or carries an error, mask is nil, or the record's
//     field has no entry at all.
//
// It fails closed: only what the plan allows comes through. When two
// entries name the same field the more restrictive wins. record is not
// modified.
func ApplyPlan(record map[string]any, plan wire.PlanResponse, fieldOf func(resource string) string, mask func(field string, v any) any) map[string]any {
	first := ""
	if len(plan.Permissions) > 0 {
		first = plan.Permissions[0]
	}
	actions := make(map[string]fieldAction, len(plan.Plan))
	seen := make(map[string]bool, len(plan.Plan))
	for _, e := range plan.Plan {
		field := fieldOf(e.Resource)
		if field == "" {
			continue
		}
		a := dropField
		switch {
		case e.Error != nil || e.Conditional || e.Permission == "":
		case e.Permission == first:
			a = keepField
		case mask != nil:
			a = maskField
		}
		if !seen[field] || a < actions[field] {
			actions[field], seen[field] = a, true
		}
	}
	out := make(map[string]any, len(record))
	for k, v := range record {
		switch actions[k] { // a field without an entry is dropField
		case keepField:
			out[k] = v
		case maskField:
			out[k] = mask(k, v)
		}
	}
	return out
}
