package consensus

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// validate checks a relationship against the schema in force.
func (a *applier) validate(rel tuple.Relationship) error {
	if a.schema == nil {
		return fmt.Errorf("%w: write a schema first (PUT /v1/schema)", ErrNoSchema)
	}
	if err := a.schema.ValidateRelationship(rel); err != nil {
		return fmt.Errorf("%w: %w", ErrSchemaViolation, err)
	}
	return nil
}

func describeAllowed(as schema.AllowedSubject) string {
	s := as.Type
	if as.Wildcard {
		s += ":*"
	}
	if as.Relation != "" {
		s += "#" + as.Relation
	}
	if as.Caveat != "" {
		s += " with " + as.Caveat
	}
	if as.Expiration {
		s += " with expiration"
	}
	return s
}

func (a *applier) applySchema(index uint64, c Command) (WriteResult, error) {
	sc := c.(*SchemaCommand)
	next, err := a.compile(sc.Text)
	if err != nil {
		return WriteResult{}, fmt.Errorf("%w: %w", ErrSchemaInvalid, err)
	}
	hash := next.Hash
	if hash == "" {
		sum := sha256.Sum256([]byte(sc.Text))
		hash = hex.EncodeToString(sum[:])
	}
	if a.schema != nil {
		if err := a.checkSafe(a.schema, next); err != nil {
			return WriteResult{}, err
		}
	}
	res, err := a.commit(index, c, storage.Batch{Schema: &storage.SchemaRecord{Text: sc.Text, Hash: hash}},
		func(r storage.Result) WriteResult { return WriteResult{Revision: r.Revision, SchemaHash: hash} }, hash)
	if err == nil && res.Revision == index {
		a.schema = next
	}
	return res, err
}

// checkSafe refuses a schema that removes a type, a relation or an allowed
// subject type that relationships still use, naming each one.
func (a *applier) checkSafe(old, next *schema.Schema) error {
	if a.counter == nil {
		return fmt.Errorf("%w: this node cannot count relationships, so it cannot check the change", ErrUnsafeSchemaChange)
	}
	rev := a.store.AppliedRevision()
	var problems []string
	count := func(f tuple.Filter) (int, error) {
		return a.counter.CountRelationships(context.Background(), rev, f)
	}
	for _, name := range old.Order {
		od := old.Definitions[name]
		nd, kept := next.Definitions[name]
		if !kept {
			n, err := count(tuple.Filter{ResourceType: name})
			if err != nil {
				return err
			}
			m, err := count(tuple.Filter{Subject: &tuple.SubjectFilter{Type: name}})
			if err != nil {
				return err
			}
			if n+m > 0 {
				problems = append(problems, fmt.Sprintf("type %s is removed but %d relationships use it (%d as resource, %d as subject)", name, n+m, n, m))
			}
			continue
		}
		for _, rname := range od.Order {
			orel, isRel := od.Relations[rname]
			if !isRel {
				continue
			}
			nrel, kept := nd.Relations[rname]
			if !kept {
				n, err := count(tuple.Filter{ResourceType: name, Relation: rname})
				if err != nil {
					return err
				}
				if n > 0 {
					problems = append(problems, fmt.Sprintf("relation %s#%s is removed but has %d relationships", name, rname, n))
				}
				continue
			}
			for _, as := range orel.Allowed {
				if allows(nrel, as) {
					continue
				}
				n, err := countAllowed(count, name, rname, as)
				if err != nil {
					return err
				}
				if n > 0 {
					problems = append(problems, fmt.Sprintf("relation %s#%s no longer allows %s but %d relationships use it", name, rname, describeAllowed(as), n))
				}
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s; delete those relationships first", ErrUnsafeSchemaChange, strings.Join(problems, "; "))
	}
	return nil
}

// allows reports whether r still accepts the subject shape as (ignoring
// caveat and expiration traits).
func allows(r *schema.Relation, as schema.AllowedSubject) bool {
	for _, n := range r.Allowed {
		if n.Type == as.Type && n.Wildcard == as.Wildcard && n.Relation == as.Relation {
			return true
		}
	}
	return false
}

func countAllowed(count func(tuple.Filter) (int, error), typ, rel string, as schema.AllowedSubject) (int, error) {
	subrel := as.Relation
	f := tuple.Filter{ResourceType: typ, Relation: rel, Subject: &tuple.SubjectFilter{Type: as.Type, Relation: &subrel}}
	if as.Wildcard {
		f.Subject.ID = tuple.Wildcard
		return count(f)
	}
	n, err := count(f)
	if err != nil || as.Relation != "" {
		return n, err
	}
	// A plain-subject filter also matches wildcards; subtract them.
	f.Subject.ID = tuple.Wildcard
	w, err := count(f)
	return n - w, err
}
