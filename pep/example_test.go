package pep_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/trellis-authz/trellis/pep"
)

// A model-serving endpoint guarded by the middleware: POST
// /models/{model}/infer needs "run" on the model for the calling user.
func ExampleMiddleware() {
	c, err := pep.New(pep.DefaultConfig("http://127.0.0.1:8080", "reader-token"))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /models/{model}/infer", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "prediction")
	})
	guarded := pep.Middleware(c, func(r *http.Request) (pep.Question, error) {
		user := r.Header.Get("X-User") // whatever the service authenticated
		if user == "" {
			return pep.Question{}, errors.New("no authenticated user")
		}
		return pep.Question{Resource: "model:" + r.PathValue("model"), Permission: "run", Subject: "user:" + user,
			Context: map[string]any{"purpose": r.Header.Get("X-Purpose")}}, nil
	})(mux)
	_ = guarded // serve it: http.ListenAndServe(":9000", guarded)
}

// After its own write, a service hands the write's token to the PEP so that
// the decision reflects it, cached or not.
func ExampleWithAtLeastAsFresh() {
	c, err := pep.New(pep.DefaultConfig("http://127.0.0.1:8080", "reader-token"))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	writtenAt := "t1.AbE" // the written_at of POST /v1/relationships/write
	ctx := pep.WithAtLeastAsFresh(context.Background(), writtenAt)
	d, err := c.Decide(ctx, pep.Question{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"})
	if err != nil || !d.Allowed {
		return // denied: err says why when Trellis could not be asked
	}
}
