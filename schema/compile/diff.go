package compile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/trellis-authz/trellis/schema"
)

// ChangeKind says what a Change did.
type ChangeKind uint8

// The kinds of change between two schemas.
const (
	DefinitionAdded ChangeKind = iota + 1
	DefinitionRemoved
	RelationAdded
	RelationRemoved
	SubjectTypeAdded
	SubjectTypeRemoved
	PermissionAdded
	PermissionRemoved
	PermissionChanged
	CaveatAdded
	CaveatRemoved
	CaveatExpressionChanged
	CaveatParameterAdded
	CaveatParameterRemoved
	CaveatParameterTypeChanged
	ExpirationEnabled
	ExpirationDisabled
)

var kindNames = map[ChangeKind]string{
	DefinitionAdded:            "definition added",
	DefinitionRemoved:          "definition removed",
	RelationAdded:              "relation added",
	RelationRemoved:            "relation removed",
	SubjectTypeAdded:           "subject type added",
	SubjectTypeRemoved:         "subject type removed",
	PermissionAdded:            "permission added",
	PermissionRemoved:          "permission removed",
	PermissionChanged:          "permission changed",
	CaveatAdded:                "caveat added",
	CaveatRemoved:              "caveat removed",
	CaveatExpressionChanged:    "caveat expression changed",
	CaveatParameterAdded:       "caveat parameter added",
	CaveatParameterRemoved:     "caveat parameter removed",
	CaveatParameterTypeChanged: "caveat parameter type changed",
	ExpirationEnabled:          "expiration enabled",
	ExpirationDisabled:         "expiration disabled",
}

// String names the kind: "relation removed".
func (k ChangeKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("ChangeKind(%d)", k)
}

// Change is one difference between two schemas.
type Change struct {
	Kind ChangeKind
	// Path names what changed: "dataset", "dataset#reader", "caveat purpose_is",
	// "caveat purpose_is(allowed)".
	Path        string
	Description string
	// Breaking is true when stored relationships, or clients that write or check
	// them, may stop working: something they name is removed, a subject type a
	// relation allowed is removed, a caveat parameter is removed or retyped.
	Breaking bool
	// AccessChange is true when the change alters who has access without
	// breaking anything: a permission's expression, a caveat's expression or
	// parameters, a newly allowed subject type.
	AccessChange bool
}

// String formats the change for a terminal: "BREAKING relation removed dataset#reader: ...".
func (c Change) String() string {
	tag := ""
	switch {
	case c.Breaking:
		tag = "BREAKING "
	case c.AccessChange:
		tag = "ACCESS "
	}
	return tag + c.Kind.String() + " " + c.Path + ": " + c.Description
}

// Diff lists the changes from old to new: definitions in new's order (removed
// ones after, in old's order), then caveats. Either schema may be nil (empty).
func Diff(old, new *schema.Schema) []Change {
	if old == nil {
		old = &schema.Schema{}
	}
	if new == nil {
		new = &schema.Schema{}
	}
	var out []Change
	add := func(c Change) { out = append(out, c) }

	switch {
	case !old.UseExpiration && new.UseExpiration:
		add(Change{Kind: ExpirationEnabled, Path: "use expiration", Description: "relations may now allow \"with expiration\""})
	case old.UseExpiration && !new.UseExpiration:
		add(Change{Kind: ExpirationDisabled, Path: "use expiration", Description: "\"use expiration\" was removed; expiring relationships can no longer be written", Breaking: true})
	}

	for _, name := range new.Order {
		nd := new.Definitions[name]
		od, ok := old.Definitions[name]
		if !ok {
			add(Change{Kind: DefinitionAdded, Path: name, Description: fmt.Sprintf("definition %s was added", name)})
			continue
		}
		out = append(out, diffDefinition(od, nd)...)
	}
	for _, name := range old.Order {
		if _, ok := new.Definitions[name]; !ok {
			add(Change{Kind: DefinitionRemoved, Path: name, Breaking: true,
				Description: fmt.Sprintf("definition %s was removed; its relationships can no longer be written or checked", name)})
		}
	}

	for _, name := range new.CaveatOrder {
		nc := new.Caveats[name]
		oc, ok := old.Caveats[name]
		if !ok {
			add(Change{Kind: CaveatAdded, Path: "caveat " + name, Description: fmt.Sprintf("caveat %s(%s) was added", name, paramList(nc))})
			continue
		}
		out = append(out, diffCaveat(oc, nc)...)
	}
	for _, name := range old.CaveatOrder {
		if _, ok := new.Caveats[name]; !ok {
			add(Change{Kind: CaveatRemoved, Path: "caveat " + name, Breaking: true,
				Description: fmt.Sprintf("caveat %s was removed; relationships that use it can no longer be evaluated", name)})
		}
	}
	return out
}

