package server

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

func TestParseConnectTo(t *testing.T) {
	good, err := ParseConnectTo(" 10.0.0.2:7000=127.0.0.1:17000, trellis-2:8080=127.0.0.1:18080 ")
	if err != nil {
		t.Fatal(err)
	}
	if len(good) != 2 || good["10.0.0.2:7000"] != "127.0.0.1:17000" || good["trellis-2:8080"] != "127.0.0.1:18080" {
		t.Fatalf("got %v", good)
	}
	if m, err := ParseConnectTo(""); err != nil || m != nil {
		t.Fatalf("empty: got %v, %v; want nothing", m, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"10.0.0.2:7000", "entry 1"},
		{"10.0.0.2:7000=127.0.0.1", "want peer-host:port=dial-host:port"},
		{"a:1=b:2,http://c:3=d:4", "entry 2"},
		{"a:1=b:2,a:1=c:3", "names a:1 twice"},
	} {
		if _, err := ParseConnectTo(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error saying %q", tc.in, err, tc.want)
		}
	}
}

// A rewritten peer address is dialed at its replacement, through
// Config.PeerDial when one is set; other addresses are dialed as they are.
func TestPeerDialerRewritesAddresses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var dialed []string
	cfg := DefaultConfig()
	cfg.PeerConnectTo = "peer.invalid:7000=" + ln.Addr().String()
	cfg.PeerDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = append(dialed, addr)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	dial, custom, err := peerDialer(cfg)
	if err != nil || !custom {
		t.Fatalf("peerDialer: custom=%v, %v", custom, err)
	}
	c, err := raftDial(dial)("peer.invalid:7000", time.Second)
	if err != nil {
		t.Fatalf("dialing the rewritten address: %v", err)
	}
	c.Close()
	if c, err := dial(context.Background(), "tcp", ln.Addr().String()); err == nil { // not rewritten
		c.Close()
	}
	if want := []string{ln.Addr().String(), ln.Addr().String()}; len(dialed) != 2 || dialed[0] != want[0] || dialed[1] != want[1] {
		t.Fatalf("PeerDial saw %v, want %v", dialed, want)
	}
	if _, custom, _ := peerDialer(DefaultConfig()); custom {
		t.Fatal("no PeerDial and no --peer-connect-to: custom=true, want raft's own transport")
	}
}
