package alertbench

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

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
	bad    int // bodies that do not decode or signatures that do not verify
}

// NewReceiver starts a receiver whose deliveries are signed with secret.
func NewReceiver(secret string) *Receiver {
	r := &Receiver{secret: secret, byRule: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	return r
}

// Close stops the receiver.
func (r *Receiver) Close() { r.srv.Close() }

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
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
	}
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
