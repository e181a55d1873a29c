//go:build slow

package server_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/alerts"
)

// The receiver refuses, then is gone for 30 s (nothing listens on its port),
// then returns: with the default retry schedule the break-glass grant and the
// break-glass check are each delivered after it returns, under the id their
// refused attempts carried.
func TestAlertReceiverDown30s(t *testing.T) {
	var mu sync.Mutex
	refused := map[string]string{}   // rule -> delivery id of a refused attempt
	delivered := map[string]string{} // rule -> delivery id accepted
	refuse := true
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.HasPrefix(r.Header.Get("Trellis-Delivery"), "ping-") {
			return // PUT /v1/alerts checks the webhook answers
		}
		var p alerts.Payload
		if json.Unmarshal(body, &p) != nil || !alerts.Verify(secret, body, r.Header.Get("Trellis-Signature")) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			refused[p.Rule] = r.Header.Get("Trellis-Delivery")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		delivered[p.Rule] = r.Header.Get("Trellis-Delivery")
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	srv := &http.Server{Handler: handler}
	go srv.Serve(l)

	n := alertNode(t) // the default backoff: 12 attempts over ~2.5 min
	putAlertRules(t, n, `{"name":"grant","match":{"resource_type":"dataset","relation":"emergency_reader"},`+hookJSON("http://"+addr+"/hook")+`},`+
		`{"name":"used","decision":{"resource_type":"dataset","permission":"read","through":"emergency_reader"},`+hookJSON("http://"+addr+"/hook")+`}`)
	grantBreakGlass(t, n, "oncall")
	if got := check(t, n, "dataset:claims", "read", "user:oncall", incident); got != "allowed" {
		t.Fatalf("oncall: %s", got)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		k := len(refused)
		mu.Unlock()
		if k == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no refused attempt of both alerts")
		}
	}
	srv.Close() // down: connections to addr are refused
	time.Sleep(30 * time.Second)
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the receiver's port was taken meanwhile: %v", err)
	}
	mu.Lock()
	refuse = false
	mu.Unlock()
	srv = &http.Server{Handler: handler}
	go srv.Serve(l)
	defer srv.Close()
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		k := len(delivered)
		mu.Unlock()
		if k == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivered %v after the receiver returned; want both", delivered)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for rule, id := range refused {
		if delivered[rule] != id {
			t.Errorf("rule %s: refused under %s, delivered under %s; want one id", rule, id, delivered[rule])
		}
	}
}
