package spicedb_test

import (
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// diffSchema has nesting (group#member in groups, folder parents), an
// exclusion and an intersection, arrows, a caveat, a wildcard and expiring
// relationships.
const diffSchema = `use expiration

caveat in_region(region string, allowed list<string>) {
  region in allowed
}

definition user {}

definition group {
  relation member: user | user with expiration | group#member
}

definition folder {
  relation parent: folder
  relation viewer: user | group#member | user with in_region
  permission view = viewer + parent->view
}

definition doc {
  relation folder: folder
  relation owner: user
  relation editor: user | group#member
  relation viewer: user | user:* | group#member | user with in_region | user with expiration
  relation banned: user | group#member
  permission view = (viewer + owner + folder->view) - banned
  permission edit = editor & view
}
`

// diffSeed makes TestTransportsAgree's requests; a failure names it, and
// the same seed asks the same questions again. SPICEDB_DIFF_SEED replaces
// it for a run (to try other graphs).
var diffSeed = uint64(20260117)

func init() {
	if s := os.Getenv("SPICEDB_DIFF_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			panic("SPICEDB_DIFF_SEED=" + s + " is not a non-negative integer")
		}
		diffSeed = n
	}
}

// graphGen draws relationships, questions and contexts for diffSchema.
type graphGen struct {
	r    *rand.Rand
	soon string // an expiration a few hours ahead (answers carry it)
}

func (g *graphGen) pick(s ...string) string { return s[g.r.IntN(len(s))] }
func (g *graphGen) user() string            { return fmt.Sprintf("user:u%d", g.r.IntN(8)) }
func (g *graphGen) group() string           { return fmt.Sprintf("group:g%d", g.r.IntN(5)) }
func (g *graphGen) folder() string          { return fmt.Sprintf("folder:f%d", g.r.IntN(5)) }
func (g *graphGen) doc() string             { return fmt.Sprintf("doc:d%d", g.r.IntN(8)) }

func (g *graphGen) expiration() string {
	return "[expiration:" + g.pick("2099-01-01T00:00:00Z", "2020-01-01T00:00:00Z", g.soon) + "]"
}

func (g *graphGen) regionCaveat() string {
	return g.pick(`[in_region]`, `[in_region:{"allowed":["eu"]}]`, `[in_region:{"allowed":["eu","us"]}]`, `[in_region:{"allowed":["us"],"region":"us"}]`)
}

// rel draws a relationship the schema allows. Nesting goes from a group or
// folder to a lower-numbered one, so the graph has no cycles.
func (g *graphGen) rel() string {
	switch g.r.IntN(10) {
	case 0:
		return g.group() + "#member@" + g.user()
	case 1:
		return g.group() + "#member@" + g.user() + g.expiration()
	case 2:
		a, b := g.r.IntN(5), g.r.IntN(5)
		if a == b {
			return g.group() + "#member@" + g.user()
		}
		return fmt.Sprintf("group:g%d#member@group:g%d#member", max(a, b), min(a, b))
	case 3:
		a, b := g.r.IntN(5), g.r.IntN(5)
		if a == b {
			return g.folder() + "#viewer@" + g.user()
		}
		return fmt.Sprintf("folder:f%d#parent@folder:f%d", max(a, b), min(a, b))
	case 4:
		return g.folder() + "#viewer@" + g.pick(g.user(), g.group()+"#member", g.user()+g.regionCaveat())
	case 5:
		return g.doc() + "#folder@" + g.folder()
	case 6:
		return g.doc() + "#" + g.pick("owner", "editor", "editor") + "@" + g.user()
	case 7:
		return g.doc() + "#" + g.pick("editor", "banned") + "@" + g.pick(g.group()+"#member", g.user())
	case 8:
		return g.doc() + "#viewer@" + g.user() + g.regionCaveat()
	}
	return g.doc() + "#viewer@" + g.pick(g.user(), "user:*", g.group()+"#member", g.user()+g.regionCaveat(), g.user()+g.expiration())
}

func (g *graphGen) context() map[string]any {
	switch g.r.IntN(7) {
	case 0:
		return map[string]any{"region": "eu"}
	case 1:
		return map[string]any{"region": "us"}
	case 2:
		return map[string]any{"allowed": []any{"eu"}}
	case 3:
		return map[string]any{"region": "ap", "allowed": []any{"ap"}}
	}
	return nil
}

func (g *graphGen) resourcePermission() (string, string) {
	switch g.r.IntN(4) {
	case 0:
		return g.group(), "member"
	case 1:
		return g.folder(), "view"
	}
	return g.doc(), g.pick("view", "view", "edit")
}

