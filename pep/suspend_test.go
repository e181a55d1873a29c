package pep

import (
	"context"
	"net/http"
	"testing"

	"github.com/trellis-authz/trellis/pep/internal/peptest"
	"github.com/trellis-authz/trellis/wire"
)

// A suspension changes no relationship, yet the cache must not keep
// serving the suspended subject's allows: the watch event of the
// suspension's revision evicts everything, and lifting it brings the
// allow back.
func TestSuspensionEvicts(t *testing.T) {
	tn := startNode(t, testSchema)
	tn.Write(t, touch("dataset:claims#reader@team:ml#member"), touch("team:ml#member@user:bob"))
	c := newClient(t, testConfig(tn.URL, tn.Reader))
	q := Question{Resource: "dataset:claims", Permission: "read", Subject: "user:bob"}
	for _, subject := range []string{"user:bob", "team:ml#member"} {
		if d := warm(t, c, q); !d.Allowed || !decide(t, c, context.Background(), q).Cached {
			t.Fatalf("%s: before the suspension: %+v, want a cached allow", subject, d)
		}
		peptest.REST(t, tn.URL, tn.Admin, http.MethodPost, "/v1/suspensions", wire.SuspendRequest{Subject: subject, Reason: "incident 42"}, nil)
		waitFor(t, "a denial after suspending "+subject, func() bool { return !decide(t, c, context.Background(), q).Allowed })
		for i := range 10 {
			if d := decide(t, c, context.Background(), q); d.Allowed {
				t.Fatalf("%s: decision %d after the first denial: %+v, want denied", subject, i, d)
			}
		}
		peptest.REST(t, tn.URL, tn.Admin, http.MethodPost, "/v1/suspensions/delete", wire.UnsuspendRequest{Subject: subject, Reason: "resolved"}, nil)
		waitFor(t, "the allow after lifting "+subject, func() bool { return decide(t, c, context.Background(), q).Allowed })
	}
}
