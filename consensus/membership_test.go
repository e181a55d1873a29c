package consensus

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
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
		if err == nil && len(ms) == 2 && ms[0].APIAddr == "http://a.test:8080" && ms[1].APIAddr == "http://b.test:8080" && ms[0].Leader {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("joined node's Members() = %+v, %v; want a (leader) and b with API addresses", ms, err)
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