// checkNear draws a check: half of them about a stored relationship's
// resource and subject (so that caveats and exclusions decide some), the
// others anywhere.
func (g *graphGen) checkNear(model map[string]string) checkQ {
	res, perm := g.resourcePermission()
	q := checkQ{res, perm, g.subject(), g.context()}
	if g.r.IntN(2) == 0 {
		r := tuple.MustParse(model[sortedKeys(model)[g.r.IntN(len(model))]])
		q.resource, q.permission = r.Resource.String(), map[string]string{"group": "member", "folder": "view", "doc": g.pick("view", "edit")}[r.Resource.Type]
		if !r.Subject.IsWildcard() {
			q.subject = r.Subject.String()
		}
		if r.Caveat != nil && g.r.IntN(2) == 0 {
			q.context = nil
		}
	}
	return q
}

func isConditional(line string) bool { return strings.Contains(line, " conditional ") }

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

func (g *graphGen) subject() string {
	if g.r.IntN(5) == 0 {
		return g.group() + "#member"
	}
	return g.user()
}

// filter draws a read filter: a resource type, and maybe an id or prefix,
// a relation and a subject filter.
func (g *graphGen) filter() tuple.Filter {
	relations := map[string][]string{"group": {"member"}, "folder": {"parent", "viewer"},
		"doc": {"folder", "owner", "editor", "viewer", "banned"}}
	typ := g.pick("group", "folder", "doc", "doc")
	f := tuple.Filter{ResourceType: typ}
	switch g.r.IntN(3) {
	case 0:
		f.ResourceID = map[string]string{"group": "g", "folder": "f", "doc": "d"}[typ] + fmt.Sprint(g.r.IntN(8))
	case 1:
		f.ResourceIDPrefix = typ[:1]
	}
	if g.r.IntN(2) == 0 {
		f.Relation = g.pick(relations[typ]...)
	}
	switch g.r.IntN(4) {
	case 0:
		f.Subject = &tuple.SubjectFilter{Type: "user"}
		if g.r.IntN(2) == 0 {
			f.Subject.ID = strings.TrimPrefix(g.user(), "user:")
		}
	case 1:
		rel := g.pick("member", "")
		f.Subject = &tuple.SubjectFilter{Type: "group", Relation: &rel}
	}
	return f
}

// agree asks every transport through ask and fails the test unless all
// answer the same thing without error; it returns the first answer.
func agree[A any](t *testing.T, ts []transport, what string, ask func(transport) (A, error)) A {
	t.Helper()
	answers := make([]string, len(ts))
	var first A
	for i, tr := range ts {
		a, err := ask(tr)
		if err != nil {
			t.Errorf("%s: %s failed: %v", what, tr.name(), err)
			return first
		}
		if i == 0 {
			first = a
		}
		answers[i] = fmt.Sprint(a)
	}
	for i := 1; i < len(ts); i++ {
		if answers[i] != answers[0] {
			var b strings.Builder
			for j, tr := range ts {
				fmt.Fprintf(&b, "\n  %-7s %s", tr.name(), answers[j])
			}
			t.Errorf("%s: the transports disagree (seed %d):%s", what, diffSeed, b.String())
			break
		}
	}
	return first
}

// wantAudit is the audit entry a write must leave.
type wantAudit struct {
	principal, reason, change string
}

