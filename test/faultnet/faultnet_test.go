package faultnet

import (
	"bufio"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer answers "hello\n" on accept, then echoes every line.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte("hello\n"))
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// setup returns a Net with nodes a (a client only) and b (the echo server),
// and a connection a opened to b through it.
func setup(t *testing.T) (*Net, net.Conn, *bufio.Reader) {
	t.Helper()
	n := New(1)
	t.Cleanup(n.Close)
	b := echoServer(t)
	n.Add("a", "127.0.0.1:1") // a never listens in these tests
	n.Add("b", b)
	c, err := n.Dialer("a")(b, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return n, c, bufio.NewReader(c)
}

func readLine(t *testing.T, c net.Conn, r *bufio.Reader, wait time.Duration) (string, error) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	return r.ReadString('\n')
}

func TestForwardsBothWays(t *testing.T) {
	_, c, r := setup(t)
	if got, err := readLine(t, c, r, 5*time.Second); got != "hello\n" {
		t.Fatalf("greeting: got %q, %v; want hello", got, err)
	}
	c.Write([]byte("ping\n"))
	if got, err := readLine(t, c, r, 5*time.Second); got != "ping\n" {
		t.Fatalf("echo: got %q, %v; want ping", got, err)
	}
}

func TestBlockHoldsUntilHeal(t *testing.T) {
	n, c, r := setup(t)
	if got, _ := readLine(t, c, r, 5*time.Second); got != "hello\n" {
		t.Fatalf("greeting: got %q", got)
	}
	n.Isolate("b")
	c.Write([]byte("held\n"))
	if got, err := readLine(t, c, r, 300*time.Millisecond); err == nil {
		t.Fatalf("through a partition: got %q, want nothing", got)
	}
	n.Heal()
	if got, err := readLine(t, c, r, 5*time.Second); got != "held\n" {
		t.Fatalf("after heal: got %q, %v; want the held line", got, err)
	}
}

func TestOneWayBlock(t *testing.T) {
	tests := []struct {
		name          string
		from, to      string
		greetingFlows bool // b→a
	}{
		{"a to b blocked", "a", "b", true},
		{"b to a blocked", "b", "a", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := New(1)
			defer n.Close()
			b := echoServer(t)
			n.Add("a", "127.0.0.1:1")
			n.Add("b", b)
			n.Block(tc.from, tc.to)
			c, err := n.Dialer("a")(b, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := bufio.NewReader(c)
			got, err := readLine(t, c, r, 300*time.Millisecond)
			if tc.greetingFlows && got != "hello\n" {
				t.Fatalf("b→a open: got %q, %v; want the greeting", got, err)
			}
			if !tc.greetingFlows && err == nil {
				t.Fatalf("b→a blocked: got %q, want nothing", got)
			}
			if tc.greetingFlows {
				c.Write([]byte("ping\n")) // a→b is blocked: no echo
				if got, err := readLine(t, c, r, 300*time.Millisecond); err == nil {
					t.Fatalf("a→b blocked: got echo %q", got)
				}
			}
		})
	}
}

func TestSlowDelays(t *testing.T) {
	n, c, r := setup(t)
	readLine(t, c, r, 5*time.Second)
	n.Slow("a", "b", 100*time.Millisecond, 0)
	t0 := time.Now()
	c.Write([]byte("x\n"))
	if got, err := readLine(t, c, r, 5*time.Second); got != "x\n" {
		t.Fatalf("slow link: got %q, %v", got, err)
	}
	// Both directions are delayed: at least two delays (a lower bound only).
	if d := time.Since(t0); d < 200*time.Millisecond {
		t.Fatalf("round trip took %v, want at least 200ms", d)
	}
}

func TestDropResets(t *testing.T) {
	n, c, r := setup(t)
	readLine(t, c, r, 5*time.Second)
	n.Slow("a", "b", 0, 1)
	c.Write([]byte("x\n"))
	if _, err := readLine(t, c, r, 5*time.Second); err == nil || isTimeout(err) {
		t.Fatalf("drop 1.0: got %v, want the connection closed", err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestDialerRejectsUnknownAddress(t *testing.T) {
	n := New(1)
	defer n.Close()
	n.Add("a", "127.0.0.1:1")
	if _, err := n.Dialer("a")("127.0.0.1:2", time.Second); err == nil {
		t.Fatal("dialing an unregistered address: got nil error")
	}
}

// A node with two addresses (raft and API) gets a proxy per address, and the
// rules of its pairs hold on both; DialContext (for HTTP clients) and
// ProxyAddr (for a node in another process) reach the same proxies.
func TestSecondAddressFollowsTheNodesRules(t *testing.T) {
	n := New(1)
	defer n.Close()
	raft, api := echoServer(t), echoServer(t)
	n.Add("a", "127.0.0.1:1")
	n.Add("b", raft)
	n.Add("b", api)
	if got := n.Nodes(); len(got) != 2 {
		t.Fatalf("Nodes: got %v, want [a b]", got)
	}
	pr, err := n.ProxyAddr("a", raft)
	if err != nil {
		t.Fatal(err)
	}
	pa, err := n.ProxyAddr("a", api)
	if err != nil {
		t.Fatal(err)
	}
	if pr == pa {
		t.Fatalf("one proxy %s for both of b's addresses, want one each", pr)
	}
	// open dials addr through a's DialContext, or (direct) as a process
	// told to dial a proxy address does.
	open := func(addr string, direct bool) (net.Conn, *bufio.Reader) {
		var c net.Conn
		var err error
		if direct {
			c, err = net.Dial("tcp", addr)
		} else {
			c, err = n.DialContext("a")(context.Background(), "tcp", addr)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	for _, tc := range []struct {
		addr   string
		direct bool
	}{{raft, false}, {api, false}, {pa, true}} {
		c, r := open(tc.addr, tc.direct)
		if got, err := readLine(t, c, r, 5*time.Second); got != "hello\n" {
			t.Fatalf("%s: greeting %q, %v", tc.addr, got, err)
		}
	}
	if got := n.Accepted("a", raft); got != 1 {
		t.Errorf("Accepted(a, raft): got %d, want 1", got)
	}
	if got := n.Accepted("a", api); got != 2 { // DialContext once, directly once
		t.Errorf("Accepted(a, api): got %d, want 2", got)
	}
	n.Isolate("b")
	for _, addr := range []string{raft, api} {
		c, r := open(addr, false)
		if got, err := readLine(t, c, r, 300*time.Millisecond); err == nil {
			t.Fatalf("%s with b isolated: got %q, want nothing", addr, got)
		}
	}
	if _, err := n.DialContext("a")(context.Background(), "tcp", "127.0.0.1:2"); err == nil {
		t.Fatal("DialContext of an unregistered address: got nil error")
	}
}
