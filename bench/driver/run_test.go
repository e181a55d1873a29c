package driver

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/bench/workload"
)

func testConfig(endpoint string, qs []workload.Query) Config {
	c := DefaultConfig()
	c.Endpoint = endpoint
	c.Queries = qs
	c.Clients = 4
	c.Duration = time.Minute // the tests bound runs by MaxRequests
	return c
}

func run(t *testing.T, cfg Config) Report {
	t.Helper()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func TestRunCountsCorrectAnswers(t *testing.T) {
	qs, _ := tinyWorkload(t)
	f := newFake(t, qs)
	f.pageSize = 3 // lookups take several pages
	f.token = "s3cret"
	srv := f.start()
	cfg := testConfig(srv.URL, qs)
	cfg.Token = "s3cret"
	cfg.MaxRequests = int64(2 * len(qs))
	rep := run(t, cfg)

	if rep.Queries != cfg.MaxRequests || rep.Answered != cfg.MaxRequests {
		t.Errorf("got %d queries, %d answered, want %d of each", rep.Queries, rep.Answered, cfg.MaxRequests)
	}
	if rep.Mismatches != 0 || rep.ErrorCount != 0 {
		t.Errorf("got %d mismatches and errors %v, want none: %+v", rep.Mismatches, rep.Errors, rep.MismatchExamples)
	}
	if rep.Latency.Count != rep.Answered || rep.Latency.P50 <= 0 || rep.Latency.P50 > rep.Latency.P99 || rep.Latency.P99 > rep.Latency.Max {
		t.Errorf("latency %+v: want count %d and 0 < p50 <= p99 <= max", rep.Latency, rep.Answered)
	}
	if rep.Throughput <= 0 {
		t.Errorf("throughput: got %g, want > 0", rep.Throughput)
	}
	// Every query ran exactly twice, so each class's counts are twice the file's.
	checkClasses(t, rep, qs, 2)
	// Keep-alive: connections are reused. (net/http may dial one spare
	// connection while another is being returned, hence 2x.)
	if n := f.newConns.Load(); n > int64(2*cfg.Clients) {
		t.Errorf("server saw %d connections for %d keep-alive clients; want at most %d", n, cfg.Clients, 2*cfg.Clients)
	}
	if n := f.requests.Load(); n <= rep.Queries {
		t.Errorf("server saw %d requests for %d queries; want more (lookups are paged by 3)", n, rep.Queries)
	}
}

func TestRunCountsMismatches(t *testing.T) {
	qs, _ := tinyWorkload(t)
	for _, class := range []string{workload.ClassDatasetRead, workload.ClassLookupDatasets} {
		t.Run(class, func(t *testing.T) {
			f := newFake(t, qs)
			f.wrongClass = class
			srv := f.start()
			cfg := testConfig(srv.URL, qs)
			cfg.MaxRequests = int64(len(qs)) // exactly one pass over the file
			rep := run(t, cfg)
			var want int64
			for _, q := range qs {
				if q.Class == class && (!q.IsLookup() || len(q.ExpectResources) > 0) {
					want++
				}
			}
			if want == 0 {
				t.Fatal("no query to break")
			}
			if rep.Mismatches != want || rep.Classes[class].Mismatches != want {
				t.Errorf("got %d mismatches (%d in class), want %d", rep.Mismatches, rep.Classes[class].Mismatches, want)
			}
			if len(rep.MismatchExamples) == 0 || rep.MismatchExamples[0].Class != class {
				t.Errorf("mismatch examples %+v: want some of class %s", rep.MismatchExamples, class)
			}
			if rep.ErrorCount != 0 {
				t.Errorf("errors %v: want none", rep.Errors)
			}
		})
	}
}

func TestRunCountsErrors(t *testing.T) {
	qs, _ := tinyWorkload(t)
	var checks []workload.Query // one request per query, so the server's count is the driver's
	for _, q := range qs {
		if !q.IsLookup() {
			checks = append(checks, q)
		}
	}
	f := newFake(t, checks)
	f.failEvery = 4
	srv := f.start()
	cfg := testConfig(srv.URL, checks)
	cfg.MaxRequests = 400
	rep := run(t, cfg)
	if got := rep.Errors["http_500"]; got != 100 || rep.ErrorCount != 100 {
		t.Errorf("got %d http_500 (%d errors: %v), want 100", got, rep.ErrorCount, rep.Errors)
	}
	if rep.Answered != 300 || rep.Queries != 400 {
		t.Errorf("got %d answered of %d, want 300 of 400", rep.Answered, rep.Queries)
	}
	if rep.Mismatches != 0 {
		t.Errorf("got %d mismatches, want 0 (errors are not mismatches)", rep.Mismatches)
	}

	// A wrong token: every query fails with the server's error code.
	f2 := newFake(t, checks)
	f2.token = "right"
	srv2 := f2.start()
	cfg2 := testConfig(srv2.URL, checks)
	cfg2.Token = "wrong"
	cfg2.MaxRequests = 10
	rep2 := run(t, cfg2)
	if got := rep2.Errors["http_401:unauthenticated"]; got != 10 {
		t.Errorf("wrong token: got errors %v, want 10 http_401:unauthenticated", rep2.Errors)
	}

	// Nobody listening: transport errors, and the run still ends.
	srv2.Close()
	rep3 := run(t, cfg2)
	if rep3.Errors["transport"] != 10 {
		t.Errorf("closed server: got errors %v, want 10 transport", rep3.Errors)
	}
}

func TestRunStopsAtDuration(t *testing.T) {
	qs, _ := tinyWorkload(t)
	f := newFake(t, qs)
	f.block = true // the server never answers
	srv := f.start()
	cfg := testConfig(srv.URL, qs)
	cfg.Duration = 200 * time.Millisecond
	cfg.RequestTimeout = time.Hour
	done := make(chan Report, 1)
	go func() { done <- run(t, cfg) }()
	select {
	case rep := <-done:
		if rep.Queries != 0 || rep.ErrorCount != 0 {
			t.Errorf("got %d queries and errors %v, want none: requests cut off by the end are not counted", rep.Queries, rep.Errors)
		}
		if rep.Elapsed < cfg.Duration.Seconds() {
			t.Errorf("elapsed %gs, want at least the %s duration", rep.Elapsed, cfg.Duration)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not stop by itself against a server that never answers")
	}
}

func TestRunContextCancel(t *testing.T) {
	qs, _ := tinyWorkload(t)
	srv := newFake(t, qs).start()
	cfg := testConfig(srv.URL, qs)
	cfg.Duration = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Queries == 0 || rep.Mismatches != 0 || rep.ErrorCount != 0 {
		t.Errorf("got %d queries, %d mismatches, errors %v; want some queries and nothing wrong", rep.Queries, rep.Mismatches, rep.Errors)
	}
}

func TestNoopMode(t *testing.T) {
	f := newFake(t, nil)
	srv := f.start()
	cfg := testConfig(srv.URL, nil)
	cfg.Mode = ModeNoop
	cfg.MaxRequests = 300
	rep := run(t, cfg)
	if rep.Answered != 300 || f.noops.Load() != 300 {
		t.Errorf("got %d answered and %d server no-ops, want 300 of each", rep.Answered, f.noops.Load())
	}
	if rep.Classes["noop"] == nil || rep.Classes["noop"].Queries != 300 {
		t.Errorf("classes %v: want noop with 300", rep.Classes)
	}
}

func TestWriteMix(t *testing.T) {
	qs, pool := tinyWorkload(t)
	f := newFake(t, qs)
	srv := f.start()
	cfg := testConfig(srv.URL, qs)
	cfg.Clients = 2
	cfg.Duration = 600 * time.Millisecond
	cfg.WriteRate = 100
	cfg.WritePool = pool[:10]
	rep := run(t, cfg)
	w := rep.Writes
	if w == nil {
		t.Fatal("no write report")
	}
	f.mu.Lock()
	got := append([]writeUpdate(nil), f.writes...)
	f.mu.Unlock()
	// A write in flight when the run ends may reach the server uncounted.
	if n := int64(len(got)); w.OK == 0 || n < w.OK || n > w.OK+int64(cfg.WriteClients) {
		t.Errorf("server saw %d writes, report says %d ok; want > 0 and at most %d cut off", n, w.OK, cfg.WriteClients)
	}
	// A ticker cannot fire more often than the rate.
	if max := int64(cfg.WriteRate*rep.Elapsed) + 1; w.Attempted+w.Skipped > max {
		t.Errorf("got %d attempted + %d skipped writes in %.2fs at %g/s; want at most %d", w.Attempted, w.Skipped, rep.Elapsed, cfg.WriteRate, max)
	}
	// Writes cycle over the pool: touch all, then delete all.
	touches, deletes := 0, 0
	for _, u := range got {
		if !strings.Contains(strings.Join(cfg.WritePool, "\n"), u.Relationship) {
			t.Errorf("write of %q, which is not in the pool", u.Relationship)
		}
		switch u.Op {
		case "touch":
			touches++
		case "delete":
			deletes++
		default:
			t.Errorf("write op %q: want touch or delete", u.Op)
		}
	}
	if len(got) >= 20 && (touches < 10 || deletes < 1) {
		t.Errorf("got %d touches, %d deletes over a pool of 10; want the first 10 touches then deletes", touches, deletes)
	}
	if rep.Mismatches != 0 || rep.Answered == 0 {
		t.Errorf("reads during writes: %d answered, %d mismatches; want some and none", rep.Answered, rep.Mismatches)
	}
}

func TestWriteOpCycles(t *testing.T) {
	pool := []string{"a", "b", "c"}
	for k, want := range []string{"touch a", "touch b", "touch c", "delete a", "delete b", "delete c", "touch a"} {
		u := writeOp(pool, int64(k))
		if got := u.Op + " " + u.Relationship; got != want {
			t.Errorf("write %d: got %q, want %q", k, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	qs := []workload.Query{{Class: "c", Resource: "dataset:d", Permission: "read", Subject: "user:u", Expect: "allowed"}}
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"ok", func(*Config) {}, ""},
		{"endpoint", func(c *Config) { c.Endpoint = "localhost:8080" }, "Endpoint"},
		{"no queries", func(c *Config) { c.Queries = nil }, "Queries"},
		{"clients", func(c *Config) { c.Clients = 0 }, "Clients"},
		{"duration", func(c *Config) { c.Duration = 0 }, "Duration"},
		{"unbounded", func(c *Config) { c.Duration = 48 * time.Hour }, "Duration"},
		{"mode", func(c *Config) { c.Mode = "fast" }, "Mode"},
		{"noop path", func(c *Config) { c.Mode = ModeNoop; c.NoopPath = "healthz" }, "NoopPath"},
		{"write pool", func(c *Config) { c.WriteRate = 5 }, "WritePool"},
		{"consistency", func(c *Config) { c.Consistency = "eventual" }, "Consistency"},
		{"transport", func(c *Config) { c.Transport = "quic" }, "Transport"},
		{"grpc ok", func(c *Config) { c.Transport = TransportGRPC }, ""},
		{"grpc endpoint", func(c *Config) { c.Transport, c.GRPCEndpoint = TransportGRPC, "http://127.0.0.1:50051" }, "GRPCEndpoint"},
		{"grpc noop", func(c *Config) { c.Transport, c.Mode = TransportGRPC, ModeNoop }, "has no gRPC form"},
		{"grpc conns", func(c *Config) { c.Transport, c.GRPCConns = TransportGRPC, MaxGRPCConns+1 }, "GRPCConns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig("http://127.0.0.1:1", qs)
			tc.modify(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tc.want != "" && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want ErrInvalidConfig naming %q", err, tc.want)
			}
		})
	}
}

func TestReadQueriesErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"not json", "hello\n", "line 1"},
		{"check without resource", `{"class":"x","permission":"read","subject":"user:a"}`, "needs resource"},
		{"lookup without type", "\n" + `{"class":"x","kind":"lookup_resources","permission":"read","subject":"user:a"}`, "line 2"},
		{"bad expect", `{"class":"x","resource":"a:b","permission":"read","subject":"user:a","expect":"yes"}`, "expect"},
		{"bad kind", `{"class":"x","kind":"expand","resource":"a:b","permission":"read","subject":"user:a"}`, "kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadQueries(strings.NewReader(tc.in))
			if !errors.Is(err, ErrBadQueryFile) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrBadQueryFile mentioning %q", err, tc.want)
			}
		})
	}
}

