package consensus

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestDialHook: with Config.Dial set, every raft connection a node opens
// goes through it, over plain TCP and under TLS alike.
func TestDialHook(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		name := "tcp"
		if withTLS {
			name = "tls"
		}
		t.Run(name, func(t *testing.T) {
			var dials atomic.Int64
			dial := func(addr string, timeout time.Duration) (net.Conn, error) {
				dials.Add(1)
				return net.DialTimeout("tcp", addr, timeout)
			}
			tlsCfg := selfSignedTLS(t)
			c := startCluster(t, 2, func(cfg *Config) {
				cfg.Dial = dial
				if withTLS {
					cfg.TLS = tlsCfg
				}
			})
			c.write(&SchemaCommand{Text: testSchema})
			res := c.write(touch("dataset:dial#reader@user:d"))
			for _, tn := range c.nodes {
				if err := tn.node.WaitApplied(ctxT(t, 10*time.Second), res.Revision); err != nil {
					t.Fatalf("%s: %v", tn.id, err)
				}
			}
			if dials.Load() == 0 {
				t.Fatal("the nodes replicated without calling Config.Dial")
			}
		})
	}
}
