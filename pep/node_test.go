package pep

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-authz/trellis/pep/internal/peptest"
)

// testSchema has a caveat, a subject set, an exclusion and an arrow, so that
// reachability crosses types.
const testSchema = `
caveat purpose_is(purpose string) {
  purpose == "fraud"
}

definition user {}

definition team {
  relation member: user | team#member
}

definition dataset {
  relation reader: user | team#member | user with purpose_is
  relation blocked: user
  permission read = reader - blocked
}

definition folder {
  relation viewer: user | team#member
}

definition doc {
  relation parent: folder
  relation owner: user
  permission view = owner + parent->viewer
}
`

// The node and proxies of the tests are package peptest's.
var (
	startNode = peptest.Start
	touch     = peptest.Touch
	del       = peptest.Delete
	waitFor   = peptest.WaitFor
)

// testConfig is a config for url with short intervals, its own registry and
// a quiet log.
func testConfig(url, token string) Config {
	cfg := DefaultConfig(url, token)
	cfg.Timeout = 2 * time.Second
	// Longer than any wait of a test: an eviction must come from the watch
	// or the schema poll, never from the entry aging out.
	cfg.MaxStaleness = time.Minute
	cfg.RetryMin, cfg.RetryMax = 10*time.Millisecond, 100*time.Millisecond
	cfg.Registerer = prometheus.NewRegistry()
	cfg.Log = peptest.QuietLog()
	return cfg
}

func newClient(t testing.TB, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
