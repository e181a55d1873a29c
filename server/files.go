package server

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/tuple"
)

// loadFiles writes --schema when it differs from the stored one and imports
// --relationships into a data directory that had no schema before this start.
// Only the leader writes; in a cluster the others receive it through raft.
func (n *Node) loadFiles(ctx context.Context, hadSchema bool) error {
	o := n.cfg
	if o.SchemaFile == "" && o.RelationshipsFile == "" {
		return nil
	}
	var text string
	if o.SchemaFile != "" {
		b, err := os.ReadFile(o.SchemaFile)
		if err != nil {
			return fmt.Errorf("--schema: %w", err)
		}
		text = string(b)
		if _, errs := compile.CompileText(o.SchemaFile, text); errs.Err() != nil {
			return fmt.Errorf("--schema %s has errors:\n%w", o.SchemaFile, errs.Err())
		}
	}
	var rels []tuple.Relationship
	if o.RelationshipsFile != "" {
		var err error
		if rels, err = readRelationshipsFile(o.RelationshipsFile); err != nil {
			return err
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := n.raft.WaitForLeader(wctx); err != nil {
		return fmt.Errorf("waiting for a raft leader to load --schema/--relationships: %w", err)
	}
	if !n.raft.IsLeader() {
		n.log.Info("not the leader; the leader loads --schema and --relationships")
		return nil
	}
	meta := consensus.Meta{Principal: "trellis-serve", Reason: "loaded at start from " + o.SchemaFile, Time: time.Now().UTC()}
	if text != "" {
		rec, _, ok, err := n.store.Schema()
		if err != nil {
			return err
		}
		if !ok || rec.Text != text {
			if _, err := n.raft.Write(wctx, &consensus.SchemaCommand{Meta: meta, Text: text}); err != nil {
				return fmt.Errorf("write --schema %s: %w", o.SchemaFile, err)
			}
			n.log.Info("schema loaded", "file", o.SchemaFile)
		}
	}
	if len(rels) > 0 && !hadSchema {
		meta.Reason = "loaded at start from " + o.RelationshipsFile
		for start := 0; start < len(rels); start += 1000 {
			end := min(start+1000, len(rels))
			meta.Time = time.Now().UTC()
			if _, err := n.raft.Write(wctx, &consensus.ImportCommand{Meta: meta, Relationships: rels[start:end]}); err != nil {
				return fmt.Errorf("import --relationships %s (lines %d..%d): %w", o.RelationshipsFile, start+1, end, err)
			}
		}
		n.log.Info("relationships loaded", "file", o.RelationshipsFile, "count", len(rels))
	} else if len(rels) > 0 {
		n.log.Info("data directory already initialized; --relationships not loaded again", "file", o.RelationshipsFile)
	}
	return nil
}

// readRelationshipsFile reads one relationship per line; blank lines and lines
// starting with // are skipped. Errors name the line.
func readRelationshipsFile(path string) ([]tuple.Relationship, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rels []tuple.Relationship
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "//") || strings.HasPrefix(line, "#") {
			continue
		}
		rel, err := tuple.Parse(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		rels = append(rels, rel)
	}
	return rels, nil
}
