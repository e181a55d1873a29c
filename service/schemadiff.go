package service

import (
	"context"
	"github.com/trellis-authz/trellis/wire"
	"strings"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
)

// orphansInUse returns the schema.Orphans of old → next that relationships
// at snap still use. It is the API's advisory pre-check, for a clear 409
// before proposing; the raft applier runs the same schema.Orphans check
// authoritatively (also counting expired relationships this snapshot hides).
func orphansInUse(ctx context.Context, snap Snapshot, old, next *schema.Schema) ([]string, error) {
	var inUse []string
	for _, o := range schema.Orphans(old, next) {
		for rel, err := range snap.ReadAll(ctx, o.Filter) {
			if err != nil {
				return nil, err
			}
			if o.Matches(rel) {
				inUse = append(inUse, o.String())
				break
			}
		}
	}
	return inUse, nil
}

// diffSchemas lists the changes from old (nil: none stored) to next, as the
// CLI's `trellis schema diff` does (both use compile.Diff).
func diffSchemas(old, next *schema.Schema) []wire.SchemaChange {
	out := []wire.SchemaChange{}
	for _, c := range compile.Diff(old, next) {
		out = append(out, wire.SchemaChange{
			Kind:         strings.ReplaceAll(c.Kind.String(), " ", "_"),
			Target:       c.Path,
			Description:  c.Description,
			Breaking:     c.Breaking,
			AccessChange: c.AccessChange,
		})
	}
	return out
}
