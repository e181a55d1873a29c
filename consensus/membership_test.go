package consensus

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"
)

func TestJoinAndRemoveMember(t *testing.T) {
	a := newTestNode(t, "a")
	a.open(true, nil)
	waitIsLeader(t, a.node)
	writeSchema(t, a.node, testSchema)
	res, err := a.node.Write(ctxT(t, 10*time.Second), touch("dataset:j#reader@user:j"))
	if err != nil {
		t.Fatal(err)
	}

	b := newTestNode(t, "b")
	b.open(false, nil) // no bootstrap: waits to be added
	if err := a.node.AddMember(ctxT(t, 10*time.Second), Peer{ID: "b", RaftAddr: b.addr, APIAddr: "http://b.test:8080"}); err != nil {
		t.Fatalf("AddMember: %v", err)
	}
	if err := b.node.WaitApplied(ctxT(t, 10*time.Second), res.Revision); err != nil {
		t.Fatalf("joined node WaitApplied: %v", err)
	}
	if !has(t, b.store, "dataset:j#reader@user:j") {
		t.Fatal("joined node lacks earlier data")
	}
	// Every node learns every API address through the log.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ms, err := b.node.Members()
		if err == nil && len(ms) == 2 && ms[0].APIAddr == "http://a.test:8080" && ms[1].APIAddr == "http://b.test:8080" && ms[0].Leader && ms[1].Voter {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("joined node's Members() = %+v, %v; want a (leader) and b (a voter) with API addresses", ms, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := b.node.LeaderAPIAddr(); got != "http://a.test:8080" {
		t.Fatalf("LeaderAPIAddr on b = %q, want http://a.test:8080", got)
	}

	if err := a.node.RemoveServer(ctxT(t, 10*time.Second), "b"); err != nil {
		t.Fatalf("RemoveServer: %v", err)
	}
	ms, err := a.node.Members()
	if err != nil || len(ms) != 1 || ms[0].ID != "a" {
		t.Fatalf("after removal Members() = %+v, %v; want only a", ms, err)
	}
}

// TestAddUnreachableMemberKeepsLeader adds a member whose raft address
// nobody listens on to a one-node cluster: the add fails with
// ErrMemberNotCaughtUp, the node stays leader and keeps committing writes,
// and the member (a non-voter) can be removed. (Added as a voter at once, it
// would make the cluster two voters with one reachable: no quorum, no leader,
// no way to remove it.)
func TestAddUnreachableMemberKeepsLeader(t *testing.T) {
	a := newTestNode(t, "a")
	a.open(true, nil)
	waitIsLeader(t, a.node)
	writeSchema(t, a.node, testSchema)

	dead := freeAddr(t)
	err := a.node.AddMember(ctxT(t, 2*time.Second), Peer{ID: "ghost", RaftAddr: dead, APIAddr: "http://ghost.test:8080"})
	if !errors.Is(err, ErrMemberNotCaughtUp) {
		t.Fatalf("AddMember of an unreachable node: got %v, want ErrMemberNotCaughtUp", err)
	}
	ms, err := a.node.Members()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID == "ghost" && m.Voter {
			t.Fatalf("the unreachable member became a voter: %+v", ms)
		}
	}
	// Longer than an election timeout and a leader lease: still the leader.
	time.Sleep(time.Second)
	if !a.node.IsLeader() {
		t.Fatal("the node lost leadership after adding an unreachable member")
	}
	if _, err := a.node.Write(ctxT(t, 5*time.Second), touch("dataset:u#reader@user:u")); err != nil {
		t.Fatalf("write after adding an unreachable member: %v", err)
	}
	if err := a.node.RemoveServer(ctxT(t, 5*time.Second), "ghost"); err != nil {
		t.Fatalf("removing the unreachable member: %v", err)
	}
	if ms, _ := a.node.Members(); len(ms) != 1 {
		t.Fatalf("after removal Members() = %+v, want only a", ms)
	}
}

// TestAddMemberConflicts: an existing ID with other addresses, or another
// member's raft or API address, is ErrMemberConflict and changes nothing.
func TestAddMemberConflicts(t *testing.T) {
	a := newTestNode(t, "a")
	a.open(true, nil)
	waitIsLeader(t, a.node)
	b := newTestNode(t, "b")
	b.open(false, nil)
	if err := a.node.AddMember(ctxT(t, 10*time.Second), Peer{ID: "b", RaftAddr: b.addr, APIAddr: "http://b.test:8080"}); err != nil {
		t.Fatalf("AddMember b: %v", err)
	}
	before, err := a.node.Members()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    Peer
	}{
		{"existing id, other raft address", Peer{ID: "b", RaftAddr: freeAddr(t), APIAddr: "http://b.test:8080"}},
		{"existing id, other API address", Peer{ID: "b", RaftAddr: b.addr, APIAddr: "http://elsewhere.test:8080"}},
		{"the leader's id, other raft address", Peer{ID: "a", RaftAddr: freeAddr(t), APIAddr: "http://a.test:8080"}},
		{"new id, another member's raft address", Peer{ID: "c", RaftAddr: b.addr, APIAddr: "http://c.test:8080"}},
		{"new id, another member's API address", Peer{ID: "c", RaftAddr: freeAddr(t), APIAddr: "http://a.test:8080"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := a.node.AddMember(ctxT(t, 5*time.Second), tc.p)
			if !errors.Is(err, ErrMemberConflict) {
				t.Fatalf("got %v, want ErrMemberConflict", err)
			}
			after, err := a.node.Members()
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("members changed: got %+v, want %+v", after, before)
			}
		})
	}
	// The same member with the same addresses again is no conflict.
	if err := a.node.AddMember(ctxT(t, 5*time.Second), Peer{ID: "b", RaftAddr: b.addr, APIAddr: "http://b.test:8080"}); err != nil {
		t.Fatalf("adding b again with its own addresses: %v", err)
	}
}

