package pep

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/wire"
)

// Benchmarks against a real node in this process. Figures and commands are
// in bench/RESULTS.md ("Enforcement point (pep)"); nothing here asserts a
// speed.

func benchClient(b *testing.B, url, token string, cacheSize int) *Client {
	cfg := testConfig(url, token)
	cfg.CacheSize = cacheSize
	cfg.MaxStaleness = 10 * time.Second
	return newClient(b, cfg)
}

// BenchmarkDecideCached is the hot path: an answer from the cache.
func BenchmarkDecideCached(b *testing.B) {
	tn := startNode(b, testSchema)
	tn.Write(b, touch("dataset:claims#reader@user:ana"))
	c := benchClient(b, tn.URL, tn.Reader, 100_000)
	for _, bc := range []struct {
		name string
		q    Question
	}{
		{"no-context", Question{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}},
		{"context", Question{Resource: "dataset:claims", Permission: "read", Subject: "user:ana", Context: map[string]any{"purpose": "fraud"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			warm(b, c, bc.q)
			ctx := context.Background()
			b.ReportAllocs()
			misses := 0
			for b.Loop() {
				if d, _ := c.Decide(ctx, bc.q); !d.Cached {
					misses++
				}
			}
			b.ReportMetric(float64(misses), "misses")
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			warm(b, c, bc.q)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					_, _ = c.Decide(ctx, bc.q)
				}
			})
		})
	}
}

// directCheck is the baseline a service would write by hand: one POST
// /v1/check with the standard library, nothing else.
func directCheck(hc *http.Client, url, token string, q Question, cons *wire.Consistency) (string, error) {
	body, _ := json.Marshal(wire.CheckRequest{Resource: q.Resource, Permission: q.Permission, Subject: q.Subject, Consistency: cons})
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/check", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out wire.CheckResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	return out.Result, nil
}

