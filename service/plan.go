package service

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// MaxPlanPermissions bounds the tiers (permissions) of one plan.
const MaxPlanPermissions = 8

// planInput is a plan request parsed, before the schema is consulted.
type planInput struct {
	subject   tuple.SubjectRef
	perms     []string
	context   map[string]any
	resources []tuple.ObjectRef // listed; nil with a selector
	selector  *tuple.Filter     // resources_of as a relationship filter
	limit     int
}

// Plan answers, for one subject and a set of resources (listed, or selected
// by resources_of), which of an ordered list of permissions is the first that
// holds on each resource, all at one revision.
//
// Per resource the tiers are checked in order and the first that is not
// denied decides: allowed gives that permission; conditional gives that
// permission marked conditional, with its missing context, and the lower
// tiers are not tried (supplying the context can then only confirm the
// tier or let the resource fall to a lower one, never be mistaken for it).
// An item the engine cannot evaluate gets its own error (describe turns it
// into the transport's error body) and no permission; a failure of the node
// fails the whole request.
func (p *Permissions) Plan(ctx context.Context, c Caller, in wire.PlanRequest, describe func(error) (*wire.Error, bool)) (wire.PlanResponse, error) {
	pi, err := p.parsePlan(in)
	if err != nil {
		return wire.PlanResponse{}, err
	}
	v, err := p.reads.resolve(ctx, in.Consistency)
	if err != nil {
		return wire.PlanResponse{}, err
	}
	defer v.snap.Close()
	if err := planAgainstSchema(v.schema, pi, in.ResourcesOf); err != nil {
		return wire.PlanResponse{}, err
	}
	out := wire.PlanResponse{Permissions: pi.perms, CheckedAt: v.token}
	resources := pi.resources
	if pi.selector != nil {
		rels, next, err := v.snap.Read(ctx, *pi.selector, pi.limit, in.Cursor)
		if err != nil {
			return wire.PlanResponse{}, err
		}
		resources = make([]tuple.ObjectRef, len(rels))
		for i, r := range rels {
			resources[i] = r.Resource
		}
		out.NextCursor = next
	}
	out.Plan, err = p.evaluatePlan(ctx, c, v, pi, resources, describe)
	if err != nil {
		return wire.PlanResponse{}, err
	}
	return out, nil
}

// evaluatePlan runs the tiers: one bulk check per tier over the resources
// that earlier tiers denied.
func (p *Permissions) evaluatePlan(ctx context.Context, c Caller, v *readView, pi planInput, resources []tuple.ObjectRef, describe func(error) (*wire.Error, bool)) ([]wire.PlanEntry, error) {
	entries := make([]wire.PlanEntry, len(resources))
	for i, r := range resources {
		entries[i].Resource = r.String()
	}
	undecided := make([]int, len(resources))
	for i := range undecided {
		undecided[i] = i
	}
	for _, perm := range pi.perms {
		if len(undecided) == 0 {
			break
		}
		reqs := make([]engine.CheckRequest, len(undecided))
		for j, i := range undecided {
			reqs[j] = engine.CheckRequest{Resource: resources[i], Permission: perm, Subject: pi.subject, Context: pi.context}
		}
		next := undecided[:0]
		for j, r := range p.engine.CheckBulk(ctx, view(v), reqs) {
			i, e := undecided[j], &entries[undecided[j]]
			if r.Err != nil {
				body, verdict := describe(r.Err)
				if !verdict {
					return nil, r.Err
				}
				p.onCheck("error")
				e.Error = body
				continue
			}
			res := r.Result
			p.onCheck(res.Result.String())
			p.recordDecision(c, c.RequestID+"#"+strconv.Itoa(i)+"/"+perm, reqs[j], res, v.token)
			e.ExpiresAt = earliest(e.ExpiresAt, res.ExpiresAt)
			switch res.Result {
			case engine.Allowed:
				e.Permission = perm
			case engine.Conditional:
				e.Permission, e.Conditional, e.MissingContext = perm, true, res.MissingContext
			default:
				next = append(next, i)
			}
		}
		undecided = next
	}
	return entries, nil
}

// earliest returns the earlier of two optional times.
func earliest(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.Before(*a)) {
		return b
	}
	return a
}