// TestRemoveRefusedWithoutQuorum: with one of three nodes down, removing a
// live follower would leave two voters of which one answers, so it is
// refused and changes nothing; removing the down node is allowed.
func TestRemoveRefusedWithoutQuorum(t *testing.T) {
	c := startCluster(t, 3, nil)
	l := c.leader()
	var live, down *testNode
	for _, tn := range c.nodes {
		if tn == l {
			continue
		}
		if down == nil {
			down = tn
		} else {
			live = tn
		}
	}
	down.close()
	err := l.node.RemoveServer(ctxT(t, 10*time.Second), live.id)
	if !errors.Is(err, ErrWouldLoseQuorum) {
		t.Fatalf("removing live follower %s while %s is down: got %v, want ErrWouldLoseQuorum", live.id, down.id, err)
	}
	if ms, _ := l.node.Members(); len(ms) != 3 {
		t.Fatalf("after a refused removal Members() = %+v, want all three", ms)
	}
	if err := l.node.RemoveServer(ctxT(t, 10*time.Second), down.id); err != nil {
		t.Fatalf("removing the down node %s: %v", down.id, err)
	}
	if ms, _ := l.node.Members(); len(ms) != 2 {
		t.Fatalf("after removing %s Members() = %+v, want two", down.id, ms)
	}
}

func TestTLSTransport(t *testing.T) {
	cfgTLS := selfSignedTLS(t)
	c := &cluster{t: t}
	for _, id := range []string{"t1", "t2"} {
		tn := newTestNode(t, id)
		tn.addr = freeAddr(t)
		tn.tune = func(cfg *Config) { cfg.TLS = cfgTLS }
		c.nodes = append(c.nodes, tn)
		c.peers = append(c.peers, Peer{ID: id, RaftAddr: tn.addr})
	}
	for _, tn := range c.nodes {
		tn.open(true, c.peers)
	}
	c.write(&SchemaCommand{Text: testSchema})
	res := c.write(touch("dataset:tls#reader@user:t"))
	for _, tn := range c.nodes {
		if err := tn.node.WaitApplied(ctxT(t, 10*time.Second), res.Revision); err != nil {
			t.Fatalf("%s over TLS: %v", tn.id, err)
		}
	}
	// A plain-TCP client cannot speak raft to a TLS node.
	conn, err := net.DialTimeout("tcp", c.nodes[0].addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	conn.Write([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	buf := make([]byte, 16)
	if n, _ := conn.Read(buf); n > 0 && buf[0] != 0x15 { // 0x15: a TLS alert
		t.Fatalf("TLS listener answered plain TCP with %x", buf[:n])
	}
}

// selfSignedTLS returns a config whose one certificate (for 127.0.0.1) both
// serves and is trusted, with client certificates required.
func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "trellis-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}
}
