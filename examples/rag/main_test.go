package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/examples/internal/trellisnode"
	"github.com/trellis-authz/trellis/pep"
	"github.com/trellis-authz/trellis/wire"
)

// retriever returns a Retriever over the corpus with a filter of cfg
// against the node at url.
func retriever(t *testing.T, url string, cfg pep.FilterConfig) *Retriever {
	t.Helper()
	f, err := pep.NewFilter(trellisnode.Client(t, url), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Retriever{Index: NewIndex(Corpus()), Filter: f, Candidates: 20}
}

// randomGraph returns random relationships over the corpus: 40 users, 6
// nested teams, 15 nested folders holding the 200 documents, and grants,
// owners and blocks at random. A few users view the root folder, so that
// some allowed sets are large.
func randomGraph(r *rand.Rand) (rels string, users []string) {
	var b strings.Builder
	for i := range 40 {
		users = append(users, fmt.Sprintf("user:u%02d", i))
	}
	subject := func() string {
		if r.IntN(3) == 0 {
			return fmt.Sprintf("team:t%d#member", r.IntN(6))
		}
		return users[r.IntN(len(users))]
	}
	for _, u := range users {
		for range r.IntN(3) {
			fmt.Fprintf(&b, "team:t%d#member@%s\n", r.IntN(6), u)
		}
	}
	for i := 1; i < 6; i++ { // members of t_i are members of a smaller t_j: no cycles
		fmt.Fprintf(&b, "team:t%d#member@team:t%d#member\n", r.IntN(i), i)
	}
	for i := 1; i < 15; i++ {
		fmt.Fprintf(&b, "folder:f%02d#parent@folder:f%02d\n", i, r.IntN(i))
	}
	for i := range 15 {
		for range r.IntN(2) {
			fmt.Fprintf(&b, "folder:f%02d#viewer@%s\n", i, subject())
		}
	}
	fmt.Fprintf(&b, "folder:f00#viewer@%s\nfolder:f00#viewer@%s\n", users[0], users[1])
	for i := range 200 {
		doc := fmt.Sprintf("document:doc%03d", i)
		fmt.Fprintf(&b, "%s#folder@folder:f%02d\n", doc, r.IntN(15))
		if r.Float64() < 0.3 {
			fmt.Fprintf(&b, "%s#owner@%s\n", doc, users[r.IntN(len(users))])
		}
		if r.Float64() < 0.4 {
			fmt.Fprintf(&b, "%s#reader@%s\n", doc, subject())
		}
		if r.Float64() < 0.15 {
			fmt.Fprintf(&b, "%s#blocked@%s\n", doc, users[r.IntN(len(users))])
		}
	}
	// A relationship may come out twice; a write names each once.
	var lines []string
	for l := range strings.Lines(b.String()) {
		if !slices.Contains(lines, l) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, ""), users
}

// checker asks POST /v1/check, one candidate at a time, at one token.
type checker struct {
	url string
	hc  *http.Client
}

func (c *checker) allowed(t *testing.T, subject, id, token string) bool {
	t.Helper()
	body, _ := json.Marshal(wire.CheckRequest{Resource: "document:" + id, Permission: "read", Subject: subject,
		Consistency: &wire.Consistency{Mode: wire.AtExactSnapshot, Token: token}})
	resp, err := c.hc.Post(c.url+"/v1/check", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out wire.CheckResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("check %s %s: %d %v", subject, id, resp.StatusCode, err)
	}
	return out.Result == "allowed"
}

// TestFilteredEqualsCheck: 1,000 random (user, query) pairs on a random
// graph; what the retriever returns (and what its filter let through) is
// exactly what one Check per candidate allows: no leak, nothing missing.
func TestFilteredEqualsCheck(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 2025))
	rels, users := randomGraph(r)
	url := trellisnode.Start(t, "schema.zed", rels)
	probe := pep.DefaultFilterConfig()
	probe.ProbeMin = 1 // list first whenever the allowed set may fit
	noEstimates := probe
	noEstimates.Estimates = 0
	retrievers := []*Retriever{
		retriever(t, url, pep.DefaultFilterConfig()), // 20 candidates < ProbeMin: checks
		retriever(t, url, probe),
		retriever(t, url, noEstimates),
	}
	var vocab []string
	for _, d := range departments {
		vocab = append(append(vocab, d.name), d.words...)
	}
	vocab = append(vocab, common...)
	vocab = append(vocab, "nothing", "matches")

	chk := &checker{url: url, hc: &http.Client{}}
	const k = 5
	var leaks, missing, allowedSeen, deniedSeen int
	strategies := map[string]int{}
	for i := range 1000 {
		user := users[r.IntN(len(users))]
		words := make([]string, 1+r.IntN(3))
		for j := range words {
			words[j] = vocab[r.IntN(len(vocab))]
		}
		query := strings.Join(words, " ")
		a, err := retrievers[i%len(retrievers)].Retrieve(context.Background(), user, query, k)
		if err != nil {
			t.Fatalf("pair %d (%s, %q): %v", i, user, query, err)
		}
		strategies[a.Filter.Strategy]++
		// The reference: one Check per candidate, at the filter's revision.
		var want, wantTop []string
		for _, h := range a.Found {
			if chk.allowed(t, user, h.ID, a.Filter.CheckedAt) {
				want = append(want, h.ID)
				allowedSeen++
			} else {
				deniedSeen++
			}
		}
		wantTop = want[:min(k, len(want))]
		var got []string
		for _, h := range a.Hits {
			got = append(got, h.ID)
		}
		for _, lists := range [][2][]string{{a.Filter.Allowed, want}, {got, wantTop}} {
			for _, id := range lists[0] {
				if !slices.Contains(lists[1], id) {
					leaks++
					t.Errorf("pair %d (%s, %q): LEAK %s (Check denies it)", i, user, query, id)
				}
			}
			for _, id := range lists[1] {
				if !slices.Contains(lists[0], id) {
					missing++
					t.Errorf("pair %d (%s, %q): MISSING %s (Check allows it)", i, user, query, id)
				}
			}
		}
		if !slices.Equal(got, wantTop) {
			t.Errorf("pair %d: hits %v, want %v in the search's order", i, got, wantTop)
		}
	}
	t.Logf("1000 pairs: %d candidates allowed, %d denied; strategies %v; %d leaks, %d missing", allowedSeen, deniedSeen, strategies, leaks, missing)
	if leaks != 0 || missing != 0 {
		t.Fatalf("%d leaks and %d missing, want 0 and 0", leaks, missing)
	}
	// The comparison means something only if both answers and both
	// strategies occurred.
	if allowedSeen < 500 || deniedSeen < 500 || strategies[pep.FilterByLookup] < 50 || strategies[pep.FilterByCheckBulk] < 50 {
		t.Fatalf("allowed %d, denied %d, strategies %v: the random graph no longer exercises both answers and both strategies", allowedSeen, deniedSeen, strategies)
	}
}

