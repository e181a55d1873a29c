package pep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/pep/internal/peptest"
	"github.com/trellis-authz/trellis/wire"
)

// filterSchema: documents in folders, read through a direct grant (plain,
// through a team, or purpose-bound) or the folder, unless blocked.
const filterSchema = `
caveat purpose_is(purpose string) {
  purpose == "rag"
}

definition user {}

definition team {
  relation member: user | team#member
}

definition folder {
  relation viewer: user | team#member
}

definition document {
  relation folder: folder
  relation reader: user | team#member | user with purpose_is
  relation blocked: user
  permission read = (reader + folder->viewer) - blocked
}
`

// writeAll writes updates in writes of at most 1000.
func writeAll(t testing.TB, tn *peptest.Node, ups []wire.Update) string {
	t.Helper()
	var tok string
	for len(ups) > 0 {
		n := min(len(ups), 1000)
		tok = tn.Write(t, ups[:n]...)
		ups = ups[n:]
	}
	return tok
}

// filterGraph: ana reads d0..d4 directly, d10..d19 through folder f1
// (but d12 is blocked for her), d20 through team ml, and d30 only with
// purpose "rag"; bob reads every document of folder big (2,500 of them,
// "b0000"..).
func filterGraph(t testing.TB, tn *peptest.Node) string {
	t.Helper()
	ups := []wire.Update{
		touch("team:ml#member@user:ana"),
		touch("document:d20#reader@team:ml#member"),
		touch("document:d30#reader@user:ana[purpose_is]"),
		touch("folder:f1#viewer@user:ana"),
		touch("document:d12#blocked@user:ana"),
		touch("folder:big#viewer@user:bob"),
	}
	for i := range 5 {
		ups = append(ups, touch(fmt.Sprintf("document:d%d#reader@user:ana", i)))
	}
	for i := 10; i < 20; i++ {
		ups = append(ups, touch(fmt.Sprintf("document:d%d#folder@folder:f1", i)))
	}
	for i := range 2500 {
		ups = append(ups, touch(fmt.Sprintf("document:b%04d#folder@folder:big", i)))
	}
	return writeAll(t, tn, ups)
}

// checkEach is the reference: one Decide per candidate, at token.
func checkEach(t testing.TB, c *Client, token string, req FilterRequest) (allowed, conditional []string) {
	t.Helper()
	ctx := WithAtLeastAsFresh(context.Background(), token)
	for _, id := range req.Candidates {
		d, err := c.Decide(ctx, Question{Resource: req.ResourceType + ":" + id, Permission: req.Permission, Subject: req.Subject, Context: req.Context})
		if err != nil {
			t.Fatalf("Decide %s: %v", id, err)
		}
		if d.Allowed && !slices.Contains(allowed, id) {
			allowed = append(allowed, id)
		}
		if d.Conditional && !slices.Contains(conditional, id) {
			conditional = append(conditional, id)
		}
	}
	return allowed, conditional
}

