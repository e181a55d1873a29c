package spicedb

import (
	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// debugInfo converts a Trellis check trace (explain) into SpiceDB's debug
// trace (with_tracing; what `zed permission check --explain` prints): a
// tree of checks of one resource's relation or permission for the subject.
// Trellis's operator nodes (union, intersection, exclusion, arrow) have no
// SpiceDB counterpart; their checks become sub-problems of the nearest
// check above them.
func debugInfo(t *wire.Trace) *v1.DebugInformation {
	if t == nil {
		return nil
	}
	roots := debugChecks(t)
	if len(roots) == 0 {
		return nil
	}
	root := roots[0]
	if len(roots) > 1 { // no single check at the top: wrap them
		root = &v1.CheckDebugTrace{Resource: roots[0].Resource, Permission: roots[0].Permission, Subject: roots[0].Subject,
			Result: debugResult(t.Result), Resolution: &v1.CheckDebugTrace_SubProblems_{SubProblems: &v1.CheckDebugTrace_SubProblems{Traces: roots}}}
	}
	return &v1.DebugInformation{Check: root}
}

// debugChecks returns the checks at or below t, t's own when it is one.
func debugChecks(t *wire.Trace) []*v1.CheckDebugTrace {
	var below []*v1.CheckDebugTrace
	for _, c := range t.Children {
		below = append(below, debugChecks(c)...)
	}
	if t.Resource == "" || t.Relation == "" || (t.Kind != "check" && t.Kind != "relation") {
		return below
	}
	res, err := tuple.ParseObject(t.Resource)
	if err != nil {
		return below
	}
	d := &v1.CheckDebugTrace{
		Resource:       &v1.ObjectReference{ObjectType: res.Type, ObjectId: res.ID},
		Permission:     t.Relation,
		PermissionType: v1.CheckDebugTrace_PERMISSION_TYPE_PERMISSION,
		Result:         debugResult(t.Result),
	}
	if t.Kind == "relation" {
		d.PermissionType = v1.CheckDebugTrace_PERMISSION_TYPE_RELATION
	}
	if s, err := tuple.ParseSubject(t.Subject); err == nil {
		d.Subject = &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: s.Type, ObjectId: s.ID}, OptionalRelation: s.Relation}
	}
	if len(t.Missing) > 0 {
		d.CaveatEvaluationInfo = &v1.CaveatEvalInfo{
			Result:            v1.CaveatEvalInfo_RESULT_MISSING_SOME_CONTEXT,
			PartialCaveatInfo: &v1.PartialCaveatInfo{MissingRequiredContext: t.Missing},
		}
	}
	if t.Cached {
		d.Resolution = &v1.CheckDebugTrace_WasCachedResult{WasCachedResult: true}
	} else {
		d.Resolution = &v1.CheckDebugTrace_SubProblems_{SubProblems: &v1.CheckDebugTrace_SubProblems{Traces: below}}
	}
	return []*v1.CheckDebugTrace{d}
}

func debugResult(r string) v1.CheckDebugTrace_Permissionship {
	switch r {
	case "allowed":
		return v1.CheckDebugTrace_PERMISSIONSHIP_HAS_PERMISSION
	case "conditional":
		return v1.CheckDebugTrace_PERMISSIONSHIP_CONDITIONAL_PERMISSION
	}
	return v1.CheckDebugTrace_PERMISSIONSHIP_NO_PERMISSION
}
