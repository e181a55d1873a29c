package client_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"strings"

	"github.com/trellis-authz/trellis/client"
)

// A write returns a token; a check at least as fresh as that token sees it.
func ExampleClient_Check() {
	srv := startServer()
	defer srv.Close()
	ctx := context.Background()
	c := client.New(srv.URL, client.WithToken(srv.Admin))

	if _, err := c.WriteSchema(ctx, wire.WriteSchemaRequest{Schema: exampleSchema, Reason: "initial schema"}); err != nil {
		fmt.Println(err)
		return
	}
	w, err := c.WriteRelationships(ctx, wire.WriteRelationshipsRequest{
		Updates: []wire.Update{
			{Op: "touch", Relationship: "team:ml#member@user:ana"},
			{Op: "touch", Relationship: "dataset:claims#reader@team:ml#member"},
		},
		Reason: "JIRA-123 grant ML team read access",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := c.Check(ctx, wire.CheckRequest{
		Resource: "dataset:claims", Permission: "read", Subject: "user:ana",
		Consistency: &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: w.WrittenAt},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Result)
	// Output: allowed
}

// Errors are *client.Error with the server's status and code.
func ExampleError() {
	srv := startServer()
	defer srv.Close()
	ctx := context.Background()
	c := client.New(srv.URL, client.WithToken(srv.Admin))
	if _, err := c.WriteSchema(ctx, wire.WriteSchemaRequest{Schema: exampleSchema}); err != nil {
		fmt.Println(err)
		return
	}
	create := wire.WriteRelationshipsRequest{Updates: []wire.Update{{Op: "create", Relationship: "dataset:claims#reader@user:bob"}}}
	if _, err := c.WriteRelationships(ctx, create); err != nil {
		fmt.Println(err)
		return
	}
	_, err := c.WriteRelationships(ctx, create)
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code)
	}
	// Output: 409 already_exists
}

// Import streams NDJSON in; Export streams it back out.
func ExampleClient_Import() {
	srv := startServer()
	defer srv.Close()
	ctx := context.Background()
	c := client.New(srv.URL, client.WithToken(srv.Admin))
	if _, err := c.WriteSchema(ctx, wire.WriteSchemaRequest{Schema: exampleSchema}); err != nil {
		fmt.Println(err)
		return
	}
	ndjson := `{"relationship":"dataset:claims#reader@user:ana"}
{"relationship":"dataset:claims#reader@team:ml#member"}
team:ml#member@user:bob
`
	imp, err := c.Import(ctx, strings.NewReader(ndjson), client.ImportOptions{Reason: "seed"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("imported", imp.Imported)

	exp, err := c.Export(ctx, nil, &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: imp.WrittenAt})
	if err != nil {
		fmt.Println(err)
		return
	}
	for rel, err := range exp.All() {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(rel)
	}
	// Output:
	// imported 3
	// team:ml#member@user:bob
	// dataset:claims#reader@team:ml#member
	// dataset:claims#reader@user:ana
}