// BenchmarkUncachedVsDirect alternates an uncached PEP decision (cache off:
// the PEP's whole path — validation, decision id, span, trace propagation,
// timeout, metrics — over REST) with a direct REST check, so that both see
// the same machine load, and reports each mean and the PEP's overhead. A
// third figure is a cache miss with the cache on (at_least_as_fresh of the
// watch's token, and the insertion), compared with a direct REST check
// that asks at_least_as_fresh too.
func BenchmarkUncachedVsDirect(b *testing.B) {
	tn := startNode(b, testSchema)
	written := tn.Write(b, touch("dataset:claims#reader@user:ana"))
	fresh := &wire.Consistency{Mode: wire.AtLeastAsFresh, Token: written}
	off := benchClient(b, tn.URL, tn.Reader, 0)
	on := benchClient(b, tn.URL, tn.Reader, 1_000_000)
	waitFor(b, "the watch", on.Live)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 256
	hc := &http.Client{Transport: t}
	ctx := context.Background()
	var pepNS, directNS, missNS, freshNS time.Duration
	i := 0
	// Each call asks about a subject never asked before, so that Trellis
	// computes every answer (its own cache would otherwise answer repeats).
	ask := func(prefix string) Question {
		return Question{Resource: "dataset:claims", Permission: "read", Subject: fmt.Sprintf("user:%s%d", prefix, i)}
	}
	steps := []func(){
		func() {
			q := ask("p")
			s := time.Now()
			if d, err := off.Decide(ctx, q); err != nil || d.Allowed {
				b.Fatalf("pep: %+v %v", d, err)
			}
			pepNS += time.Since(s)
		},
		func() {
			q := ask("d")
			s := time.Now()
			if r, err := directCheck(hc, tn.URL, tn.Reader, q, nil); err != nil || r != "denied" {
				b.Fatalf("direct: %s %v", r, err)
			}
			directNS += time.Since(s)
		},
		func() {
			q := ask("m")
			s := time.Now()
			if d, err := on.Decide(ctx, q); err != nil || d.Allowed {
				b.Fatalf("pep with cache: %+v %v", d, err)
			}
			missNS += time.Since(s)
		},
		func() {
			q := ask("f")
			s := time.Now()
			if r, err := directCheck(hc, tn.URL, tn.Reader, q, fresh); err != nil || r != "denied" {
				b.Fatalf("direct at_least_as_fresh: %s %v", r, err)
			}
			freshNS += time.Since(s)
		},
	}
	for b.Loop() {
		i++
		// Rotate the order, so that no kind of call always follows another.
		for k := range steps {
			steps[(i+k)%len(steps)]()
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(pepNS.Nanoseconds())/n, "pep-ns/op")
	b.ReportMetric(float64(directNS.Nanoseconds())/n, "direct-ns/op")
	b.ReportMetric(float64(missNS.Nanoseconds())/n, "pep-miss-ns/op")
	b.ReportMetric(float64(freshNS.Nanoseconds())/n, "direct-fresh-ns/op")
	b.ReportMetric(100*(float64(pepNS)/float64(directNS)-1), "overhead-%")
	b.ReportMetric(100*(float64(missNS)/float64(freshNS)-1), "miss-overhead-%")
}

// BenchmarkRevokeLatency measures, for each of b.N revokes (run it with
// -benchtime=1000x), the time from the revoke's acknowledgement (the write
// answered) to the first denial of a PEP that had the allow cached, while
// two goroutines keep deciding other questions as fast as they can (nine in
// ten cached, one in ten a question never asked, so a REST check). The
// denial is polled every 50 µs (in practice the timer's resolution, tens of
// µs more), so figures have that resolution.
func BenchmarkRevokeLatency(b *testing.B) {
	tn := startNode(b, testSchema)
	for i := range 50 {
		tn.Write(b, touch(fmt.Sprintf("dataset:load%d#reader@user:ana", i)))
	}
	c := benchClient(b, tn.URL, tn.Reader, 100_000)
	waitFor(b, "the watch", c.Live)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var background int
	var bgMu sync.Mutex
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for i := 0; ; i++ {
				select {
				case <-stop:
					bgMu.Lock()
					background += n
					bgMu.Unlock()
					return
				default:
				}
				q := Question{Resource: fmt.Sprintf("dataset:load%d", i%50), Permission: "read", Subject: "user:ana"}
				if i%10 == 0 { // a question never asked before: a REST check
					q.Subject = fmt.Sprintf("user:bg%d_%d", g, i)
				}
				_, _ = c.Decide(context.Background(), q)
				n++
				runtime.Gosched()
			}
		}()
	}

	q := Question{Resource: "dataset:rev", Permission: "read", Subject: "user:ana"}
	rel := "dataset:rev#reader@user:ana"
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		written := tn.Write(b, touch(rel))
		ctx := WithAtLeastAsFresh(context.Background(), written)
		waitFor(b, "the grant cached", func() bool {
			d, _ := c.Decide(ctx, q)
			return d.Allowed && d.Cached
		})
		tn.Write(b, del(rel))
		acked := time.Now()
		for {
			if d, _ := c.Decide(context.Background(), q); !d.Allowed {
				break
			}
			if time.Since(acked) > 10*time.Second {
				b.Fatal("no denial within 10 s of the revoke")
			}
			time.Sleep(50 * time.Microsecond)
		}
		lat = append(lat, time.Since(acked))
	}
	close(stop)
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.9), "p90-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(background)/float64(b.N), "background-decisions/revoke")
	b.Logf("%d revokes: p50 %.2f ms, p99 %.2f ms, max %.2f ms", len(lat), pct(0.5), pct(0.99), float64(lat[len(lat)-1].Microseconds())/1000)
}

// BenchmarkUncachedOverheadFixedServer isolates what the PEP itself adds to
// an uncached decision: both the PEP (cache off) and the hand-written check
// talk to a server that answers at once with a fixed body, alternating.
func BenchmarkUncachedOverheadFixedServer(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"result":"allowed","checked_at":"t1.AQAAAAA"}`)
	}))
	b.Cleanup(srv.Close)
	c := benchClient(b, srv.URL, "x", 0)
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 256
	hc := &http.Client{Transport: t}
	q := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}
	ctx := context.Background()
	var pepNS, directNS time.Duration
	i := 0
	for b.Loop() {
		i++
		for k := range 2 {
			s := time.Now()
			if (i+k)%2 == 0 {
				if d, err := c.Decide(ctx, q); err != nil || !d.Allowed {
					b.Fatalf("pep: %+v %v", d, err)
				}
				pepNS += time.Since(s)
			} else {
				if r, err := directCheck(hc, srv.URL, "x", q, nil); err != nil || r != "allowed" {
					b.Fatalf("direct: %s %v", r, err)
				}
				directNS += time.Since(s)
			}
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(pepNS.Nanoseconds())/n, "pep-ns/op")
	b.ReportMetric(float64(directNS.Nanoseconds())/n, "direct-ns/op")
	b.ReportMetric(float64((pepNS-directNS).Nanoseconds())/n, "added-ns/op")
}