func diffDefinition(od, nd *schema.Definition) []Change {
	var out []Change
	for _, m := range nd.Order {
		path := nd.Name + "#" + m
		nr, np, _ := nd.Lookup(m)
		or, op, existed := od.Lookup(m)
		switch {
		case nr != nil && or != nil:
			out = append(out, diffAllowed(path, or, nr)...)
		case np != nil && op != nil:
			before, after := ExprString(op.Expr), ExprString(np.Expr)
			if before != after {
				out = append(out, Change{Kind: PermissionChanged, Path: path, AccessChange: true,
					Description: fmt.Sprintf("permission %s changed from %q to %q", path, before, after)})
			}
		case nr != nil:
			if existed { // was a permission
				out = append(out, Change{Kind: PermissionRemoved, Path: path, Breaking: true,
					Description: fmt.Sprintf("permission %s became a relation", path)})
			}
			out = append(out, Change{Kind: RelationAdded, Path: path,
				Description: fmt.Sprintf("relation %s was added, allowing %s", path, allowedText(nr.Allowed))})
		case np != nil:
			if existed { // was a relation
				out = append(out, Change{Kind: RelationRemoved, Path: path, Breaking: true,
					Description: fmt.Sprintf("relation %s became a permission; its stored relationships are no longer read", path)})
			}
			out = append(out, Change{Kind: PermissionAdded, Path: path,
				Description: fmt.Sprintf("permission %s = %s was added", path, ExprString(np.Expr))})
		}
	}
	for _, m := range od.Order {
		if _, _, ok := nd.Lookup(m); ok {
			continue
		}
		path := od.Name + "#" + m
		if _, ok := od.Relations[m]; ok {
			out = append(out, Change{Kind: RelationRemoved, Path: path, Breaking: true,
				Description: fmt.Sprintf("relation %s was removed; its relationships can no longer be written or read", path)})
		} else {
			out = append(out, Change{Kind: PermissionRemoved, Path: path, Breaking: true,
				Description: fmt.Sprintf("permission %s was removed; checks of it will fail", path)})
		}
	}
	return out
}

func diffAllowed(path string, or, nr *schema.Relation) []Change {
	var out []Change
	for _, a := range nr.Allowed {
		if !slices.Contains(or.Allowed, a) {
			out = append(out, Change{Kind: SubjectTypeAdded, Path: path, AccessChange: true,
				Description: fmt.Sprintf("%s now allows %s", path, a)})
		}
	}
	for _, a := range or.Allowed {
		if !slices.Contains(nr.Allowed, a) {
			out = append(out, Change{Kind: SubjectTypeRemoved, Path: path, Breaking: true,
				Description: fmt.Sprintf("%s no longer allows %s; such relationships can no longer be written", path, a)})
		}
	}
	return out
}

func diffCaveat(oc, nc *schema.Caveat) []Change {
	var out []Change
	path := "caveat " + nc.Name
	if strings.TrimSpace(oc.Expression) != strings.TrimSpace(nc.Expression) {
		out = append(out, Change{Kind: CaveatExpressionChanged, Path: path, AccessChange: true,
			Description: fmt.Sprintf("caveat %s changed from { %s } to { %s }", nc.Name, oneLine(oc.Expression), oneLine(nc.Expression))})
	}
	for _, p := range nc.ParamOrder {
		pp := fmt.Sprintf("caveat %s(%s)", nc.Name, p)
		ot, ok := oc.Params[p]
		nt := nc.Params[p]
		switch {
		case !ok:
			out = append(out, Change{Kind: CaveatParameterAdded, Path: pp, AccessChange: true,
				Description: fmt.Sprintf("parameter %s %s was added to caveat %s", p, nt, nc.Name)})
		case ot.String() != nt.String():
			out = append(out, Change{Kind: CaveatParameterTypeChanged, Path: pp, Breaking: true,
				Description: fmt.Sprintf("parameter %s of caveat %s changed type from %s to %s; stored context may no longer fit", p, nc.Name, ot, nt)})
		}
	}
	for _, p := range oc.ParamOrder {
		if _, ok := nc.Params[p]; !ok {
			out = append(out, Change{Kind: CaveatParameterRemoved, Path: fmt.Sprintf("caveat %s(%s)", nc.Name, p), Breaking: true,
				Description: fmt.Sprintf("parameter %s was removed from caveat %s; stored context that sets it is rejected", p, nc.Name)})
		}
	}
	return out
}

func paramList(c *schema.Caveat) string {
	parts := make([]string, len(c.ParamOrder))
	for i, p := range c.ParamOrder {
		parts[i] = p + " " + c.Params[p].String()
	}
	return strings.Join(parts, ", ")
}

func allowedText(as []schema.AllowedSubject) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.String()
	}
	return strings.Join(parts, " | ")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
