package workload

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/tuple"
)

type buffers struct{ schema, rels, queries, writes bytes.Buffer }

func (b *buffers) outputs() Outputs {
	return Outputs{Schema: &b.schema, Relationships: &b.rels, Queries: &b.queries, Writes: &b.writes}
}

func tiny(t *testing.T) Config {
	t.Helper()
	c, err := Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func generate(t *testing.T, cfg Config) (*buffers, Summary) {
	t.Helper()
	var b buffers
	s, err := Generate(context.Background(), cfg, b.outputs())
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return &b, s
}

func lines(b *bytes.Buffer) []string {
	s := strings.TrimSuffix(b.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestDeterministic(t *testing.T) {
	for _, format := range []string{FormatNDJSON, FormatText} {
		cfg := tiny(t)
		cfg.Format = format
		cfg.Cyclic = true
		a, sa := generate(t, cfg)
		b, sb := generate(t, cfg)
		for name, pair := range map[string][2]*bytes.Buffer{
			"schema": {&a.schema, &b.schema}, "relationships": {&a.rels, &b.rels},
			"queries": {&a.queries, &b.queries}, "writes": {&a.writes, &b.writes},
		} {
			if !bytes.Equal(pair[0].Bytes(), pair[1].Bytes()) {
				t.Errorf("%s/%s: two runs with the same config differ (%d vs %d bytes)", format, name, pair[0].Len(), pair[1].Len())
			}
		}
		ja, _ := json.Marshal(sa)
		jb, _ := json.Marshal(sb)
		if !bytes.Equal(ja, jb) {
			t.Errorf("%s: summaries differ:\n%s\n%s", format, ja, jb)
		}
		cfg.Seed++
		c, _ := generate(t, cfg)
		if bytes.Equal(a.rels.Bytes(), c.rels.Bytes()) {
			t.Errorf("%s: seeds %d and %d gave the same relationships; want different", format, cfg.Seed-1, cfg.Seed)
		}
	}
}

func TestGenerateDirDeterministic(t *testing.T) {
	cfg := tiny(t)
	d1, d2 := t.TempDir(), t.TempDir()
	for _, d := range []string{d1, d2} {
		if _, err := GenerateDir(context.Background(), cfg, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{SchemaFile, NDJSONFile, QueriesFile, WritesFile, SummaryFile} {
		a, err := os.ReadFile(filepath.Join(d1, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(d2, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s: got %d and %d bytes, want identical non-empty files", name, len(a), len(b))
		}
	}
}

// parseRelationships parses every line of the relationship output.
func parseRelationships(t *testing.T, b *bytes.Buffer, format string) []tuple.Relationship {
	t.Helper()
	var out []tuple.Relationship
	for i, line := range lines(b) {
		s := line
		if format == FormatNDJSON {
			var l struct {
				Relationship string `json:"relationship"`
			}
			dec := json.NewDecoder(strings.NewReader(line))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&l); err != nil {
				t.Fatalf("line %d %q: not an import line: %v", i+1, line, err)
			}
			s = l.Relationship
		}
		r, err := tuple.Parse(s)
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if r.String() != s {
			t.Errorf("line %d: got %q, want canonical form %q", i+1, s, r.String())
		}
		out = append(out, r)
	}
	return out
}

func TestSizesAndParse(t *testing.T) {
	for _, format := range []string{FormatNDJSON, FormatText} {
		cfg := tiny(t)
		cfg.Format = format
		b, s := generate(t, cfg)
		rels := parseRelationships(t, &b.rels, format)
		if int64(len(rels)) != s.Relationships {
			t.Errorf("%s: got %d relationship lines, want summary's %d", format, len(rels), s.Relationships)
		}
		objects := map[string]map[string]bool{}
		note := func(typ, id string) {
			if objects[typ] == nil {
				objects[typ] = map[string]bool{}
			}
			objects[typ][id] = true
		}
		for _, r := range rels {
			note(r.Resource.Type, r.Resource.ID)
			note(r.Subject.Type, r.Subject.ID)
		}
		o := int64(cfg.Orgs)
		for typ, want := range map[string]int64{
			"organization": o,
			"project":      o * int64(cfg.ProjectsPerOrg),
			"dataset":      o * int64(cfg.ProjectsPerOrg*cfg.DatasetsPerProject),
			"field":        o * int64(cfg.ProjectsPerOrg*cfg.DatasetsPerProject*cfg.FieldsPerDataset),
			"model":        o * int64(cfg.ProjectsPerOrg*cfg.ModelsPerProject),
			"deployment":   o * int64(cfg.ProjectsPerOrg*cfg.ModelsPerProject),
			"team":         o * int64(cfg.TeamsPerOrg),
		} {
			if got := int64(len(objects[typ])); got != want {
				t.Errorf("%s: got %d distinct %s objects in the relationships, want %d", format, got, typ, want)
			}
			if s.Objects[typ] != want {
				t.Errorf("%s: summary says %d %s objects, want %d", format, s.Objects[typ], typ, want)
			}
		}
		// Guests appear in no relationship, so users seen <= users configured.
		if got, max := int64(len(objects["user"])), o*int64(cfg.UsersPerOrg); got > max || got < max/2 {
			t.Errorf("%s: got %d distinct users, want between %d and %d", format, got, max/2, max)
		}
		if got := len(lines(&b.writes)); got != cfg.Writes {
			t.Errorf("%s: got %d write-pool lines, want %d", format, got, cfg.Writes)
		}
		for i, w := range lines(&b.writes) {
			if _, err := tuple.Parse(w); err != nil {
				t.Errorf("writes line %d: %v", i+1, err)
			}
		}
		qs := readQueries(t, &b.queries)
		perClass := map[string]int{}
		for _, q := range qs {
			perClass[q.Class]++
		}
		for _, c := range Classes {
			if perClass[c] != cfg.QueriesPerClass {
				t.Errorf("%s: class %s: got %d queries, want %d", format, c, perClass[c], cfg.QueriesPerClass)
			}
		}
	}
}

func TestDefaultPresetSize(t *testing.T) {
	if testing.Short() {
		t.Skip("generates the 100k-relationship default preset")
	}
	cfg := DefaultConfig()
	cfg.QueriesPerClass = 10 // the size under test is the relationships
	_, s := generate(t, cfg)
	if s.Relationships < 80_000 || s.Relationships > 130_000 {
		t.Errorf("default preset: got %d relationships, want about 100,000", s.Relationships)
	}
}

func readQueries(t *testing.T, b *bytes.Buffer) []Query {
	t.Helper()
	var qs []Query
	sc := bufio.NewScanner(bytes.NewReader(b.Bytes()))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var q Query
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			t.Fatalf("query line %q: %v", sc.Text(), err)
		}
		qs = append(qs, q)
	}
	return qs
}

func TestSchemaCompiles(t *testing.T) {
	s, errs := compile.CompileText(SchemaFile, SchemaText)
	if err := errs.Err(); err != nil {
		t.Fatalf("schema does not compile:\n%v", err)
	}
	for _, e := range errs {
		t.Logf("warning: %v", e)
	}
	if s == nil {
		t.Fatal("CompileText returned no schema and no error")
	}
}

// loadGraph rebuilds the evaluator's graph from the written relationships, so
// that re-evaluating the queries checks that what was written is what was
// evaluated.
func loadGraph(cfg Config, rels []tuple.Relationship) *graph {
	g := newGraph(cfg.ReferenceTime)
	for _, r := range rels {
		e := edge{subj: r.Subject.Type + ":" + r.Subject.ID, subjRel: r.Subject.Relation}
		if r.Caveat != nil {
			e.caveat = true
			for _, a := range r.Caveat.Context["allowed"].([]any) {
				e.allowed = append(e.allowed, a.(string))
			}
		}
		if r.Expiration != nil {
			e.exp = *r.Expiration
		}
		g.add(r.Resource.String(), r.Relation, e)
	}
	return g
}

func TestExpectedAnswersConsistent(t *testing.T) {
	for _, cyclic := range []bool{false, true} {
		t.Run(fmt.Sprintf("cyclic=%v", cyclic), func(t *testing.T) {
			cfg := tiny(t)
			cfg.Cyclic = cyclic
			b, s := generate(t, cfg)
			rels := parseRelationships(t, &b.rels, cfg.Format)
			g := loadGraph(cfg, rels)
			direct := func(res, rel, subj string) bool {
				for _, e := range g.out[res][rel] {
					if e.subj == subj && e.subjRel == "" {
						return true
					}
				}
				return false
			}
			mentioned := map[string]bool{}
			for _, r := range rels {
				mentioned[r.Subject.Type+":"+r.Subject.ID] = true
			}
			counts := map[string]*ClassSummary{}
			for _, q := range readQueries(t, &b.queries) {
				cs := counts[q.Class]
				if cs == nil {
					cs = &ClassSummary{}
					counts[q.Class] = cs
				}
				cs.Count++
				if q.Expect == "allowed" {
					cs.Allowed++
				}
				// The written data gives the same answer.
				if q.IsLookup() {
					var got []LookupItem
					for _, ds := range sortedDatasets(g) {
						if v := g.check(ds, q.Permission, q.Subject, q.Context); v != triDenied {
							got = append(got, LookupItem{ID: strings.TrimPrefix(ds, "dataset:"), Result: v.String()})
						}
					}
					if fmt.Sprint(got) != fmt.Sprint(q.ExpectResources) {
						t.Errorf("lookup %s for %s: reloaded data gives %v, want %v", q.ResourceType, q.Subject, got, q.ExpectResources)
					}
					for _, it := range q.ExpectResources {
						if direct("dataset:"+it.ID, "blocked", q.Subject) {
							t.Errorf("lookup for %s lists dataset %s, where the subject is blocked", q.Subject, it.ID)
						}
					}
				} else if got := g.check(q.Resource, q.Permission, q.Subject, q.Context).String(); got != q.Expect {
					t.Errorf("%s#%s@%s: reloaded data gives %s, want %s", q.Resource, q.Permission, q.Subject, got, q.Expect)
				}
				// Invariants that hold whatever the evaluator does.
				if q.Class == ClassDatasetRead && direct(q.Resource, "blocked", q.Subject) && q.Expect != "denied" {
					t.Errorf("%s#read@%s: subject is blocked; got expect %s, want denied", q.Resource, q.Subject, q.Expect)
				}
				if q.Class == ClassModelRun && direct(q.Resource, "restricted", q.Subject) && q.Expect != "denied" {
					t.Errorf("%s#run@%s: subject is restricted; got expect %s, want denied", q.Resource, q.Subject, q.Expect)
				}
				if q.Expect == "conditional" {
					if _, ok := q.Context["purpose"]; ok {
						t.Errorf("%s#%s@%s: expected conditional although the purpose is given", q.Resource, q.Permission, q.Subject)
					}
				}
				if !mentioned[q.Subject] && q.Expect != "denied" {
					t.Errorf("%s#%s@%s: the subject is in no relationship; got expect %s, want denied", q.Resource, q.Permission, q.Subject, q.Expect)
				}
			}
			for _, c := range Classes {
				cs := counts[c]
				if cs == nil || cs.Count == 0 {
					t.Fatalf("class %s: no queries", c)
				}
				if cs.Allowed != s.Queries[c].Allowed {
					t.Errorf("class %s: got %d allowed in the file, summary says %d", c, cs.Allowed, s.Queries[c].Allowed)
				}
				share := float64(cs.Allowed) / float64(cs.Count)
				if share < cfg.AllowedShare-0.05 || share > cfg.AllowedShare+0.05 {
					t.Errorf("class %s: got allowed share %.2f, want %.2f ± 0.05", c, share, cfg.AllowedShare)
				}
			}
		})
	}
}

func sortedDatasets(g *graph) []string {
	var out []string
	for res := range g.out {
		if isType(res, "dataset") {
			out = append(out, res)
		}
	}
	sortStrings(out)
	return out
}

// teamCycles counts the team nodes that lie on a cycle of team#member edges.
func teamCycles(rels []tuple.Relationship) int {
	next := map[string][]string{}
	for _, r := range rels {
		if r.Resource.Type == "team" && r.Relation == "member" && r.Subject.Relation == "member" {
			next[r.Resource.ID] = append(next[r.Resource.ID], r.Subject.ID)
		}
	}
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	cycles := 0
	var visit func(n string)
	visit = func(n string) {
		color[n] = grey
		for _, m := range next[n] {
			switch color[m] {
			case grey:
				cycles++
			case white:
				visit(m)
			}
		}
		color[n] = black
	}
	var nodes []string
	for n := range next {
		nodes = append(nodes, n)
	}
	sortStrings(nodes)
	for _, n := range nodes {
		if color[n] == white {
			visit(n)
		}
	}
	return cycles
}

func TestTeamCycles(t *testing.T) {
	for _, tc := range []struct {
		cyclic bool
		want   bool
	}{{false, false}, {true, true}} {
		cfg := tiny(t)
		cfg.Cyclic = tc.cyclic
		b, s := generate(t, cfg)
		n := teamCycles(parseRelationships(t, &b.rels, cfg.Format))
		if (n > 0) != tc.want {
			t.Errorf("cyclic=%v: got %d back edges in the team graph, want cycles=%v", tc.cyclic, n, tc.want)
		}
		if (s.TeamCycleEdges > 0) != tc.want {
			t.Errorf("cyclic=%v: summary TeamCycleEdges=%d, want cycles=%v", tc.cyclic, s.TeamCycleEdges, tc.want)
		}
		if s.MaxTeamDepth != cfg.TeamDepth {
			t.Errorf("cyclic=%v: got max team depth %d, want %d", tc.cyclic, s.MaxTeamDepth, cfg.TeamDepth)
		}
	}
}

func TestExpirationsBothSides(t *testing.T) {
	cfg := tiny(t)
	b, s := generate(t, cfg)
	var past, future int
	for _, r := range parseRelationships(t, &b.rels, cfg.Format) {
		if r.Expiration == nil {
			continue
		}
		switch {
		case r.Expiration.Before(cfg.ReferenceTime):
			past++
		case !r.Expiration.Before(s.AnswersValidUntil):
			future++
		default:
			t.Errorf("%s expires inside the validity window [%s, %s)", r, s.AnswersValidFrom, s.AnswersValidUntil)
		}
	}
	if past == 0 || future == 0 {
		t.Errorf("got %d past and %d future expirations, want some of each", past, future)
	}
	if int64(past) != s.ExpiredGrants || int64(future) != s.FutureGrants {
		t.Errorf("got %d past/%d future, summary says %d/%d", past, future, s.ExpiredGrants, s.FutureGrants)
	}
}

func TestWritePoolDisjointFromQueries(t *testing.T) {
	b, _ := generate(t, tiny(t))
	subjects := map[string]bool{}
	for _, q := range readQueries(t, &b.queries) {
		subjects[q.Subject] = true
	}
	for _, w := range lines(&b.writes) {
		r := tuple.MustParse(w)
		if subjects[r.Subject.String()] {
			t.Errorf("write-pool relationship %s names a queried subject; writes would change expected answers", w)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"default ok", func(*Config) {}, ""},
		{"no orgs", func(c *Config) { c.Orgs = 0 }, "Orgs"},
		{"too deep", func(c *Config) { c.TeamDepth = 6 }, "TeamDepth"},
		{"share", func(c *Config) { c.AllowedShare = 1.5 }, "AllowedShare"},
		{"format", func(c *Config) { c.Format = "csv" }, "csv"},
		{"reference", func(c *Config) { c.ReferenceTime = zeroTime() }, "ReferenceTime"},
		{"teams fewer than depth", func(c *Config) { c.TeamsPerOrg = 3 }, "TeamsPerOrg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.modify(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error naming %q", err, tc.want)
			}
		})
	}
	if _, err := Preset("huge"); !errors.Is(err, ErrUnknownPreset) {
		t.Errorf("Preset(huge): got %v, want ErrUnknownPreset", err)
	}
}
