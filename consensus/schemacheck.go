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

// checkSafe refuses a schema under which stored relationships would no longer
// be valid (a removed type or relation, a dropped or changed allowed subject
// type, a removed caveat), naming each one. schema.Orphans decides what to
// look at; the count includes expired relationships and reads no clock, so
// every replica and every replay gives the same verdict.
func (a *applier) checkSafe(old, next *schema.Schema) error {
	if a.counter == nil {
		return fmt.Errorf("%w: this node cannot count relationships, so it cannot check the change", ErrUnsafeSchemaChange)
	}
	rev := a.store.AppliedRevision()
	var problems []string
	for _, o := range schema.Orphans(old, next) {
		n, err := a.counter.CountRelationships(context.Background(), rev, o.Filter, o.Match)
		if err != nil {
			return err
		}
		if n > 0 {
			problems = append(problems, fmt.Sprintf("%s but %d relationships use it", o, n))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s; delete those relationships first", ErrUnsafeSchemaChange, strings.Join(problems, "; "))
	}
	return nil
}
