package client_test

import (
	"context"
	"fmt"
	"github.com/trellis-authz/trellis/wire"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/client"
)

// A watcher that resumes from its last token sees every later change once.
func ExampleClient_Watch() {
	srv := startAuditServer()
	defer srv.Close()
	ctx := context.Background()
	c := client.New(srv.URL, client.WithToken(srv.Admin))
	s, err := c.WriteSchema(ctx, wire.WriteSchemaRequest{Schema: exampleSchema})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, rel := range []string{"dataset:a#reader@user:ana", "dataset:b#reader@user:ben", "team:ml#member@user:cy"} {
		if _, err := c.WriteRelationships(ctx, wire.WriteRelationshipsRequest{Updates: []wire.Update{{Op: "touch", Relationship: rel}}}); err != nil {
			fmt.Println(err)
			return
		}
	}
	// Read one dataset change, disconnect, resume from the last token.
	w, err := c.Watch(ctx, client.WatchOptions{Since: s.WrittenAt, Types: []string{"dataset"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev, _ := w.Next()
	fmt.Println(ev.Changes[0].Op, ev.Changes[0].Relationship)
	w.Close()
	w, err = c.Watch(ctx, client.WatchOptions{Since: w.LastID(), Types: []string{"dataset"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	ev, _ = w.Next()
	fmt.Println(ev.Changes[0].Op, ev.Changes[0].Relationship)
	// Output:
	// touch dataset:a#reader@user:ana
	// touch dataset:b#reader@user:ben
}

// An auditor checks a checkpoint's signature with the pinned key, then that
// an older checkpoint is a prefix of it.
func ExampleClient_AuditConsistencyProof() {
	srv := startAuditServer()
	defer srv.Close()
	ctx := context.Background()
	c := client.New(srv.URL, client.WithToken(srv.Admin))
	if _, err := c.WriteSchema(ctx, wire.WriteSchemaRequest{Schema: exampleSchema, Reason: "initial schema"}); err != nil {
		fmt.Println(err)
		return
	}
	old, err := c.AuditCheckpoint(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := c.WriteRelationships(ctx, wire.WriteRelationshipsRequest{
		Updates: []wire.Update{{Op: "touch", Relationship: "dataset:a#reader@user:ana"}}, Reason: "JIRA-7"}); err != nil {
		fmt.Println(err)
		return
	}
	cur, err := c.AuditCheckpoint(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	// The signed note is what a verifier trusts; parse it and check its
	// signature against the key pinned beforehand.
	signed, err := audit.ParseCheckpoint([]byte(cur.Checkpoint.Note))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("signature:", signed.Verify(srv.pub))
	p, err := c.AuditConsistencyProof(ctx, old.Checkpoint.Size, cur.Checkpoint.Size)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = proof.VerifyConsistency(rfc6962.DefaultHasher, old.Checkpoint.Size, cur.Checkpoint.Size, p.Proof, old.Checkpoint.Root, cur.Checkpoint.Root)
	fmt.Printf("size %d -> %d consistent: %v\n", old.Checkpoint.Size, cur.Checkpoint.Size, err == nil)
	page, err := c.AuditEntries(ctx, client.AuditEntriesRequest{Kind: audit.KindWrite})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(page.Entries[0].Principal, page.Entries[0].Reason, page.Entries[0].ChangeCount)
	// Output:
	// signature: <nil>
	// size 1 -> 2 consistent: true
	// admin JIRA-7 1
}
