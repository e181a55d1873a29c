package server

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"http addr", func(c *Config) { c.HTTPAddr = "8080" }, "--http-addr"},
		{"raft addr", func(c *Config) { c.RaftAddr = "" }, "--raft-addr"},
		{"data dir", func(c *Config) { c.DataDir = "" }, "--data-dir"},
		{"node id", func(c *Config) { c.NodeID = "" }, "--node-id"},
		{"cluster id", func(c *Config) { c.ClusterID = "" }, "--cluster-id"},
		{"auth", func(c *Config) { c.InsecureNoAuth, c.TokenFile = true, "t.yaml" }, "--insecure-no-auth and --token-file"},
		{"tls pair", func(c *Config) { c.TLSCert = "c.pem" }, "--tls-cert and --tls-key"},
		{"peer connect-to", func(c *Config) { c.PeerConnectTo = "10.0.0.2:7000" }, "--peer-connect-to"},
		{"decision sample", func(c *Config) { c.Decisions.File, c.Decisions.Sample = "d.ndjson", 2 }, "--decision-sample"},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		c.edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error naming %s", c.name, err, c.want)
		}
	}
	// Every error is reported, not only the first.
	cfg := DefaultConfig()
	cfg.DataDir, cfg.NodeID = "", ""
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--data-dir") || !strings.Contains(err.Error(), "--node-id") {
		t.Errorf("two bad fields: got %v, want both named", err)
	}
}
