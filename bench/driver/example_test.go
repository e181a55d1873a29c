package driver_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/trellis-authz/trellis/bench/driver"
	"github.com/trellis-authz/trellis/bench/workload"
)

// Run replays queries against a node and compares every answer with the
// expected one. Here the "node" is a stand-in that denies everything.
func ExampleRun() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"result":"denied","checked_at":"t1"}`)
	}))
	defer srv.Close()

	cfg := driver.DefaultConfig()
	cfg.Endpoint = srv.URL
	cfg.Clients = 2
	cfg.Duration = 10 * time.Second
	cfg.MaxRequests = 100
	cfg.Queries = []workload.Query{
		{Class: "dataset_read", Resource: "dataset:d1", Permission: "read", Subject: "user:ana", Expect: "allowed"},
		{Class: "dataset_read", Resource: "dataset:d1", Permission: "read", Subject: "user:bob", Expect: "denied"},
	}
	rep, err := driver.Run(context.Background(), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("answered:", rep.Answered, "mismatches:", rep.Mismatches)
	fmt.Println("check:", rep.Check() != nil)
	// Output:
	// answered: 100 mismatches: 50
	// check: true
}
