package server_test

import (
	"context"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/consensus"
	"github.com/trellis-authz/trellis/test/testnode"
)

// With an audit rule, the leader puts its audit root in the replicated
// state as the log grows and the node compares its own: while they agree
// nothing is delivered. A root for the same size that differs from the
// node's own (what a diverged or tampered node sees) is delivered once,
// signed, naming both roots.
func TestAlertAuditRootDisagreement(t *testing.T) {
	h, hs := newHook(t)
	cfg := alertConfig(t)
	cfg.AlertAuditEvery = 20 * time.Millisecond
	n := testnode.Open(t, cfg)
	putAlertRules(t, n, `{"name":"audit-watch","audit":true,`+hookJSON(hs.URL)+`}`)
	grantBreakGlass(t, n, "eve") // one more audit entry than the schema's

	size := n.AuditLog().Size()
	deadline := time.Now().Add(20 * time.Second) // a deadline for a hang, not a performance bound
	for {
		latest, ok, err := consensus.LatestAuditRoot(n.Store())
		if err != nil {
			t.Fatal(err)
		}
		if ok && latest.Size >= size {
			own, err := n.AuditLog().RootAt(latest.Size)
			if err != nil || hex.EncodeToString(own) != latest.Root {
				t.Fatalf("the leader proposed root %s at size %d; the log's own is %x (%v)", latest.Root, latest.Size, own, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit root proposed for size %d (latest %+v, %v)", size, latest, ok)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if d := len(h.delivered()); d != 0 {
		t.Fatalf("%d deliveries while the roots agree", d)
	}

	// A root for the same size that is not this node's.
	forged := strings.Repeat("ab", 32)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.Consensus().Write(ctx, &consensus.AuditRootCommand{Node: "n-other", Size: size, Root: forged}); err != nil {
		t.Fatal(err)
	}
	p := payloadOf(t, wait(t, h))
	own, _ := n.AuditLog().RootAt(size)
	if p.Rule != "audit-watch" || p.Event.Kind != alerts.KindAudit || p.Event.Audit == nil ||
		p.Event.Audit.Size != size || p.Event.Audit.LeaderRoot != forged || p.Event.Audit.Root != hex.EncodeToString(own) ||
		p.Event.Principal != "node:n-other" || p.Event.Token == "" {
		t.Errorf("payload %+v (audit %+v)", p, p.Event.Audit)
	}
	time.Sleep(200 * time.Millisecond) // several polls: the same disagreement is told once
	if d := h.delivered(); len(d) != 1 {
		t.Errorf("%d deliveries of one disagreement, want 1", len(d))
	}
}

func TestAlertAuditRuleBadInput(t *testing.T) {
	n := alertNode(t)
	for _, body := range []string{
		`{"rules":[{"name":"a","audit":true,"schema":true,"webhook":{"url":"http://127.0.0.1:1/x","secret":"k"}}],"skip_webhook_check":true}`,
		`{"rules":[{"name":"a","audit":true,"action":"suspend","webhook":{"url":"http://127.0.0.1:1/x","secret":"k"}}],"skip_webhook_check":true}`,
	} {
		if code, out := call(t, n, http.MethodPut, "/v1/alerts", body); code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d %s, want 400", body, code, out)
		}
	}
}
