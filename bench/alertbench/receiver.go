package alertbench

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trellis-authz/trellis/alerts"
)

// Receiver is a loopback webhook that accepts every delivery at once (200),
// checks its signature and counts it by rule; pings are counted apart.
type Receiver struct {
	URL    string
	secret string
	srv    *httptest.Server

	mu     sync.Mutex
	byRule map[string]int
	pings  int
	bad    int                        // bodies that do not decode or signatures that do not verify
	lat    map[string][]time.Duration // by event kind: receipt time minus the event's time
}

// NewReceiver starts a receiver whose deliveries are signed with secret.
func NewReceiver(secret string) *Receiver {
	r := &Receiver{secret: secret, byRule: map[string]int{}, lat: map[string][]time.Duration{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	return r
}

// Close stops the receiver.
func (r *Receiver) Close() { r.srv.Close() }

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	got := time.Now()
	var p alerts.Payload
	err := json.Unmarshal(body, &p)
	ok := err == nil && alerts.Verify(r.secret, body, req.Header.Get("Trellis-Signature"))
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case !ok:
		r.bad++
	case strings.HasPrefix(req.Header.Get("Trellis-Delivery"), "ping-"):
		r.pings++
	default:
		r.byRule[p.Rule]++
		if !p.Event.Time.IsZero() {
			// The event's time is the leader's commit time of a write, or
			// when the node answered a check: this is how long the alert
			// took to reach the webhook (one machine, one clock).
			r.lat[p.Event.Kind] = append(r.lat[p.Event.Kind], got.Sub(p.Event.Time))
		}
	}
}

// Latency is the spread of delivery latencies of one event kind.
type Latency struct {
	N             int
	P50, P99, Max time.Duration
}

// Latencies returns, by event kind, the latencies of the deliveries after
// the first from[kind] of that kind (from a LatencyMarks taken earlier).
func (r *Receiver) Latencies(from map[string]int) map[string]Latency {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]Latency{}
	for kind, xs := range r.lat {
		xs = slices.Clone(xs[min(from[kind], len(xs)):])
		if len(xs) == 0 {
			continue
		}
		slices.Sort(xs)
		out[kind] = Latency{N: len(xs), P50: xs[len(xs)/2], P99: xs[(len(xs)*99)/100], Max: xs[len(xs)-1]}
	}
	return out
}

// LatencyMarks returns how many latencies of each kind were recorded so far.
func (r *Receiver) LatencyMarks() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]int{}
	for k, xs := range r.lat {
		m[k] = len(xs)
	}
	return m
}

// Counts are the deliveries so far: by rule, the total, pings and bad ones.
type Counts struct {
	ByRule map[string]int
	Total  int
	Pings  int
	Bad    int
}

// Counts returns a copy of the counts so far.
func (r *Receiver) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := Counts{ByRule: make(map[string]int, len(r.byRule)), Pings: r.pings, Bad: r.bad}
	for k, v := range r.byRule {
		c.ByRule[k] = v
		c.Total += v
	}
	return c
}

// Since is c minus an earlier count.
func (c Counts) Since(earlier Counts) Counts {
	d := Counts{ByRule: map[string]int{}, Total: c.Total - earlier.Total, Pings: c.Pings - earlier.Pings, Bad: c.Bad - earlier.Bad}
	for k, v := range c.ByRule {
		if n := v - earlier.ByRule[k]; n > 0 {
			d.ByRule[k] = n
		}
	}
	return d
}
