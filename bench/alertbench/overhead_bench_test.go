package alertbench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/bench/driver"
	"github.com/trellis-authz/trellis/bench/workload"
	"github.com/trellis-authz/trellis/test/testnode"
	"github.com/trellis-authz/trellis/tuple"
)

const secret = "alertbench-webhook-secret"

// knobs are the benchmark's settings (doc.go lists the variables).
type knobs struct {
	pairs, clients, writers int
	dur                     time.Duration
	only                    string
	opt                     Options
	checks, writes          bool // the phases of a run
}

func readKnobs(b *testing.B) knobs {
	k := knobs{pairs: 3, clients: 32, writers: 16, dur: 10 * time.Second, only: os.Getenv("ALERTBENCH_ONLY")}
	for name, p := range map[string]*int{"ALERTBENCH_PAIRS": &k.pairs, "ALERTBENCH_CLIENTS": &k.clients, "ALERTBENCH_WRITERS": &k.writers} {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				b.Fatalf("%s=%q: want a positive integer", name, v)
			}
			*p = n
		}
	}
	if v := os.Getenv("ALERTBENCH_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			b.Fatalf("ALERTBENCH_DURATION=%q: want a duration such as 10s", v)
		}
		k.dur = d
	}
	for _, v := range strings.Split(os.Getenv("ALERTBENCH_RULES"), ",") {
		switch v {
		case "":
		case "wide":
			k.opt.Wide = true
		case "no-trace":
			k.opt.NoTrace = true
		case "quiet":
			k.opt.Quiet = true
		default:
			b.Fatalf("ALERTBENCH_RULES=%q: want a comma-separated list of wide, no-trace and quiet", os.Getenv("ALERTBENCH_RULES"))
		}
	}
	k.checks, k.writes = true, true
	if v := os.Getenv("ALERTBENCH_PHASES"); v != "" {
		k.checks, k.writes = strings.Contains(v, "checks"), strings.Contains(v, "writes")
		if !k.checks && !k.writes {
			b.Fatalf("ALERTBENCH_PHASES=%q: want checks, writes or both", v)
		}
	}
	if k.only != "" && k.only != "none" && k.only != "rules" {
		b.Fatalf("ALERTBENCH_ONLY=%q: want none or rules", k.only)
	}
	return k
}

// run is one measurement: checks then writes with one rule setting.
type run struct {
	pair       int
	rules      bool
	checks     driver.Report
	writes     WriteResult
	deliveries Counts
	byKind     map[string]int
	drained    time.Duration // from the end of the writes to the last delivery
	expectLo   int           // relationship deliveries the accepted writes call for
	expectHi   int           // the same counting the writes cut off by the end of the run
	latency    map[string]Latency
}

