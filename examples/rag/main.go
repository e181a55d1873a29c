package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/trellis-authz/trellis/pep"
)

// Retriever answers a query for one subject with the most similar documents
// the subject may read.
type Retriever struct {
	Index  *Index
	Filter *pep.Filter
	// Candidates is how many hits the search returns before the filter:
	// more than k, since the filter may drop some.
	Candidates int
}

// Answer is what Retrieve found.
type Answer struct {
	Hits   []Hit            // at most k, best first, every one readable
	Found  []Hit            // the search's candidates, before the filter
	Filter pep.FilterResult // how the filter decided (strategy, token, request ids)
}

// Retrieve returns the k best hits for query among the documents subject
// may read. On any error of the filter it returns no document (fail
// closed): a RAG pipeline must not fall back to unfiltered results.
func (r *Retriever) Retrieve(ctx context.Context, subject, query string, k int) (Answer, error) {
	found := r.Index.Search(query, r.Candidates)
	ids := make([]string, len(found))
	for i, h := range found {
		ids[i] = h.ID
	}
	res, err := r.Filter.Apply(ctx, pep.FilterRequest{Subject: subject, ResourceType: "document", Permission: "read", Candidates: ids})
	if err != nil {
		return Answer{}, fmt.Errorf("filtering the search results for %s: %w", subject, err)
	}
	readable := make(map[string]bool, len(res.Allowed))
	for _, id := range res.Allowed {
		readable[id] = true
	}
	a := Answer{Found: found, Filter: res}
	for _, h := range found { // keep the search's order
		if readable[h.ID] && len(a.Hits) < k {
			a.Hits = append(a.Hits, h)
		}
	}
	return a, nil
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rag:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("rag", flag.ContinueOnError)
	url := fs.String("trellis", "http://127.0.0.1:8181", "base URL of a Trellis node")
	token := fs.String("token", os.Getenv("TRELLIS_TOKEN"), "Trellis token (a reader token is enough); default $TRELLIS_TOKEN")
	user := fs.String("user", "", "the subject retrieving, e.g. user:ana")
	query := fs.String("query", "", "the query, e.g. 'chargeback merchant report'")
	k := fs.Int("k", 5, "how many documents to return")
	candidates := fs.Int("candidates", 20, "how many search hits to filter")
	printRels := fs.Bool("print-relationships", false, "print the example's relationships (relationships.txt) and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *printRels {
		_, err := io.WriteString(stdout, DemoRelationships())
		return err
	}
	if *user == "" || *query == "" || *k < 1 || *candidates < *k {
		return fmt.Errorf("pass --user (e.g. user:ana), --query, and --k >= 1 with --candidates >= --k")
	}
	cfg := pep.DefaultConfig(*url, *token)
	// A one-shot command needs no decision cache (and so no watch stream);
	// a RAG service keeps one client, cache on, for its Decide calls and
	// its filters.
	cfg.CacheSize = 0
	c, err := pep.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	f, err := pep.NewFilter(c, pep.DefaultFilterConfig())
	if err != nil {
		return err
	}
	r := &Retriever{Index: NewIndex(Corpus()), Filter: f, Candidates: *candidates}
	a, err := r.Retrieve(ctx, *user, *query, *k)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d of %d candidates readable by %s (filter: %s at %s)\n", len(a.Filter.Allowed), len(a.Found), *user, a.Filter.Strategy, a.Filter.CheckedAt)
	for _, h := range a.Hits {
		fmt.Fprintf(stdout, "%.3f  %s  %s\n", h.Score, h.ID, h.Text)
	}
	return nil
}