// parsePlan parses and bounds every field of a plan request that does not
// need the schema.
func (p *Permissions) parsePlan(in wire.PlanRequest) (planInput, error) {
	var pi planInput
	var err error
	if pi.perms, err = planPermissions(in.Permissions); err != nil {
		return pi, err
	}
	if pi.subject, err = parseSubject("subject", in.Subject); err != nil {
		return pi, err
	}
	if pi.context, err = parseContext(p.cfg, "context", in.Context); err != nil {
		return pi, err
	}
	switch {
	case in.Resources != nil && in.ResourcesOf != nil:
		return pi, argErr("resources", "give resources or resources_of, not both")
	case in.ResourcesOf != nil:
		pi.selector, err = parseSelector(*in.ResourcesOf)
		if err != nil {
			return pi, err
		}
		pi.limit, err = p.planPageLimit(in.Limit)
		return pi, err
	case len(in.Resources) == 0:
		return pi, argErr("resources", "resources is empty; list resources such as [\"field:claims_ssn\"] or select them with resources_of {\"type\", \"relation\", \"object\"}")
	case in.Limit != 0 || in.Cursor != "":
		return pi, argErr("limit", "limit and cursor page a resources_of selection; a listed plan is answered whole (list at most %d resources)", p.cfg.MaxBulkItems)
	case len(in.Resources) > p.cfg.MaxBulkItems:
		return pi, fail(ErrTooManyUpdates, map[string]any{"field": "resources", "limit": p.cfg.MaxBulkItems},
			"resources has %d entries; at most %d are allowed per plan (page a larger set with resources_of)", len(in.Resources), p.cfg.MaxBulkItems)
	}
	seen := make(map[tuple.ObjectRef]int, len(in.Resources))
	pi.resources = make([]tuple.ObjectRef, len(in.Resources))
	for i, s := range in.Resources {
		field := "resources[" + strconv.Itoa(i) + "]"
		if pi.resources[i], err = parseObject(field, s); err != nil {
			return pi, err
		}
		if j, dup := seen[pi.resources[i]]; dup {
			return pi, argErr(field, "%s repeats resources[%d] (%s); list each resource once", field, j, s)
		}
		seen[pi.resources[i]] = i
	}
	return pi, nil
}

// planPermissions checks the tiers: at least one, at most
// MaxPlanPermissions, each a name, none twice.
func planPermissions(perms []string) ([]string, error) {
	if len(perms) == 0 {
		return nil, argErr("permissions", "permissions is empty; list the tiers best first, e.g. [\"read_raw\", \"read_masked\"]")
	}
	if len(perms) > MaxPlanPermissions {
		return nil, fail(ErrTooManyUpdates, map[string]any{"field": "permissions", "limit": MaxPlanPermissions},
			"permissions has %d tiers; at most %d are allowed", len(perms), MaxPlanPermissions)
	}
	for k, perm := range perms {
		field := "permissions[" + strconv.Itoa(k) + "]"
		if err := requireName(field, perm); err != nil {
			return nil, err
		}
		if j := slices.Index(perms[:k], perm); j >= 0 {
			return nil, argErr(field, "%s repeats permissions[%d] (%q); list each tier once", field, j, perm)
		}
	}
	return perms, nil
}

// parseSelector turns resources_of into the filter of its reverse read,
// T:*#R@O.
func parseSelector(s wire.ResourceSelector) (*tuple.Filter, error) {
	if s.Type == "" {
		return nil, argErr("resources_of.type", "resources_of.type is required: the type of the resources, e.g. \"field\"")
	}
	if err := tuple.ValidateTypeName(s.Type); err != nil {
		return nil, argErr("resources_of.type", "resources_of.type: %v", err)
	}
	if err := requireName("resources_of.relation", s.Relation); err != nil {
		return nil, err
	}
	obj, err := parseSubject("resources_of.object", s.Object)
	if err != nil {
		return nil, err
	}
	return &tuple.Filter{ResourceType: s.Type, Relation: s.Relation,
		Subject: &tuple.SubjectFilter{Type: obj.Type, ID: obj.ID, Relation: &obj.Relation}}, nil
}

