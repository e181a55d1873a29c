package api

import (
	"errors"
	"github.com/trellis-authz/trellis/wire"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/trellis-authz/trellis/audit"
)

// recorderFake keeps the decisions offered to it; with err set it fails.
type recorderFake struct {
	mu  sync.Mutex
	got []audit.Decision
	err error
}

func (r *recorderFake) Record(d audit.Decision) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return false, r.err
	}
	r.got = append(r.got, d)
	return true, nil
}

// TestDecisionRecorderOffered: an answered check and every answered bulk item
// are offered to Deps.Decisions with the caller, the question, the answer
// and the token; a failing recorder does not change the answer.
func TestDecisionRecorderOffered(t *testing.T) {
	rec := &recorderFake{}
	hs := fakeServer(t, func(c *Config, d *testDeps) { d.Decisions = rec })
	r := doURL(t, hs.URL, http.MethodPost, "/v1/check", "", checkBody)
	if r.status != http.StatusOK {
		t.Fatalf("check: got %d %s, want 200", r.status, r.body)
	}
	bulk := wire.CheckBulkRequest{Items: []wire.CheckItem{{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"}, {Resource: "dataset:x", Permission: "read", Subject: "user:bo"}}}
	if r := doURL(t, hs.URL, http.MethodPost, "/v1/check/bulk", "", bulk); r.status != http.StatusOK {
		t.Fatalf("bulk: got %d %s, want 200", r.status, r.body)
	}
	if len(rec.got) != 3 {
		t.Fatalf("got %d decisions offered, want 3", len(rec.got))
	}
	d := rec.got[0]
	if d.Principal != AnonymousPrincipal || d.Resource != "dataset:claims" || d.Permission != "read" || d.Subject != "user:ana" ||
		d.Result != "allowed" || d.Token == "" || d.RequestID == "" || d.Time.IsZero() {
		t.Errorf("got decision %+v, want anonymous asking dataset:claims read user:ana, allowed, with token, request id and time", d)
	}
	if !strings.HasSuffix(rec.got[2].RequestID, "#1") || rec.got[2].Subject != "user:bo" {
		t.Errorf("got bulk item %+v, want request id <id>#1 and subject user:bo", rec.got[2])
	}

	failing := fakeServer(t, func(c *Config, d *testDeps) { d.Decisions = &recorderFake{err: errors.New("disk full")} })
	if r := doURL(t, failing.URL, http.MethodPost, "/v1/check", "", checkBody); r.status != http.StatusOK {
		t.Fatalf("check with a failing recorder: got %d %s, want 200", r.status, r.body)
	}
}