// BenchmarkAlertOverhead: see the package comment.
func BenchmarkAlertOverhead(b *testing.B) {
	k := readKnobs(b)
	ctx := context.Background()
	dir := os.Getenv("TRELLIS_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(b.TempDir(), "wl")
		if _, err := workload.GenerateDir(ctx, workload.DefaultConfig(), dir); err != nil {
			b.Fatal(err)
		}
	}
	text, err := os.ReadFile(filepath.Join(dir, workload.SchemaFile))
	if err != nil {
		b.Fatal(err)
	}
	cfg := testnode.Config(b, string(text)) // a node answers /readyz once it has a schema
	cfg.InsecureNoAuth = true
	if os.Getenv("ALERTBENCH_LOG") != "" {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	n := testnode.Open(b, cfg)
	url := n.URL()
	res, err := driver.Setup(ctx, url, "", dir)
	if err != nil {
		b.Fatalf("setup: %v", err)
	}
	b.Logf("workload %s: %d relationships imported in %.1f s", dir, res.Imported, res.Elapsed)
	all, err := driver.LoadQueries(filepath.Join(dir, workload.QueriesFile))
	if err != nil {
		b.Fatal(err)
	}
	checks := slices.DeleteFunc(all, workload.Query.IsLookup)
	pool, err := driver.LoadLines(filepath.Join(dir, workload.WritesFile))
	if err != nil {
		b.Fatal(err)
	}
	recv := NewReceiver(secret)
	defer recv.Close()
	rs := Rules(recv.URL, secret, k.opt)
	kinds := map[string]string{}
	for _, r := range rs.Rules {
		kinds[r.Name] = r.Kind()
	}
	hits := ruleHits(b, rs, pool)
	matched := 0
	for _, h := range hits {
		matched += min(h, 1)
	}
	b.Logf("%d checks, %d rules %+v, %.1f%% of the write mix matched by a relationship rule; %d check clients, %d writers, %s per run",
		len(checks), len(rs.Rules), k.opt, 100*float64(matched)/float64(len(hits)), k.clients, k.writers, k.dur)

	var next atomic.Int64
	measure := func(pair int, withRules bool) run {
		set := alerts.RuleSet{Rules: []alerts.Rule{}}
		if withRules {
			set = rs
		}
		before, dropped0, marks := recv.Counts(), metric(b, url, "trellis_alert_decisions_dropped_total"), recv.LatencyMarks()
		putRules(b, url, set)
		var rep driver.Report
		if k.checks {
			dc := driver.DefaultConfig()
			dc.Endpoint, dc.Queries, dc.Clients, dc.Duration = url, checks, k.clients, k.dur
			var err error
			if rep, err = driver.Run(ctx, dc); err != nil {
				b.Fatal(err)
			}
			if err := rep.Check(); err != nil {
				b.Fatalf("checks: %v (errors %v, mismatches %v)", err, rep.Errors, rep.MismatchExamples)
			}
		}
		wr := WriteResult{Elapsed: time.Second}
		if k.writes {
			var err error
			if wr, err = WriteLoop(ctx, url, pool, k.writers, k.dur, &next); err != nil {
				b.Fatal(err)
			}
			if len(wr.Errors) > 0 || wr.OK == 0 {
				b.Fatalf("writes: %d ok, errors %v", wr.OK, wr.Errors)
			}
		}
		drained := settle(recv)
		dropped := metric(b, url, "trellis_alert_decisions_dropped_total") - dropped0
		r := run{pair: pair, rules: withRules, checks: rep, writes: wr, deliveries: recv.Counts().Since(before), drained: drained, byKind: map[string]int{},
			latency: recv.Latencies(marks)}
		for name, c := range r.deliveries.ByRule {
			r.byKind[kinds[name]] += c
		}
		if withRules {
			for _, k := range wr.Applied {
				r.expectLo += hits[opIndex(k, len(pool))]
			}
			r.expectHi = r.expectLo
			for _, k := range wr.Cut {
				r.expectHi += hits[opIndex(k, len(pool))]
			}
		}
		if r.deliveries.Bad > 0 {
			b.Fatalf("pair %d: %d deliveries with a bad body or signature", pair, r.deliveries.Bad)
		}
		b.Logf("pair %d %-5s checks %8.0f/s (p50 %.2f p99 %.2f ms)  writes %6.0f/s (p50 %.2f p99 %.2f ms)  deliveries %v (relationship expected %d–%d), %.0f decision candidates dropped, %d pings, last %s after the writes; load %s",
			pair, side(withRules), rep.Throughput, rep.Latency.P50, rep.Latency.P99, wr.Rate(),
			ms(wr.P50), ms(wr.P99), r.byKind, r.expectLo, r.expectHi, dropped, r.deliveries.Pings, drained.Round(time.Millisecond), loadavg())
		for _, kind := range slices.Sorted(maps.Keys(r.latency)) {
			l := r.latency[kind]
			b.Logf("pair %d %-5s %s alerts: %d, event to webhook p50 %.1f ms, p99 %.1f ms, max %.1f ms", pair, side(withRules), kind, l.N, ms(l.P50), ms(l.P99), ms(l.Max))
		}
		return r
	}

	// Warm the cache, the connections and the raft log once, unmeasured.
	warm := driver.DefaultConfig()
	warm.Endpoint, warm.Queries, warm.Clients, warm.Duration = url, checks, k.clients, 3*time.Second
	if _, err := driver.Run(ctx, warm); err != nil {
		b.Fatal(err)
	}
	if _, err := WriteLoop(ctx, url, pool, k.writers, 2*time.Second, &next); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	var runs []run
	for pair := 1; pair <= k.pairs; pair++ {
		for _, withRules := range []bool{false, true} {
			if k.only == "" || (k.only == "rules") == withRules {
				runs = append(runs, measure(pair, withRules))
			}
		}
	}
	b.StopTimer()
	report(b, runs)
	// A delete of a relationship whose touch was cut off and not applied
	// changes nothing: allow one such write per writer and run.
	for _, r := range runs {
		if got := r.byKind[alerts.KindRelationship]; got < r.expectLo-k.writers || got > r.expectHi {
			b.Errorf("pair %d %s: %d relationship deliveries, want %d–%d: alerts lost (or sent for nothing)", r.pair, side(r.rules), got, r.expectLo, r.expectHi)
		}
	}
}

func side(withRules bool) string {
	if withRules {
		return "rules"
	}
	return "none"
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// putRules replaces the node's rule set (the webhooks are pinged) and waits
// for the rule reload of every node's alert poll (50 ms) to have run.
func putRules(b *testing.B, url string, rs alerts.RuleSet) {
	body, err := json.Marshal(map[string]any{"rules": rs.Rules, "reason": "alertbench"})
	if err != nil {
		b.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPut, url+"/v1/alerts", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("PUT /v1/alerts (%d rules): %d %s", len(rs.Rules), resp.StatusCode, out)
	}
	time.Sleep(250 * time.Millisecond)
}

// settle waits until the receiver has had no delivery for a second (at most
// two minutes) and returns how long after the call the last one came.
func settle(r *Receiver) time.Duration {
	start := time.Now()
	last, lastAt := r.Counts().Total, start
	for time.Since(lastAt) < time.Second && time.Since(start) < 2*time.Minute {
		time.Sleep(50 * time.Millisecond)
		if c := r.Counts().Total; c != last {
			last, lastAt = c, time.Now()
		}
	}
	return lastAt.Sub(start)
}

// ruleHits returns, for each write of the mix (indexed as by opIndex: each
// pool line touched, then deleted), how many relationship rules of rs match
// it: the deliveries it calls for.
func ruleHits(b *testing.B, rs alerts.RuleSet, pool []string) []int {
	hits := make([]int, 2*len(pool))
	for i, line := range pool {
		rel, err := tuple.Parse(line)
		if err != nil {
			b.Fatalf("write pool line %q: %v", line, err)
		}
		for j, op := range []tuple.Op{tuple.OpTouch, tuple.OpDelete} {
			for _, r := range rs.Rules {
				if r.Kind() == alerts.KindRelationship && r.Match.Matches(op, rel) {
					hits[j*len(pool)+i]++
				}
			}
		}
	}
	return hits
}

// report logs the median and spread of each side, the overhead of the rules
// (median against median, and pair by pair) and reports the medians.
func report(b *testing.B, runs []run) {
	type fig struct {
		name string
		get  func(run) float64
		unit string
	}
	figs := []fig{
		{"checks/s", func(r run) float64 { return r.checks.Throughput }, "checks/s"},
		{"writes/s", func(r run) float64 { return r.writes.Rate() }, "writes/s"},
	}
	var sb strings.Builder
	for _, f := range figs {
		med := map[bool]float64{}
		for _, withRules := range []bool{false, true} {
			var xs []float64
			for _, r := range runs {
				if r.rules == withRules && f.get(r) > 0 { // 0: the phase was not run
					xs = append(xs, f.get(r))
				}
			}
			if len(xs) == 0 {
				continue
			}
			slices.Sort(xs)
			med[withRules] = median(xs)
			fmt.Fprintf(&sb, "%s %-5s median %.0f (%.0f–%.0f, %d runs)\n", f.name, side(withRules), med[withRules], xs[0], xs[len(xs)-1], len(xs))
			b.ReportMetric(med[withRules], f.unit+"-"+side(withRules))
		}
		if med[false] > 0 && med[true] > 0 { // both sides ran
			over := 100 * (1 - med[true]/med[false])
			var pairs []string
			var ratios []float64
			for i := 0; i+1 < len(runs); i++ {
				if runs[i].pair == runs[i+1].pair && !runs[i].rules && runs[i+1].rules {
					o := 100 * (1 - f.get(runs[i+1])/f.get(runs[i]))
					pairs, ratios = append(pairs, fmt.Sprintf("%.1f%%", o)), append(ratios, o)
				}
			}
			slices.Sort(ratios)
			fmt.Fprintf(&sb, "%s overhead of the rules: %.1f%% (medians); pair by pair %s (median %.1f%%)\n", f.name, over, strings.Join(pairs, ", "), median(ratios))
			b.ReportMetric(over, f.unit[:len(f.unit)-2]+"-overhead-%")
		}
	}
	// Delivery latency over every run with rules: the worst p99 and max.
	worst := map[string]Latency{}
	for _, r := range runs {
		for kind, l := range r.latency {
			w := worst[kind]
			w.N += l.N
			w.P50, w.P99, w.Max = max(w.P50, l.P50), max(w.P99, l.P99), max(w.Max, l.Max)
			worst[kind] = w
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(worst)) {
		w := worst[kind]
		fmt.Fprintf(&sb, "%s alerts, event to webhook: %d delivered; worst run p50 %.1f ms, p99 %.1f ms; max %.1f ms\n", kind, w.N, ms(w.P50), ms(w.P99), ms(w.Max))
		b.ReportMetric(ms(w.P99), kind+"-p99-ms")
	}
	b.Logf("\n%s", sb.String())
}

// metric returns the value of an unlabelled counter of the node's /metrics.
func metric(b *testing.B, url, name string) float64 {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				b.Fatalf("/metrics %s: %v", line, err)
			}
			return f
		}
	}
	b.Fatalf("/metrics has no %s", name)
	return 0
}

// loadavg is the machine's 1-minute load average ("?" off Linux).
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
