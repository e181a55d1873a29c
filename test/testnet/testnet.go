package testnet

import (
	"net"
	"sync"
	"testing"
)

// handedOut is every address FreeAddr returned in this process.
var handedOut = struct {
	sync.Mutex
	addrs map[string]bool
}{addrs: map[string]bool{}}

// FreeAddr returns a 127.0.0.1 host:port that was free when picked and that
// no earlier call in this process returned (the kernel may give a port it
// just gave, and the caller closed, again). Another socket can still take it
// before the caller binds it; callers that start servers on it should be
// ready to start over on a new address.
func FreeAddr(t testing.TB) string {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if !handedOut.addrs[addr] {
			handedOut.addrs[addr] = true
			return addr
		}
	}
}