// planPageLimit is the page size of a resources_of selection: at most
// MaxPageSize and MaxBulkItems, both limits of the work one request may ask.
func (p *Permissions) planPageLimit(limit int) (int, error) {
	most := min(p.cfg.MaxPageSize, p.cfg.MaxBulkItems)
	if limit < 0 || limit > most {
		return 0, argErr("limit", "limit is %d; it must be between 0 (the default, %d) and %d", limit, most, most)
	}
	if limit == 0 {
		return most, nil
	}
	return limit, nil
}

// planAgainstSchema checks a parsed plan against the schema of its revision:
// the subject, the context keys, each resource type (listed or selected)
// and every tier on it, and the selector's relation and object.
func planAgainstSchema(sch *schema.Schema, pi planInput, sel *wire.ResourceSelector) error {
	if _, err := schemaType(sch, "subject", pi.subject.Type); err != nil {
		return err
	}
	if pi.subject.Relation != "" {
		if err := schemaMember(sch, "subject", pi.subject.Type, pi.subject.Relation); err != nil {
			return err
		}
	}
	if err := contextKeysKnown(sch, "context", pi.context); err != nil {
		return err
	}
	if pi.selector != nil {
		d, err := schemaType(sch, "resources_of.type", sel.Type)
		if err != nil {
			return err
		}
		if err := tiersDefined(d, pi.perms, "resources_of.type "+sel.Type); err != nil {
			return err
		}
		return selectorAgainstSchema(sch, d, *pi.selector)
	}
	checked := map[string]bool{}
	for i, r := range pi.resources {
		field := "resources[" + strconv.Itoa(i) + "]"
		d, err := schemaType(sch, field, r.Type)
		if err != nil {
			return err
		}
		if checked[r.Type] {
			continue
		}
		checked[r.Type] = true
		if err := tiersDefined(d, pi.perms, field+" "+r.String()); err != nil {
			return err
		}
	}
	return nil
}

// tiersDefined checks that every tier is a relation or permission of d;
// where names the resource it is asked of.
func tiersDefined(d *schema.Definition, perms []string, where string) error {
	for k, perm := range perms {
		if _, _, ok := d.Lookup(perm); !ok {
			field := "permissions[" + strconv.Itoa(k) + "]"
			return fail(ErrUnknownRelation, map[string]any{"field": field, "type": d.Name, "name": perm},
				"%s: %s has no relation or permission %q, so it cannot be a tier for %s (it has: %s)",
				field, d.Name, perm, where, strings.Join(d.Order, ", "))
		}
	}
	return nil
}

// selectorAgainstSchema checks that the selector names a relation (stored
// relationships are read, so not a permission) that allows its object.
func selectorAgainstSchema(sch *schema.Schema, d *schema.Definition, f tuple.Filter) error {
	rel, ok := d.Relations[f.Relation]
	if !ok {
		if _, isPerm := d.Permissions[f.Relation]; isPerm {
			return argErr("resources_of.relation", "resources_of.relation: %s#%s is a permission; resources_of reads stored relationships, so name a relation (%s has: %s)",
				d.Name, f.Relation, d.Name, strings.Join(relationNames(d), ", "))
		}
		return fail(ErrUnknownRelation, map[string]any{"field": "resources_of.relation", "type": d.Name, "name": f.Relation},
			"resources_of.relation: %s has no relation %q (relations: %s)", d.Name, f.Relation, strings.Join(relationNames(d), ", "))
	}
	obj := tuple.SubjectRef{Type: f.Subject.Type, ID: f.Subject.ID, Relation: *f.Subject.Relation}
	if _, err := schemaType(sch, "resources_of.object", obj.Type); err != nil {
		return err
	}
	allowed := make([]string, len(rel.Allowed))
	for i, a := range rel.Allowed {
		allowed[i] = a.String()
		if a.Type == obj.Type && a.Relation == obj.Relation && a.Wildcard == (obj.ID == tuple.Wildcard) {
			return nil
		}
	}
	return fail(ErrSubjectNotAllowed, map[string]any{"field": "resources_of.object", "relation": d.Name + "#" + rel.Name, "allowed": allowed},
		"resources_of.object: %s#%s never points at %s (it allows: %s), so the selection would always be empty",
		d.Name, rel.Name, obj.String(), strings.Join(allowed, ", "))
}
