package alerts

import (
	"path"

	"github.com/trellis-authz/trellis/tuple"
)

// Matches reports whether the change (op, rel) is selected by m.
func (m Match) Matches(op tuple.Op, rel tuple.Relationship) bool {
	switch m.Operation {
	case "delete":
		if op != tuple.OpDelete {
			return false
		}
	case "touch", "create":
		if op == tuple.OpDelete {
			return false
		}
	}
	if m.ResourceType != "" && m.ResourceType != rel.Resource.Type ||
		m.Relation != "" && m.Relation != rel.Relation ||
		m.SubjectType != "" && m.SubjectType != rel.Subject.Type ||
		m.SubjectID != "" && m.SubjectID != rel.Subject.ID {
		return false
	}
	if m.Caveat != "" && (rel.Caveat == nil || rel.Caveat.Name != m.Caveat) {
		return false
	}
	if m.ResourceIDPattern != "" {
		ok, _ := path.Match(m.ResourceIDPattern, rel.Resource.ID)
		if !ok {
			return false
		}
	}
	return true
}
