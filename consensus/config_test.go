package consensus

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		c := DefaultConfig()
		c.NodeID, c.DataDir, c.RaftAddr = "n1", "/tmp/x", "127.0.0.1:0"
		c.Store = StorageBackend{}
		c.Compile = compileSchema
		return c
	}
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"valid", func(*Config) {}, ""},
		{"no node id", func(c *Config) { c.NodeID = "" }, "NodeID"},
		{"no data dir", func(c *Config) { c.DataDir = "" }, "DataDir"},
		{"bad raft addr", func(c *Config) { c.RaftAddr = "localhost" }, "RaftAddr"},
		{"no store", func(c *Config) { c.Store = nil }, "Store"},
		{"no compiler", func(c *Config) { c.Compile = nil }, "Compile"},
		{"zero window", func(c *Config) { c.IdempotencyWindow = 0 }, "IdempotencyWindow"},
		{"election below heartbeat", func(c *Config) { c.ElectionTimeout = time.Millisecond * 10 }, "ElectionTimeout"},
		{"lease above heartbeat", func(c *Config) { c.LeaderLeaseTimeout = 2 * time.Second }, "LeaderLeaseTimeout"},
		{"zero threshold", func(c *Config) { c.SnapshotThreshold = 0 }, "SnapshotThreshold"},
		{"bootstrap without self", func(c *Config) {
			c.Bootstrap = true
			c.Peers = []Peer{{ID: "n2", RaftAddr: "127.0.0.1:2"}}
		}, "does not include this node"},
		{"duplicate peer", func(c *Config) {
			c.Peers = []Peer{{ID: "n1", RaftAddr: "a:1"}, {ID: "n1", RaftAddr: "a:2"}}
		}, "listed twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mutate(&c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
