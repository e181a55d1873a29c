package alerts

import (
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/tuple"
)

// DecisionMatch selects answered checks. Without Denials it selects a check
// whose deciding branch went through the relation Through or the caveat
// Caveat (break-glass actually used, not only granted), as the check's
// explain trace shows it. With Denials it selects a burst: more than
// Denials.Count denied checks of one subject within Denials.Window.
type DecisionMatch struct {
	ResourceType string   `json:"resource_type,omitempty"`
	Permission   string   `json:"permission,omitempty"`
	SubjectType  string   `json:"subject_type,omitempty"`
	Result       string   `json:"result,omitempty"` // allowed, denied or conditional; "" any
	Through      string   `json:"through,omitempty"`
	Caveat       string   `json:"caveat,omitempty"`
	Denials      *Denials `json:"denials,omitempty"`
}

// Denials is a threshold: more than Count denials within Window (a Go
// duration such as "1m").
type Denials struct {
	Count  int    `json:"count"`
	Window string `json:"window"`
}

// Limits of a denials threshold.
const (
	MaxDenialCount = 1_000_000
	MinWindow      = time.Second
	MaxWindow      = 24 * time.Hour
)

// window returns the parsed window (Validate has checked it).
func (d Denials) window() time.Duration {
	w, _ := time.ParseDuration(d.Window)
	return w
}

func validateDecision(at string, m DecisionMatch, sch *schema.Schema) error {
	switch m.Result {
	case "", "allowed", "denied", "conditional":
	default:
		return errf(at+".result", "unknown result %q; use allowed, denied or conditional, or leave it out for any", m.Result)
	}
	if d := m.Denials; d != nil {
		if m.Through != "" || m.Caveat != "" || m.Result != "" && m.Result != "denied" {
			return errf(at+".denials", "a denials threshold counts denied checks; drop through, caveat and result from this rule")
		}
		if d.Count < 1 || d.Count > MaxDenialCount {
			return errf(at+".denials.count", "count %d: want 1 to %d (the rule fires at more than count denials)", d.Count, MaxDenialCount)
		}
		w, err := time.ParseDuration(d.Window)
		if err != nil || w < MinWindow || w > MaxWindow {
			return errf(at+".denials.window", "window %q: want a duration from %v to %v, such as \"1m\"", d.Window, MinWindow, MaxWindow)
		}
	} else if m.Through == "" && m.Caveat == "" {
		return errf(at, "a decision rule needs through (a relation on the deciding path), caveat, or denials; without them it would select every check")
	}
	if sch == nil {
		return nil
	}
	if m.ResourceType != "" {
		d, ok := sch.Definitions[m.ResourceType]
		if !ok {
			return errf(at+".resource_type", "type %q is not in the schema", m.ResourceType)
		}
		if m.Permission != "" && d.Relations[m.Permission] == nil && d.Permissions[m.Permission] == nil {
			return errf(at+".permission", "type %q has no relation or permission %q", m.ResourceType, m.Permission)
		}
	} else if m.Permission != "" && !anyMember(sch, m.Permission) {
		return errf(at+".permission", "no type of the schema has a relation or permission %q", m.Permission)
	}
	if m.Through != "" && !anyRelation(sch, m.Through) {
		return errf(at+".through", "no type of the schema has a relation %q (through names a stored relation, e.g. emergency_reader)", m.Through)
	}
	return knownSubjectAndCaveat(sch, at, m.SubjectType, m.Caveat)
}

func anyMember(sch *schema.Schema, name string) bool {
	for _, d := range sch.Definitions {
		if d.Relations[name] != nil || d.Permissions[name] != nil {
			return true
		}
	}
	return false
}

// Decision is one answered check, as the node that answered it offers it
// to a Watcher.
type Decision struct {
	Resource   tuple.ObjectRef
	Permission string
	Subject    tuple.SubjectRef
	Context    map[string]any
	Result     string
	Token      string
	Principal  string
	RequestID  string
	Time       time.Time
	// Watch is what the check was asked to report (Watcher.WatchFor) and
	// Watched what it reported (engine.CheckResult.Watched); a nil Watch:
	// the check reported nothing, and a rule that selects it is confirmed
	// by answering the check again with the rule's own watch.
	Watch   *engine.Watch
	Watched uint64
}

// selects reports whether d is of the resource type, permission, subject
// type and result m names. A through/caveat rule never selects a denied
// check (no branch decided it); a denials rule selects only those.
func (m *DecisionMatch) selects(d *Decision) bool {
	return (m.ResourceType == "" || m.ResourceType == d.Resource.Type) &&
		(m.Permission == "" || m.Permission == d.Permission) &&
		(m.SubjectType == "" || m.SubjectType == d.Subject.Type) &&
		(m.Result == "" || m.Result == d.Result) &&
		(m.Denials == nil) == (d.Result != "denied") // a denial never goes through break-glass; denials rules count only denials
}

// OnDecidingPath reports whether the branch of t that decided its answer
// went through the relation through (a "relation" node of that name), the
// caveat (a "caveat" node of that name), or, both given, the caveat below
// the relation; an empty name matches any. The deciding branch of a node
// is its children with the node's answer or allowed (of a union, the
// operands that decided it; of an intersection, all of them); of an
// exclusion, its base only. engine.Watch reports the same thing from the
// check itself, without a trace (engine TestWatchAgreesWithExplain).
func OnDecidingPath(t *engine.Trace, through, caveat string) bool {
	if t == nil || t.Result == "denied" {
		return false
	}
	return onPath(t, through, caveat)
}

func onPath(n *engine.Trace, through, caveat string) bool {
	switch {
	case n.Kind == "relation" && through != "" && n.Relation == through:
		if caveat == "" || hasCaveat(n, caveat) {
			return true
		}
	case n.Kind == "caveat" && through == "" && n.Detail["caveat"] == caveat:
		return true
	}
	for _, c := range decidingChildren(n) {
		if onPath(c, through, caveat) {
			return true
		}
	}
	return false
}

// hasCaveat reports whether a caveat node of that name lies under n on its
// deciding branch.
func hasCaveat(n *engine.Trace, caveat string) bool {
	if n.Kind == "caveat" && n.Detail["caveat"] == caveat {
		return true
	}
	for _, c := range decidingChildren(n) {
		if hasCaveat(c, caveat) {
			return true
		}
	}
	return false
}

// decidingChildren are the children of n on its deciding branch.
func decidingChildren(n *engine.Trace) []*engine.Trace {
	kids := n.Children
	if n.Kind == "exclusion" && len(kids) > 0 {
		kids = kids[:1]
	}
	var out []*engine.Trace
	for _, c := range kids {
		if c != nil && (c.Result == n.Result || c.Result == "allowed") {
			out = append(out, c)
		}
	}
	return out
}
