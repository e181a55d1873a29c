package consensus

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/storage"
	"github.com/trellis-authz/trellis/tuple"
)

// reviewApplier returns an applier over a fresh in-memory store whose clock is
// clock, and a helper applying commands at increasing indexes.
func reviewApplier(t *testing.T, clock time.Time) func(idx uint64, c Command) error {
	t.Helper()
	cfg := storage.DefaultConfig("")
	cfg.InMemory, cfg.SyncWrites, cfg.ValueLogGCInterval = true, false, 0
	cfg.Clock = func() time.Time { return clock }
	st, err := storage.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := &applier{store: FromStorage(st), counter: FromStorage(st), compile: compileSchema, window: time.Hour, log: testLogger()}
	return func(idx uint64, c Command) error {
		b, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		_, err = a.apply(idx, b)
		return err
	}
}

// Regression: the schema check ran through a snapshot that hid expired
// relationships by the local wall clock, so replicas could disagree.
func TestReviewSchemaCheckUsesWallClock(t *testing.T) {
	leaderTime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	exp := leaderTime.Add(time.Minute)
	const v1 = "use expiration\ndefinition user {}\ndefinition doc {\n relation reader: user with expiration\n}\n"
	const v2 = "definition user {}\ndefinition doc {\n relation owner: user\n}\n"
	verdict := func(clock time.Time) error {
		apply := reviewApplier(t, clock)
		if err := apply(1, &SchemaCommand{Meta: Meta{Time: leaderTime}, Text: v1}); err != nil {
			t.Fatal(err)
		}
		r := tuple.MustParse("doc:d#reader@user:ana[expiration:" + exp.Format(time.RFC3339) + "]")
		if err := apply(2, &WriteCommand{Meta: Meta{Time: leaderTime}, Updates: []tuple.Update{{Op: tuple.OpTouch, Relationship: r}}}); err != nil {
			t.Fatal(err)
		}
		return apply(3, &SchemaCommand{Meta: Meta{Time: leaderTime}, Text: v2})
	}
	onTime, late := verdict(leaderTime), verdict(leaderTime.Add(time.Hour))
	if errors.Is(onTime, ErrUnsafeSchemaChange) != errors.Is(late, ErrUnsafeSchemaChange) {
		t.Errorf("replicas disagree: on time %v, late %v", onTime, late)
	}
	// An expired but stored relationship still counts as in use.
	if !errors.Is(late, ErrUnsafeSchemaChange) {
		t.Errorf("late replica: got %v, want ErrUnsafeSchemaChange", late)
	}
}

// Regression: adding a caveat (or removing one) to an allowed subject type was
// accepted while relationships without it (or with it) were stored.
func TestReviewSchemaCheckIgnoresCaveatTrait(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const plain = "definition user {}\ndefinition doc {\n relation reader: user\n}\n"
	const caveated = "caveat on_corp(network string) { network == \"corp\" }\ndefinition user {}\ndefinition doc {\n relation reader: user with on_corp\n}\n"
	const both = "caveat on_corp(network string) { network == \"corp\" }\ndefinition user {}\ndefinition doc {\n relation reader: user | user with on_corp\n}\n"
	const newParams = "caveat on_corp(net string) { net == \"corp\" }\ndefinition user {}\ndefinition doc {\n relation reader: user with on_corp\n}\n"
	for _, c := range []struct {
		name, v1, rel, v2 string
		unsafe            bool
		names             string
	}{
		{"caveat added to used subject type", plain, "doc:d#reader@user:ana", caveated, true, "doc#reader"},
		{"caveat removed while used", caveated, `doc:d#reader@user:ana[on_corp:{"network":"corp"}]`, plain, true, "on_corp"},
		{"caveat parameter renamed while used", caveated, `doc:d#reader@user:ana[on_corp:{"network":"corp"}]`, newParams, true, "on_corp"},
		{"caveated alternative added", plain, "doc:d#reader@user:ana", both, false, ""},
		{"unused uncaveated alternative dropped", both, `doc:d#reader@user:ana[on_corp:{"network":"corp"}]`, caveated, false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			apply := reviewApplier(t, now)
			if err := apply(1, &SchemaCommand{Meta: Meta{Time: now}, Text: c.v1}); err != nil {
				t.Fatal(err)
			}
			if err := apply(2, &WriteCommand{Meta: Meta{Time: now}, Updates: []tuple.Update{{Op: tuple.OpTouch, Relationship: tuple.MustParse(c.rel)}}}); err != nil {
				t.Fatal(err)
			}
			err := apply(3, &SchemaCommand{Meta: Meta{Time: now}, Text: c.v2})
			if got := errors.Is(err, ErrUnsafeSchemaChange); got != c.unsafe {
				t.Fatalf("got %v, want unsafe=%v", err, c.unsafe)
			}
			if c.unsafe && !strings.Contains(err.Error(), c.names) {
				t.Errorf("got %v, want it to name %s", err, c.names)
			}
		})
	}
}