// TestTransportsAgree asks a few hundred random questions (checks, both
// lookups, reads) of a random graph over REST, gRPC and the HTTP gateway at
// the same ZedToken and requires identical answers; and writes through each
// transport in turn, requiring each written_at token to work on the other
// two and the audit log to record the same principal, change and reason
// whichever transport wrote.
func TestTransportsAgree(t *testing.T) {
	t.Logf("seed %d (set SPICEDB_DIFF_SEED=%d to repeat this run)", diffSeed, diffSeed)
	tn := startNode(t, diffSchema)
	rest := restTransport{t, tn}
	ts := []transport{rest, newGRPCTransport(t, tn), gatewayTransport{t, tn}}
	g := &graphGen{r: rand.New(rand.NewPCG(diffSeed, 1)), soon: time.Now().UTC().Add(3 * time.Hour).Truncate(time.Second).Format(time.RFC3339)}
	principals := map[string]string{tn.admin: "admin-1", tn.writer: "writer-1"}

	// The random graph, written with REST. model holds what is stored, by
	// key, in canonical form.
	model := map[string]string{}
	var updates []wire.Update
	for len(model) < 80 {
		r := tuple.MustParse(g.rel())
		if _, dup := model[r.Key()]; !dup {
			model[r.Key()] = r.String()
			updates = append(updates, wire.Update{Op: "touch", Relationship: r.String()})
		}
	}
	// Anchors, outside the random ids, so that every seed meets a
	// conditional check, an expiring grant and a wildcard with exclusions.
	for _, s := range []string{"doc:dc#viewer@user:cy[in_region]", "doc:dc#viewer@user:ex[expiration:" + g.soon + "]",
		"doc:dw#viewer@user:*", "doc:dw#banned@user:u0", "doc:dw#folder@folder:f0"} {
		updates = append(updates, wire.Update{Op: "touch", Relationship: s})
	}
	tok, err := rest.write(tn.writer, updates, "initial random graph")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q    checkQ
		want string
	}{
		{checkQ{"doc:dc", "view", "user:cy", nil}, "conditional missing=[allowed region] expires=\"\""},
		{checkQ{"doc:dc", "view", "user:cy", map[string]any{"region": "eu", "allowed": []any{"eu"}}}, "allowed missing=[] expires=\"\""},
		{checkQ{"doc:dc", "view", "user:ex", nil}, "allowed missing=[] expires=\"" + g.soon + "\""},
		{checkQ{"doc:dw", "view", "user:u0", nil}, "denied missing=[] expires=\"\""},
	} {
		if got := agree(t, ts, c.q.String(), func(tr transport) (checkA, error) { return tr.check(c.q, tok) }); got.String() != c.want {
			t.Errorf("%v: %v, want %s", c.q, got, c.want)
		}
	}
	q := lookupSubQ{"doc:dw", "view", "user", "", nil}
	if got := agree(t, ts, fmt.Sprint(q), func(tr transport) ([]string, error) { return tr.lookupSubjects(q, tok) }); !slices.Contains(got, "* allowed missing=[] excluded=[u0]") {
		t.Errorf("%+v: %v, want the wildcard excluding u0", q, got)
	}
	want := []wantAudit{{"writer-1", "initial random graph", ""}}
	tokens := []string{tok}

	results := map[string]int{}
	const questions = 360
	for i := range questions {
		if i%12 == 11 {
			tok = diffWrite(t, g, ts, i/12, model, principals, &want)
			tokens = append(tokens, tok)
		}
		at := tokens[len(tokens)-1]
		if g.r.IntN(5) == 0 { // an older revision, read exactly
			at = tokens[g.r.IntN(len(tokens))]
		}
		switch n := g.r.IntN(10); {
		case n < 4:
			q := g.checkNear(model)
			a := agree(t, ts, fmt.Sprintf("#%d %v", i, q), func(tr transport) (checkA, error) { return tr.check(q, at) })
			results["check "+a.result]++
		case n < 6:
			typ, perm := g.pick("doc", "doc", "folder", "group"), "view"
			if typ == "group" {
				perm = "member"
			} else if typ == "doc" && g.r.IntN(3) == 0 {
				perm = "edit"
			}
			q := lookupResQ{typ, perm, g.subject(), g.context()}
			a := agree(t, ts, fmt.Sprintf("#%d lookup resources %+v", i, q), func(tr transport) ([]string, error) { return tr.lookupResources(q, at) })
			results[fmt.Sprintf("lookup resources non-empty=%v", len(a) > 0)]++
			results[fmt.Sprintf("lookup conditional=%v", slices.ContainsFunc(a, isConditional))]++
		case n < 8:
			res, perm := g.resourcePermission()
			q := lookupSubQ{res, perm, "user", "", g.context()}
			if g.r.IntN(4) == 0 {
				q.subjectType, q.subjectRelation = "group", "member"
			}
			a := agree(t, ts, fmt.Sprintf("#%d lookup subjects %+v", i, q), func(tr transport) ([]string, error) { return tr.lookupSubjects(q, at) })
			results[fmt.Sprintf("lookup subjects non-empty=%v", len(a) > 0)]++
			results[fmt.Sprintf("lookup conditional=%v", slices.ContainsFunc(a, isConditional))]++
		default:
			f := g.filter()
			a := agree(t, ts, fmt.Sprintf("#%d read %s", i, f), func(tr transport) ([]string, error) { return tr.read(f, at) })
			results[fmt.Sprintf("read non-empty=%v", len(a) > 0)]++
		}
		if t.Failed() {
			t.Fatalf("stopping at question %d; rerun with seed %d", i, diffSeed)
		}
	}
	t.Logf("answers: %v", results)
	// The questions must have reached every kind of answer, or they test
	// little (a conditional check is rarer and the anchors assert one).
	for _, k := range []string{"check allowed", "check denied", "lookup resources non-empty=true",
		"lookup subjects non-empty=true", "lookup conditional=true", "read non-empty=true", "read non-empty=false"} {
		if results[k] == 0 {
			t.Errorf("no question got %q; change the seed or the graph", k)
		}
	}
	checkAudit(t, tn, want)
}