func TestShuffleIsAPermutation(t *testing.T) {
	qs, _ := tinyWorkload(t)
	order := func(seed uint64) []string {
		c := testConfig("http://127.0.0.1:1", qs)
		c.ShuffleSeed = seed
		r := &runner{cfg: c}
		if err := r.prepare(); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range r.prepared {
			out = append(out, p.desc)
		}
		return out
	}
	plain, a, b := order(0), order(1), order(1)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Error("the same seed gave two orders; want one")
	}
	if strings.Join(plain, "\n") == strings.Join(a, "\n") {
		t.Error("seed 1 kept the file's order; want it shuffled")
	}
	count := map[string]int{}
	for _, d := range plain {
		count[d]++
	}
	for _, d := range a {
		count[d]--
	}
	for d, n := range count {
		if n != 0 {
			t.Errorf("query %s: count differs by %d after shuffling; want a permutation", d, n)
		}
	}
	if plain[0] != qsDesc(t, qs[0]) {
		t.Errorf("seed 0: first query %s, want the file's first", plain[0])
	}
}

func qsDesc(t *testing.T, q workload.Query) string {
	t.Helper()
	r := &runner{cfg: testConfig("http://127.0.0.1:1", []workload.Query{q})}
	if err := r.prepare(); err != nil {
		t.Fatal(err)
	}
	return r.prepared[0].desc
}
