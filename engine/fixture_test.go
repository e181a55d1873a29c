package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/validation"
)

// fixtureNow is the fixed "now" of every fixture; expirations in fixtures are
// written relative to it (2026-05-31 has passed, 2026-06-02 has not).
var fixtureNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return fixtureNow }

// fixture is a loaded policy file: its compiled schema and a reader over its
// relationships.
type fixture struct {
	name   string
	file   *validation.File
	schema *schema.Schema
	rels   []tuple.Relationship
	view   engine.View
}

func fixturePaths(t testing.TB) []string {
	paths, err := filepath.Glob("testdata/fixtures/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no fixtures in testdata/fixtures")
	}
	return paths
}

func loadFixture(t testing.TB, path string) *fixture {
	t.Helper()
	f, err := validation.ParseFile(path)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	s, errs := compile.CompileText(path, f.Schema)
	if errs.Err() != nil {
		t.Fatalf("schema (starts at line %d of %s):\n%v", f.SchemaLine, path, errs)
	}
	fx := &fixture{name: filepath.Base(path), file: f, schema: s}
	for _, r := range f.Relationships {
		if err := s.ValidateRelationship(r.Rel); err != nil {
			t.Fatalf("%s:%d: %v", path, r.Line, err)
		}
		fx.rels = append(fx.rels, r.Rel)
	}
	fx.view = engine.View{Schema: s, Reader: newFixtureReader(t, fx.rels), Revision: 1}
	return fx
}

func newTestEngine(t testing.TB, mutate func(*engine.Config)) *engine.Engine {
	t.Helper()
	cfg := engine.DefaultConfig()
	cfg.Clock = fixedClock
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var wantResult = map[validation.AssertionKind]engine.Result{
	validation.AssertTrue:     engine.Allowed,
	validation.AssertFalse:    engine.Denied,
	validation.AssertCaveated: engine.Conditional,
}

// TestFixtures runs every assertion and validation block of every fixture,
// with the cache off, with it on (each assertion twice, so the second answer
// comes from the cache), and evaluated in line (Concurrency 1).
func TestFixtures(t *testing.T) {
	configs := []struct {
		name   string
		mutate func(*engine.Config)
	}{
		{"nocache", func(c *engine.Config) { c.CacheEntries = 0 }},
		{"cache", nil},
		{"serial", func(c *engine.Config) { c.Concurrency = 1; c.CacheEntries = 0 }},
	}
	for _, path := range fixturePaths(t) {
		fx := loadFixture(t, path)
		t.Run(strings.TrimSuffix(fx.name, ".yaml"), func(t *testing.T) {
			if len(fx.file.Assertions) == 0 {
				t.Fatal("fixture has no assertions")
			}
			badger := fx.view
			mem := fx.view
			mem.Reader = newMemReader(fx.rels)
			for _, c := range configs {
				fx.view = badger
				if c.name == "serial" {
					fx.view = mem // the in-memory reader returns expired relationships too
				}
				e := newTestEngine(t, c.mutate)
				rounds := 1
				if c.name == "cache" {
					rounds = 2
				}
				for range rounds {
					for _, a := range fx.file.Assertions {
						runAssertion(t, c.name, e, fx, a)
					}
				}
				checkExpected(t, e, fx)
			}
		})
	}
}

func runAssertion(t *testing.T, cfg string, e *engine.Engine, fx *fixture, a validation.Assertion) {
	t.Helper()
	req := engine.CheckRequest{Resource: a.Resource, Permission: a.Permission, Subject: a.Subject, Context: a.Context}
	got, err := e.Check(context.Background(), fx.view, req)
	if err != nil {
		t.Errorf("%s:%d [%s] %s %s: error %v", fx.name, a.Line, cfg, a.Kind, a.Text, err)
		return
	}
	if want := wantResult[a.Kind]; got.Result != want {
		req.Explain = true
		ex, _ := e.Check(context.Background(), fx.view, req)
		trace, _ := json.MarshalIndent(ex.Trace, "", "  ")
		t.Errorf("%s:%d [%s] %s %s: got %s, want %s\ntrace: %s", fx.name, a.Line, cfg, a.Kind, a.Text, got.Result, want, trace)
	}
	if got.Result == engine.Conditional && len(got.MissingContext) == 0 {
		t.Errorf("%s:%d [%s] %s: conditional without missing context", fx.name, a.Line, cfg, a.Text)
	}
}

// checkExpected compares a fixture's validation block with LookupSubjects.
func checkExpected(t *testing.T, e *engine.Engine, fx *fixture) {
	t.Helper()
	for _, er := range fx.file.Expected {
		type kind struct{ typ, rel string }
		kinds := map[kind]bool{}
		for _, name := range fx.schema.Order {
			kinds[kind{name, ""}] = true
		}
		for _, s := range er.Subjects {
			kinds[kind{s.Subject.Type, s.Subject.Relation}] = true
		}
		var got []string
		for k := range kinds {
			res, err := e.LookupSubjects(context.Background(), fx.view, engine.LookupSubjectsRequest{
				Resource: er.Resource, Permission: er.Permission, SubjectType: k.typ, SubjectRelation: k.rel})
			if err != nil {
				t.Errorf("%s:%d: LookupSubjects: %v", fx.name, er.Line, err)
				continue
			}
			for _, s := range res.Subjects {
				got = append(got, formatLookupSubject(k.typ, k.rel, s))
			}
		}
		var want []string
		for _, s := range er.Subjects {
			s.Sources = nil
			want = append(want, s.String())
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s:%d: validation of %s#%s: got %q, want %q", fx.name, er.Line, er.Resource, er.Permission, got, want)
		}
	}
}

// formatLookupSubject writes a LookupSubjects result the way a validation
// block does, without sources.
func formatLookupSubject(typ, rel string, s engine.LookupSubject) string {
	es := validation.ExpectedSubject{
		Subject:     tuple.SubjectRef{Type: typ, ID: s.ID, Relation: rel},
		Conditional: s.Result == engine.Conditional,
	}
	for _, x := range s.Excluded {
		es.Excluded = append(es.Excluded, validation.ExcludedSubject{Subject: tuple.SubjectRef{Type: typ, ID: x}})
	}
	return es.String()
}

func describe(r engine.CheckResult) string {
	if r.Result == engine.Conditional {
		return fmt.Sprintf("%s%v", r.Result, r.MissingContext)
	}
	return r.Result.String()
}