// diffWrite makes write number w through transport w%3, as the admin or the
// writer in turn, with a reason naming it: a touch of a random relationship
// or a delete of a stored one. It then requires the written_at token to
// show the change on every transport, and records the audit entry the
// write must leave. It returns the token.
func diffWrite(t *testing.T, g *graphGen, ts []transport, w int, model map[string]string, principals map[string]string, want *[]wantAudit) string {
	t.Helper()
	tr := ts[w%len(ts)]
	bearers := sortedKeys(principals)
	bearer := bearers[(w/len(ts))%len(bearers)]
	reason := fmt.Sprintf("random write %d via %s", w, tr.name())

	var u wire.Update
	var change string
	keys := sortedKeys(model)
	if g.r.IntN(5) < 2 && len(keys) > 0 {
		k := keys[g.r.IntN(len(keys))]
		u, change = wire.Update{Op: "delete", Relationship: k}, "delete "+model[k]
		delete(model, k)
	} else {
		r := tuple.MustParse(g.rel())
		op := "touch"
		if _, exists := model[r.Key()]; !exists && g.r.IntN(2) == 0 {
			op = "create"
		}
		u, change = wire.Update{Op: op, Relationship: r.String()}, "touch "+r.String()
		model[r.Key()] = r.String()
	}
	tok, err := tr.write(bearer, []wire.Update{u}, reason)
	if err != nil {
		t.Fatalf("write %d (%s %s) via %s: %v", w, u.Op, u.Relationship, tr.name(), err)
	}
	*want = append(*want, wantAudit{principals[bearer], reason, change})

	// The token, from one transport, reads the change on all three.
	r := tuple.MustParse(u.Relationship)
	rel := r.Subject.Relation
	f := tuple.Filter{ResourceType: r.Resource.Type, ResourceID: r.Resource.ID, Relation: r.Relation,
		Subject: &tuple.SubjectFilter{Type: r.Subject.Type, ID: r.Subject.ID, Relation: &rel}}
	got := agree(t, ts, fmt.Sprintf("write %d via %s: read %s at its token", w, tr.name(), f), func(x transport) ([]string, error) { return x.read(f, tok) })
	visible := u.Op != "delete" && (r.Expiration == nil || r.Expiration.After(time.Now()))
	if wantRead := []string{}; visible {
		if wantRead = []string{r.String()}; !slices.Equal(got, wantRead) {
			t.Errorf("write %d via %s: read at its token: %v, want %v", w, tr.name(), got, wantRead)
		}
	} else if len(got) != 0 {
		t.Errorf("write %d via %s (%s %s): read at its token: %v, want nothing", w, tr.name(), u.Op, u.Relationship, got)
	}
	return tok
}

// checkAudit requires the audit log's write entries to be want, in order:
// principal, reason, one change with the expected digest (want[0], the
// initial graph, is checked for principal and reason only).
func checkAudit(t *testing.T, tn *testNode, want []wantAudit) {
	t.Helper()
	var writes []wire.AuditEntry
	for _, e := range tn.auditEntries(t) {
		if e.Kind == "write" {
			writes = append(writes, e)
		}
	}
	if len(writes) != len(want) {
		t.Fatalf("got %d write entries in the audit log, want %d (one per write)", len(writes), len(want))
	}
	for i, w := range want {
		e := writes[i]
		if e.Principal != w.principal || e.Reason != w.reason {
			t.Errorf("audit entry %d: principal %q reason %q, want %q and %q", e.Seq, e.Principal, e.Reason, w.principal, w.reason)
		}
		if w.change == "" {
			continue
		}
		digest := hex.EncodeToString(audit.DigestChanges([]string{w.change}))
		if e.ChangeCount != 1 || e.ChangeDigest != digest {
			t.Errorf("audit entry %d (%s): %d changes with digest %s, want 1 change %q (digest %s)", e.Seq, w.reason, e.ChangeCount, e.ChangeDigest, w.change, digest)
		}
	}
}
