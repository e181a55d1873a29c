package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"github.com/trellis-authz/trellis/server"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeTestPKI writes a CA and one certificate for 127.0.0.1 signed by it,
// and returns the paths (ca, cert, key) and the CA pool.
func writeTestPKI(t *testing.T) (caFile, certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "trellis test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "trellis node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "node.pem"), filepath.Join(dir, "node.key")
	for path, block := range map[string]*pem.Block{
		caFile: {Type: "CERTIFICATE", Bytes: caDER}, certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return caFile, certFile, keyFile, pool
}

// TestClusterTLS runs three nodes with --tls-cert/--tls-key/--tls-ca: raft
// over mutual TLS, HTTPS APIs, and forwarding and read indexes over HTTPS.
func TestClusterTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes; skipped with -short")
	}
	caFile, certFile, keyFile, pool := writeTestPKI(t)
	hc := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	c := newTestClusterWith(t, 3, nil, func(o *server.Config) {
		o.TLSCert, o.TLSKey, o.TLSCA = certFile, keyFile, caFile
		o.GRPCAddr = freeAddr(t)
	}, hc)
	fs := c.followers()
	tok := c.mustWrite(fs[0], "touch", "doc:tls#viewer@user:ana")
	c.mustCheck(fs[1], "doc:tls", "view", "user:ana", fresh(tok), "allowed")
	c.mustCheck(fs[1], "doc:tls", "view", "user:ana", fullyConsistent, "allowed")
	grpcOverTLS(t, c.nodes[fs[0]].GRPCAddr(), c.nodes[fs[1]].GRPCAddr(), c.admin, pool)

	// A raft peer without a certificate from the CA is refused.
	conn, err := tls.Dial("tcp", c.opts[c.leader()].RaftAddr, &tls.Config{RootCAs: pool})
	if err == nil {
		// TLS 1.3 reports a missing client certificate on the first read.
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("raft accepted a TLS client without a certificate; want mutual TLS")
	}
}