// TestDemo runs the example's main on its own schema and data.
func TestDemo(t *testing.T) {
	rels, err := os.ReadFile("relationships.txt")
	if err != nil {
		t.Fatal(err)
	}
	url := trellisnode.Start(t, "schema.zed", string(rels))
	const query = "chargeback merchant report"
	for _, tc := range []struct {
		user string
		want func(id string) bool // every hit must satisfy it
		hits int
	}{
		{"user:ana", func(id string) bool { return departmentOf(docIndex(t, id)) == "fraud" }, 5},
		{"user:eve", func(id string) bool { return departmentOf(docIndex(t, id)) == "fraud" && id != "doc008" }, 5},
		{"user:cleo", func(string) bool { return true }, 5},
		{"user:ben", func(string) bool { return false }, 0}, // churn: no fraud note, and the query has no churn word
		{"user:dev", func(string) bool { return false }, 0}, // doc010 and doc011 are pricing notes
	} {
		t.Run(tc.user, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(context.Background(), []string{"--trellis", url, "--user", tc.user, "--query", query}, &out); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines)-1 != tc.hits {
				t.Fatalf("%d hits, want %d:\n%s", len(lines)-1, tc.hits, out.String())
			}
			for _, l := range lines[1:] {
				if f := strings.Fields(l); len(f) < 2 || !tc.want(f[1]) {
					t.Fatalf("hit %q is not one %s may see:\n%s", l, tc.user, out.String())
				}
			}
		})
	}
	// eve's query for the one document she is blocked on: it is found, and dropped.
	r := retriever(t, url, pep.DefaultFilterConfig())
	a, err := r.Retrieve(context.Background(), "user:eve", Corpus()[8].Text, 20)
	if err != nil || a.Found[0].ID != "doc008" || slices.ContainsFunc(a.Hits, func(h Hit) bool { return h.ID == "doc008" }) {
		t.Fatalf("eve's search: found %v, hits %v, err %v; want doc008 found first and dropped", a.Found[:1], a.Hits, err)
	}
}

func docIndex(t *testing.T, id string) int {
	var i int
	if _, err := fmt.Sscanf(id, "doc%03d", &i); err != nil {
		t.Fatalf("hit id %q: %v", id, err)
	}
	return i
}

// TestFailsClosed: with Trellis unreachable the retriever returns an error
// and no document.
func TestFailsClosed(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	for _, cfg := range []pep.FilterConfig{pep.DefaultFilterConfig(), {Budget: 1000, ProbeMin: 1}} {
		a, err := retriever(t, dead.URL, cfg).Retrieve(context.Background(), "user:ana", "chargeback merchant", 5)
		if err == nil || a.Hits != nil {
			t.Fatalf("Trellis unreachable: hits %v, err %v; want no hits and an error", a.Hits, err)
		}
	}
}

func TestIndex(t *testing.T) {
	ix := NewIndex(Corpus())
	doc := Corpus()[42]
	if hits := ix.Search(doc.Text, 3); len(hits) == 0 || hits[0].ID != doc.ID || hits[0].Score < 0.999 {
		t.Fatalf("searching a document's own text: %v, want it first with score 1", hits)
	}
	if hits := ix.Search("zebra quantum", 3); hits != nil {
		t.Fatalf("words of no document: %v, want none", hits)
	}
	hits := ix.Search("retention", 200)
	for i, h := range hits {
		if !strings.Contains(h.Text, "retention") || (i > 0 && h.Score > hits[i-1].Score) {
			t.Fatalf("hit %d %+v: want only documents with the word, best first", i, h)
		}
	}
}

func TestRelationshipsFileIsCurrent(t *testing.T) {
	b, err := os.ReadFile("relationships.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != DemoRelationships() {
		t.Fatal("relationships.txt differs from DemoRelationships(); regenerate it with go run ./examples/rag --print-relationships > examples/rag/relationships.txt")
	}
}