// newFilter returns a filter over c with the default config edited.
func newFilter(t testing.TB, c *Client, edit func(*FilterConfig)) *Filter {
	t.Helper()
	cfg := DefaultFilterConfig()
	if edit != nil {
		edit(&cfg)
	}
	f, err := NewFilter(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// probeAlways lists first whatever the number of candidates.
func probeAlways(cfg *FilterConfig) { cfg.ProbeMin = 1 }

// filterClient is a client of tn without a cache.
func filterClient(t testing.TB, url, token string) *Client {
	cfg := testConfig(url, token)
	cfg.CacheSize = 0
	return newClient(t, cfg)
}

// Candidates of ana (readable, blocked, conditional, unknown, a duplicate)
// and of bob.
var (
	anaCands   = []string{"d30", "d3", "d12", "d11", "nope", "d20", "d3", "d99", "d19", "b0001"}
	anaMany    = append(slices.Clone(anaCands), "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9") // 19 distinct: more than ana's 16
	bobCands   = []string{"b0007", "d1", "b2499", "b1234", "zzz"}
	readDocs   = FilterRequest{ResourceType: "document", Permission: "read"}
	ragPurpose = map[string]any{"purpose": "rag"}
)

func filterReq(subject string, cands []string, context map[string]any) FilterRequest {
	r := readDocs
	r.Subject, r.Candidates, r.Context = subject, cands, context
	return r
}

func TestFilterStrategiesAgreeWithCheck(t *testing.T) {
	tn := startNode(t, filterSchema)
	written := filterGraph(t, tn)
	c := filterClient(t, tn.URL, tn.Reader)
	ctx := WithAtLeastAsFresh(context.Background(), written)
	for _, tc := range []struct {
		name     string
		cfg      func(*FilterConfig)
		req      FilterRequest
		strategy string
		requests int
	}{
		{"fewer than ProbeMin: checked", nil, filterReq("user:ana", anaCands, nil), FilterByCheckBulk, 1},
		{"small set: listed", probeAlways, filterReq("user:ana", anaMany, nil), FilterByLookup, 1},
		{"budget -1: checked", func(c *FilterConfig) { c.ProbeMin, c.Budget = 1, -1 }, filterReq("user:ana", anaMany, nil), FilterByCheckBulk, 1},
		{"context given: listed", probeAlways, filterReq("user:ana", anaMany, ragPurpose), FilterByLookup, 1},
		{"context given: checked", nil, filterReq("user:ana", anaMany, ragPurpose), FilterByCheckBulk, 1},
		// ana may read 16, more than these 9 candidates: a page of 9, then a check.
		{"set larger than the candidates", probeAlways, filterReq("user:ana", anaCands, nil), FilterByCheckBulk, 2},
		// bob may read 2,500: a page of 5, then a check, whatever the budget.
		{"large set: checked", func(c *FilterConfig) { c.ProbeMin, c.Budget = 1, 3000 }, filterReq("user:bob", bobCands, nil), FilterByCheckBulk, 2},
		// 2,503 candidates and a budget of 3000: listed in pages of 1000, 1000 and 500.
		{"large set, more candidates: listed in pages", func(c *FilterConfig) { c.Budget = 3000 },
			filterReq("user:bob", append(benchLike(2501), bobCands...), nil), FilterByLookup, 3},
		{"team subject", probeAlways, filterReq("team:ml#member", anaMany, nil), FilterByLookup, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newFilter(t, c, tc.cfg).Apply(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got.Strategy != tc.strategy || len(got.RequestIDs) != tc.requests {
				t.Errorf("strategy %q in %d requests, want %q in %d", got.Strategy, len(got.RequestIDs), tc.strategy, tc.requests)
			}
			wantA, wantC := checkEach(t, c, got.CheckedAt, tc.req)
			if !slices.Equal(got.Allowed, wantA) || !slices.Equal(got.Conditional, wantC) {
				t.Fatalf("allowed %v conditional %v; one check per candidate says %v and %v", got.Allowed, got.Conditional, wantA, wantC)
			}
		})
	}
	// The cases above mean something only if the graph answers as meant.
	f := newFilter(t, c, probeAlways)
	got, _ := f.Apply(ctx, filterReq("user:ana", anaMany, nil))
	if want := []string{"d3", "d11", "d20", "d19"}; !slices.Equal(got.Allowed, want) || !slices.Equal(got.Conditional, []string{"d30"}) {
		t.Fatalf("ana: allowed %v conditional %v, want %v and [d30]", got.Allowed, got.Conditional, want)
	}
	if got, _ := f.Apply(ctx, filterReq("user:ana", nil, nil)); got.Strategy != "" || len(got.RequestIDs) != 0 {
		t.Fatalf("no candidates: %+v, want nothing asked", got)
	}
}

// TestFilterEstimates: what a lookup learned steers the next requests of the
// same subject, type and permission, until it expires.
func TestFilterEstimates(t *testing.T) {
	tn := startNode(t, filterSchema)
	ctx := WithAtLeastAsFresh(context.Background(), filterGraph(t, tn))
	c := filterClient(t, tn.URL, tn.Reader)
	steps := func(f *Filter, reqs ...FilterRequest) []string {
		var out []string
		for _, r := range reqs {
			got, err := f.Apply(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s/%d", got.Strategy, len(got.RequestIDs)))
		}
		return out
	}
	bob := filterReq("user:bob", bobCands, nil)
	ana17, ana9 := filterReq("user:ana", anaMany[:18], nil), filterReq("user:ana", anaCands, nil) // 17 and 9 distinct
	for _, tc := range []struct {
		name string
		cfg  func(*FilterConfig)
		reqs []FilterRequest
		want []string
	}{
		// An overflow is remembered: the next request checks at once.
		{"overflow", probeAlways, []FilterRequest{bob, bob}, []string{"check_bulk/2", "check_bulk/1"}},
		// ... but not an overflow of a smaller budget than this one's.
		{"overflow of a smaller budget", probeAlways, []FilterRequest{filterReq("user:bob", bobCands[:2], nil), bob},
			[]string{"check_bulk/2", "check_bulk/2"}},
		// A complete size lists below ProbeMin when it fits, and checks when it does not.
		{"complete", func(c *FilterConfig) { c.ProbeMin = 19 }, []FilterRequest{filterReq("user:ana", anaMany, nil), ana17, ana9},
			[]string{"lookup/1", "lookup/1", "check_bulk/1"}},
		{"none kept", func(c *FilterConfig) { c.ProbeMin, c.Estimates = 1, 0 }, []FilterRequest{bob, bob}, []string{"check_bulk/2", "check_bulk/2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := steps(newFilter(t, c, tc.cfg), tc.reqs...); !slices.Equal(got, tc.want) {
				t.Fatalf("strategy/requests %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		f := newFilter(t, c, func(c *FilterConfig) { c.ProbeMin, c.EstimateTTL = 1, time.Millisecond })
		steps(f, bob)
		time.Sleep(5 * time.Millisecond) // past the TTL: the estimate is gone
		if got := steps(f, bob); !slices.Equal(got, []string{"check_bulk/2"}) {
			t.Fatalf("after the TTL: %v, want a lookup again (check_bulk/2)", got)
		}
	})
}

func TestFilterConfigValidate(t *testing.T) {
	if err := DefaultFilterConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		edit func(*FilterConfig)
		want string
	}{
		{func(c *FilterConfig) { c.Budget = 0 }, "Budget is 0"},
		{func(c *FilterConfig) { c.Budget = -2 }, "Budget is -2"},
		{func(c *FilterConfig) { c.Budget = MaxFilterBudget + 1 }, "Budget is 10001"},
		{func(c *FilterConfig) { c.ProbeMin = 0 }, "ProbeMin is 0"},
		{func(c *FilterConfig) { c.Estimates = -1 }, "Estimates is -1"},
		{func(c *FilterConfig) { c.EstimateTTL = 0 }, "EstimateTTL is 0s"},
	} {
		cfg := DefaultFilterConfig()
		tc.edit(&cfg)
		if _, err := NewFilter(nil, cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one naming %q", err, tc.want)
		}
	}
}

// benchLike returns n ids of folder big ("b0000".. wrapping at 2500) and
// beyond it.
func benchLike(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("b%04d", i)
	}
	return out
}

// recorder is a proxy to a node that keeps the body of every request to
// path.
type recorder struct {
	mu     sync.Mutex
	bodies []map[string]json.RawMessage
}

func (r *recorder) proxy(t testing.TB, target string, before func(n int)) *httptest.Server {
	srv := httptest.NewServer(peptest.RecordingProxy(t, target, func(req *http.Request) {
		if !strings.HasPrefix(req.URL.Path, "/v1/lookup/") && !strings.HasPrefix(req.URL.Path, "/v1/check") {
			return
		}
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(strings.NewReader(string(b)))
		var m map[string]json.RawMessage
		_ = json.Unmarshal(b, &m)
		m["path"], _ = json.Marshal(req.URL.Path)
		r.mu.Lock()
		r.bodies = append(r.bodies, m)
		n := len(r.bodies)
		r.mu.Unlock()
		if before != nil {
			before(n)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestFilterReadsAtOneRevision: a filter over several lookup pages and
// several bulk checks reads every page at the first answer's revision,
// even when a write lands between two of its requests.
func TestFilterReadsAtOneRevision(t *testing.T) {
	tn := startNode(t, filterSchema)
	written := filterGraph(t, tn)
	rec := &recorder{}
	var revoked string
	var revokeErr error
	srv := rec.proxy(t, tn.URL, func(n int) {
		if n == 2 { // after the first answer: revoke bob's access
			revoked, revokeErr = postWrite(tn, del("folder:big#viewer@user:bob"))
		}
	})
	f := newFilter(t, filterClient(t, srv.URL, tn.Reader), func(c *FilterConfig) { c.Budget = 1500 })
	ctx := WithAtLeastAsFresh(context.Background(), written)
	cands := benchLike(2500)
	got, err := f.Apply(ctx, filterReq("user:bob", cands, nil))
	if err != nil || revokeErr != nil {
		t.Fatal(err, revokeErr)
	}
	// Pages of 1000 and 500 (the budget), then three bulk checks of 1000, 1000, 500.
	var paths []string
	for i, b := range rec.bodies {
		var p string
		_ = json.Unmarshal(b["path"], &p)
		paths = append(paths, p)
		var cons wire.Consistency
		if err := json.Unmarshal(b["consistency"], &cons); err != nil {
			t.Fatalf("request %d has no readable consistency: %s", i, b["consistency"])
		}
		want := wire.Consistency{Mode: wire.AtExactSnapshot, Token: got.CheckedAt}
		if i == 0 {
			want = wire.Consistency{Mode: wire.AtLeastAsFresh, Token: written}
		}
		if cons != want {
			t.Errorf("request %d (%s) read at %+v, want %+v", i, p, cons, want)
		}
		var items []json.RawMessage
		_ = json.Unmarshal(b["items"], &items)
		if len(items) > 1000 {
			t.Errorf("request %d: a bulk check of %d items, more than 1000", i, len(items))
		}
	}
	want := []string{"/v1/lookup/resources", "/v1/lookup/resources", "/v1/check/bulk", "/v1/check/bulk", "/v1/check/bulk"}
	if !slices.Equal(paths, want) {
		t.Fatalf("requests %v, want %v", paths, want)
	}
	// Every candidate was readable at that revision, the revoke's after it.
	if got.Strategy != FilterByCheckBulk || !slices.Equal(got.Allowed, cands) {
		t.Fatalf("strategy %s, %d of 2500 allowed; want check_bulk and all", got.Strategy, len(got.Allowed))
	}
	// A filter after the revoke sees it.
	after, err := f.Apply(WithAtLeastAsFresh(ctx, revoked), filterReq("user:bob", cands[:10], nil))
	if err != nil || len(after.Allowed) != 0 {
		t.Fatalf("after the revoke: %v, %v; want nothing allowed", after.Allowed, err)
	}
}

// postWrite writes updates as the node's writer and returns written_at
// (without a testing.TB: it runs in a proxy's goroutine).
func postWrite(tn *peptest.Node, updates ...wire.Update) (string, error) {
	body, _ := json.Marshal(wire.WriteRelationshipsRequest{Updates: updates})
	req, _ := http.NewRequest(http.MethodPost, tn.URL+"/v1/relationships/write", strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+tn.Writer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out wire.WriteResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("write: status %d, %v", resp.StatusCode, err)
	}
	return out.WrittenAt, nil
}

func TestFilterBadInputAsksNothing(t *testing.T) {
	asked := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { asked++ }))
	t.Cleanup(srv.Close)
	f := newFilter(t, filterClient(t, srv.URL, "x"), probeAlways)
	ok := filterReq("user:ana", []string{"d1"}, nil)
	for _, tc := range []struct {
		name string
		edit func(*FilterRequest)
		want string
	}{
		{"subject", func(r *FilterRequest) { r.Subject = "ana" }, "subject"},
		{"resource type", func(r *FilterRequest) { r.ResourceType = "Doc ument" }, "resource type"},
		{"permission", func(r *FilterRequest) { r.Permission = "" }, "permission"},
		{"typed candidate", func(r *FilterRequest) { r.Candidates = []string{"d1", "document:d2"} }, "candidates[1]"},
		{"empty candidate", func(r *FilterRequest) { r.Candidates = []string{""} }, "candidates[0]"},
		{"too many", func(r *FilterRequest) { r.Candidates = make([]string, MaxFilterCandidates+1) }, "at most"},
		{"context", func(r *FilterRequest) { r.Context = map[string]any{"f": func() {}} }, "context"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := ok
			tc.edit(&req)
			got, err := f.Apply(context.Background(), req)
			if !errors.Is(err, ErrInvalidQuestion) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrInvalidQuestion naming %q", err, tc.want)
			}
			if got.Allowed != nil || asked != 0 {
				t.Fatalf("allowed %v after %d requests; want nothing, nothing asked", got.Allowed, asked)
			}
		})
	}
}

// TestFilterFailsClosed: every answer that is not one Trellis gives, every
// error and a timeout return no document and an error.
func TestFilterFailsClosed(t *testing.T) {
	const tok, tok2 = "t1.AQAAAAA", "t1.AgAAAAA"
	lookupOK := `{"resources": [{"id": "d1", "result": "allowed"}], "read_at": "` + tok + `"}`
	bulkOK := `{"results": [{"result": "allowed"}, {"result": "allowed"}], "checked_at": "` + tok + `"}`
	for _, tc := range []struct {
		name           string
		budget         int
		lookup, bulk   string
		status         int
		slow           bool
		wantErr        error
		wantErrMessage string
	}{
		{name: "lookup not json", lookup: "allowed", wantErr: ErrBadResponse},
		{name: "lookup unknown result", lookup: `{"resources": [{"id": "d1", "result": "yes"}], "read_at": "t1.AQAAAAA"}`, wantErr: ErrBadResponse},
		{name: "lookup denied listed", lookup: `{"resources": [{"id": "d1", "result": "denied"}], "read_at": "t1.AQAAAAA"}`, wantErr: ErrBadResponse},
		{name: "lookup conditional without names", lookup: `{"resources": [{"id": "d1", "result": "conditional"}], "read_at": "t1.AQAAAAA"}`, wantErr: ErrBadResponse},
		{name: "lookup no token", lookup: `{"resources": [{"id": "d1", "result": "allowed"}]}`, wantErr: ErrBadResponse},
		{name: "lookup empty page with cursor", budget: 5, lookup: `{"resources": [], "next_cursor": "x", "read_at": "t1.AQAAAAA"}`, wantErr: ErrBadResponse},
		{name: "lookup error status", lookup: lookupOK, status: 500, wantErrMessage: "trellis answered 500"},
		{name: "bulk not json", budget: -1, bulk: "{", wantErr: ErrBadResponse},
		{name: "bulk short", budget: -1, bulk: `{"results": [{"result": "allowed"}], "checked_at": "t1.AQAAAAA"}`, wantErr: ErrBadResponse},
		{name: "bulk long", budget: -1, bulk: `{"results": [{"result": "allowed"}, {"result": "allowed"}, {"result": "allowed"}], "checked_at": "t1.AQAAAAA"}`, wantErr: ErrBadResponse},
		{name: "bulk item error", budget: -1, bulk: `{"results": [{"result": "allowed"}, {"error": {"code": "invalid_argument", "message": "m"}}], "checked_at": "t1.AQAAAAA"}`, wantErr: ErrFilterItem},
		{name: "bulk unknown result", budget: -1, bulk: `{"results": [{"result": "allowed"}, {"result": "ALLOWED"}], "checked_at": "t1.AQAAAAA"}`, wantErr: ErrBadResponse},
		{name: "bulk no token", budget: -1, bulk: `{"results": [{"result": "allowed"}, {"result": "allowed"}]}`, wantErr: ErrBadResponse},
		{name: "bulk allowed with 403", budget: -1, bulk: bulkOK, status: 403, wantErrMessage: "trellis answered 403"},
		// The lookup overflows its budget of 1 and the bulk check answers at another revision.
		{name: "revision moved", budget: 1, lookup: `{"resources": [{"id": "d1", "result": "allowed"}], "next_cursor": "c", "read_at": "` + tok + `"}`,
			bulk: `{"results": [{"result": "allowed"}, {"result": "allowed"}], "checked_at": "` + tok2 + `"}`, wantErr: ErrBadResponse},
		{name: "slow", lookup: lookupOK, slow: true, wantErr: ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.slow {
					select {
					case <-time.After(2 * time.Second):
					case <-r.Context().Done():
					}
				}
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				switch r.URL.Path {
				case "/v1/lookup/resources":
					io.WriteString(w, tc.lookup)
				case "/v1/check/bulk":
					io.WriteString(w, tc.bulk)
				default:
					w.WriteHeader(http.StatusNotFound)
				}
			}))
			t.Cleanup(srv.Close)
			cfg := testConfig(srv.URL, "x")
			cfg.CacheSize = 0
			cfg.Timeout = 50 * time.Millisecond
			f := newFilter(t, newClient(t, cfg), func(c *FilterConfig) {
				c.ProbeMin = 1
				if tc.budget != 0 {
					c.Budget = tc.budget
				}
			})
			got, err := f.Apply(context.Background(), filterReq("user:ana", []string{"d1", "d2"}, nil))
			if got.Allowed != nil || got.Conditional != nil || got.CheckedAt != "" {
				t.Fatalf("returned %+v with error %v; want nothing", got, err)
			}
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || !strings.Contains(err.Error(), tc.wantErrMessage) {
				t.Fatalf("error %v, want %v %q", err, tc.wantErr, tc.wantErrMessage)
			}
		})
	}
}

func TestFilterServerKilledAndClosed(t *testing.T) {
	tn := startNode(t, filterSchema)
	filterGraph(t, tn)
	c := newClient(t, testConfig(tn.URL, tn.Reader))
	req := filterReq("user:ana", []string{"d1", "d2"}, nil)
	for _, f := range []*Filter{newFilter(t, c, nil), newFilter(t, c, probeAlways)} {
		if got, err := f.Apply(context.Background(), req); err != nil || !slices.Equal(got.Allowed, []string{"d1", "d2"}) {
			t.Fatalf("before the kill: %v, %v; want d1 and d2", got.Allowed, err)
		}
	}
	tn.Kill()
	for _, f := range []*Filter{newFilter(t, c, nil), newFilter(t, c, probeAlways)} {
		if got, err := f.Apply(context.Background(), req); err == nil || got.Allowed != nil {
			t.Fatalf("server killed: %v, %v; want nothing and an error", got.Allowed, err)
		}
	}
	_ = c.Close()
	if got, err := newFilter(t, c, nil).Apply(context.Background(), req); !errors.Is(err, ErrClosed) || got.Allowed != nil {
		t.Fatalf("closed: %v, %v; want nothing and ErrClosed", got.Allowed, err)
	}
}
