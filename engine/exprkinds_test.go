package engine_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/schema/syntax"
	"github.com/trellis-authz/trellis/tuple"
)

// exprKindCase exercises one kind of permission expression end to end.
type exprKindCase struct {
	name string
	// schemaKind and syntaxKind name the kind the case covers, as exprKinds
	// spells them ("Arrow.ArrowAll", "Binary.OpUnion"); the permission's
	// expression must contain a node of that kind.
	schemaKind, syntaxKind string
	src                    string
	rels                   []string
	resource, permission   string
	allowed, denied        string // subjects; Check must give Allowed / Denied
	// mentions are subjects the Expand tree must list; the allowed subject
	// is always required.
	mentions []string
	// lint lists substrings of the lint warnings expected, one per warning;
	// any other warning fails the case.
	lint []string
}

const exprKindsDefs = `
definition user {}

definition folder {
	relation viewer: user
}
`

var exprKindCases = []exprKindCase{
	{
		name:       "union",
		schemaKind: "Union", syntaxKind: "Binary.OpUnion",
		src: exprKindsDefs + `
definition document {
	relation viewer: user
	relation editor: user
	relation owner: user
	permission view = viewer + editor
}`,
		rels:     []string{"document:d#editor@user:alice", "document:d#owner@user:bob", "document:d#viewer@user:carol"},
		resource: "document:d", permission: "view",
		allowed: "user:alice", denied: "user:bob",
		mentions: []string{"user:carol"},
	},
	{
		name:       "intersection",
		schemaKind: "Intersection", syntaxKind: "Binary.OpIntersection",
		src: exprKindsDefs + `
definition document {
	relation viewer: user
	relation member: user
	permission view = viewer & member
}`,
		rels:     []string{"document:d#viewer@user:alice", "document:d#member@user:alice", "document:d#viewer@user:bob"},
		resource: "document:d", permission: "view",
		allowed: "user:alice", denied: "user:bob",
		mentions: []string{"user:bob"},
	},
	{
		name:       "exclusion",
		schemaKind: "Exclusion", syntaxKind: "Binary.OpExclusion",
		src: exprKindsDefs + `
definition document {
	relation viewer: user
	relation banned: user
	permission view = viewer - banned
}`,
		rels:     []string{"document:d#viewer@user:alice", "document:d#viewer@user:bob", "document:d#banned@user:bob"},
		resource: "document:d", permission: "view",
		allowed: "user:alice", denied: "user:bob",
		mentions: []string{"user:bob"},
	},
	{
		name:       "relation reference",
		schemaKind: "RelationRef", syntaxKind: "Ident",
		src: exprKindsDefs + `
definition document {
	relation viewer: user
	relation owner: user
	permission view = viewer
}`,
		rels:     []string{"document:d#viewer@user:alice", "document:d#owner@user:bob"},
		resource: "document:d", permission: "view",
		allowed: "user:alice", denied: "user:bob",
	},
	{
		name:       "permission reference",
		schemaKind: "RelationRef", syntaxKind: "Ident",
		src: exprKindsDefs + `
definition document {
	relation editor: user
	relation owner: user
	permission edit = editor
	permission view = edit
}`,
		rels:     []string{"document:d#editor@user:alice", "document:d#owner@user:bob"},
		resource: "document:d", permission: "view",
		allowed: "user:alice", denied: "user:bob",
	},
	{
		name:       "arrow",
		schemaKind: "Arrow.ArrowAny", syntaxKind: "Arrow.ArrowPlain",
		src: exprKindsDefs + `
definition document {
	relation parent: folder
	relation viewer: user
	permission view = parent->viewer
}`,
		rels:     []string{"document:d#parent@folder:f", "folder:f#viewer@user:alice", "folder:g#viewer@user:bob", "document:d#viewer@user:bob"},
		resource: "document:d", permission: "view",
		allowed: "user:alice", denied: "user:bob",
	},
	{
		name:       "arrow any",
		schemaKind: "Arrow.ArrowAny", syntaxKind: "Arrow.ArrowAny",
		src: exprKindsDefs + `
definition document {
	relation parent: folder
	permission view = parent.any(viewer)
}`,
		rels:     []string{"document:d#parent@folder:f", "document:d#parent@folder:g", "folder:g#viewer@user:alice", "folder:h#viewer@user:bob"},
		resource: "document:d", permission: "view",
		allowed: "user:alice", denied: "user:bob",
	},
	{
		name:       "arrow all",
		schemaKind: "Arrow.ArrowAll", syntaxKind: "Arrow.ArrowAll",
		src: exprKindsDefs + `
definition document {
	relation parent: folder
	permission view = parent.all(viewer)
}`,
		rels: []string{
			"document:d#parent@folder:f", "document:d#parent@folder:g",
			"folder:f#viewer@user:alice", "folder:g#viewer@user:alice",
			"folder:f#viewer@user:bob", // in one parent of two: .all denies
		},
		resource: "document:d", permission: "view",
		allowed: "user:alice", denied: "user:bob",
		mentions: []string{"user:bob"},
	},
	{
		name:       "nil",
		schemaKind: "Nil", syntaxKind: "Nil",
		src: exprKindsDefs + `
definition document {
	relation viewer: user
	relation owner: user
	permission view = viewer + nil
}`,
		rels:     []string{"document:d#viewer@user:alice", "document:d#owner@user:bob"},
		resource: "document:d", permission: "view",
		allowed: "user:alice", denied: "user:bob",
	},
	{
		name:       "nil subtracted",
		schemaKind: "Nil", syntaxKind: "Nil",
		src: exprKindsDefs + `
definition document {
	relation viewer: user
	permission none = nil
	permission view = viewer - nil
}`,
		rels:     []string{"document:d#viewer@user:alice"},
		resource: "document:d", permission: "view",
		allowed: "user:alice", denied: "user:bob",
		lint: []string{"permission document#none can never grant"},
	},
	{
		name:       "mixed operators",
		schemaKind: "Exclusion", syntaxKind: "Binary.OpExclusion",
		src: exprKindsDefs + `
definition document {
	relation parent: folder
	relation viewer: user
	relation editor: user
	relation banned: user
	relation suspended: user
	permission view = viewer + editor + parent->viewer - banned & suspended
}`,
		rels: []string{
			"document:d#parent@folder:f", "folder:f#viewer@user:alice",
			"document:d#banned@user:alice", // banned but not suspended: still allowed
			"document:d#editor@user:bob", "document:d#banned@user:bob", "document:d#suspended@user:bob",
		},
		resource: "document:d", permission: "view",
		allowed: "user:alice", denied: "user:bob",
		mentions: []string{"user:bob"},
	},
}

func TestEveryExpressionKind(t *testing.T) {
	schemaKinds, schemaEnums := exprKinds(t, "../schema")
	syntaxKinds, syntaxEnums := exprKinds(t, "../schema/syntax")
	e := newTestEngine(t, nil)
	ctx := context.Background()

	covered := map[string]bool{}
	ran := 0
	for _, tc := range exprKindCases {
		t.Run(tc.name, func(t *testing.T) {
			ran++
			// The parsed and compiled permission really holds the kind.
			f, errs := syntax.Parse("test.zed", []byte(tc.src))
			if errs.Err() != nil {
				t.Fatalf("parse: %v", errs)
			}
			synPerm := findSyntaxPermission(f, strings.SplitN(tc.resource, ":", 2)[0], tc.permission)
			if synPerm == nil {
				t.Fatalf("no permission %s in the parsed schema", tc.permission)
			}
			if got := walkKinds(synPerm.Expr, syntaxEnums); !got[tc.syntaxKind] {
				t.Errorf("syntax tree of %s has kinds %v, not %s", tc.permission, sortedSet(got), tc.syntaxKind)
			} else {
				covered["syntax."+tc.syntaxKind] = true
			}

			// Lint: compiling runs it; it must report exactly the expected
			// warnings and no error.
			s, errs := compile.CompileText("test.zed", tc.src)
			if errs.Err() != nil {
				t.Fatalf("compile: %v", errs)
			}
			checkLint(t, errs, tc.lint)
			resource, err := tuple.ParseObject(tc.resource)
			if err != nil {
				t.Fatal(err)
			}
			def := s.Definitions[resource.Type]
			if def == nil || def.Permissions[tc.permission] == nil {
				t.Fatalf("no permission %s#%s in the compiled schema", resource.Type, tc.permission)
			}
			if got := walkKinds(def.Permissions[tc.permission].Expr, schemaEnums); !got[tc.schemaKind] {
				t.Errorf("compiled %s has kinds %v, not %s", tc.permission, sortedSet(got), tc.schemaKind)
			} else {
				covered["schema."+tc.schemaKind] = true
			}

			v := testView(t, tc.src, tc.rels...)
			allowed, err := tuple.ParseSubject(tc.allowed)
			if err != nil {
				t.Fatal(err)
			}
			denied, err := tuple.ParseSubject(tc.denied)
			if err != nil {
				t.Fatal(err)
			}

			// Check.
			for _, c := range []struct {
				subj tuple.SubjectRef
				want engine.Result
			}{{allowed, engine.Allowed}, {denied, engine.Denied}} {
				got := mustCheck(t, e, v, tc.resource+"#"+tc.permission+"@"+c.subj.String(), nil)
				if got.Result != c.want {
					t.Errorf("Check %s#%s@%s = %v, want %v", tc.resource, tc.permission, c.subj, got.Result, c.want)
				}
			}

			// Expand.
			tree, err := e.Expand(ctx, v, resource, tc.permission)
			if err != nil {
				t.Fatalf("Expand: %v", err)
			}
			if tree == nil {
				t.Fatal("Expand returned no tree")
			}
			listed := map[string]bool{}
			expandSubjects(tree, listed)
			for _, m := range append([]string{tc.allowed}, tc.mentions...) {
				if !listed[m] {
					t.Errorf("Expand tree lists %v, not %s", sortedSet(listed), m)
				}
			}

			// LookupResources.
			for _, c := range []struct {
				subj tuple.SubjectRef
				want bool
			}{{allowed, true}, {denied, false}} {
				lr, err := e.LookupResources(ctx, v, engine.LookupResourcesRequest{ResourceType: resource.Type, Permission: tc.permission, Subject: c.subj})
				if err != nil {
					t.Fatalf("LookupResources %s: %v", c.subj, err)
				}
				var ids []string
				found := false
				for _, r := range lr.Resources {
					ids = append(ids, r.ID)
					if r.ID == resource.ID {
						found = r.Result == engine.Allowed
					}
				}
				if found != c.want {
					t.Errorf("LookupResources(%s#%s, %s) = %v; want %s allowed: %v", resource.Type, tc.permission, c.subj, ids, resource.ID, c.want)
				}
			}

			// LookupSubjects.
			ls, err := e.LookupSubjects(ctx, v, engine.LookupSubjectsRequest{Resource: resource, Permission: tc.permission, SubjectType: allowed.Type})
			if err != nil {
				t.Fatalf("LookupSubjects: %v", err)
			}
			subjects := map[string]engine.Result{}
			for _, su := range ls.Subjects {
				subjects[su.ID] = su.Result
			}
			if r, ok := subjects[allowed.ID]; !ok || r != engine.Allowed {
				t.Errorf("LookupSubjects(%s#%s) = %v; want %s allowed", tc.resource, tc.permission, subjects, allowed.ID)
			}
			if _, ok := subjects[denied.ID]; ok {
				t.Errorf("LookupSubjects(%s#%s) = %v; want no %s", tc.resource, tc.permission, subjects, denied.ID)
			}
			if _, ok := subjects["*"]; ok {
				t.Errorf("LookupSubjects(%s#%s) = %v; no wildcard was written", tc.resource, tc.permission, subjects)
			}

			// Format: the output is stable, parses back to the same tree and
			// compiles to the same expressions.
			once := syntax.Format(f)
			f2, errs := syntax.Parse("formatted.zed", once)
			if errs.Err() != nil {
				t.Fatalf("parse formatted:\n%s\n%v", once, errs)
			}
			if twice := syntax.Format(f2); string(twice) != string(once) {
				t.Errorf("formatting is not stable:\n%s\nthen:\n%s", once, twice)
			}
			s2, errs := compile.CompileText("formatted.zed", string(once))
			if errs.Err() != nil {
				t.Fatalf("compile formatted:\n%s\n%v", once, errs)
			}
			checkLint(t, errs, tc.lint)
			for _, dn := range s.Order {
				for pn, p := range s.Definitions[dn].Permissions {
					d2 := s2.Definitions[dn]
					if d2 == nil || d2.Permissions[pn] == nil {
						t.Errorf("formatted schema lost %s#%s:\n%s", dn, pn, once)
						continue
					}
					if a, b := compile.ExprString(p.Expr), compile.ExprString(d2.Permissions[pn].Expr); a != b {
						t.Errorf("%s#%s: %s before formatting, %s after:\n%s", dn, pn, a, b, once)
					}
				}
			}
		})
	}

	// Every kind the schema and syntax packages declare has a case. With
	// -run selecting some cases only, the others' kinds cannot be known.
	if ran != len(exprKindCases) {
		t.Logf("ran %d of %d cases; not checking that every expression kind is covered", ran, len(exprKindCases))
		return
	}
	var missing []string
	for _, k := range schemaKinds {
		if !covered["schema."+k] {
			missing = append(missing, "schema."+k)
		}
	}
	for _, k := range syntaxKinds {
		if !covered["syntax."+k] {
			missing = append(missing, "syntax."+k)
		}
	}
	if len(missing) > 0 {
		t.Errorf("expression kinds with no case in exprKindCases (add one): %v (declared: schema %v, syntax %v)", missing, schemaKinds, syntaxKinds)
	}
}

// checkLint asserts that errs holds one warning per entry of want, each
// containing that entry, and nothing else.
func checkLint(t *testing.T, errs syntax.ErrorList, want []string) {
	t.Helper()
	var got []string
	for _, e := range errs {
		if e.Severity != syntax.SeverityWarning {
			t.Errorf("lint: unexpected error %v", e)
			continue
		}
		got = append(got, e.Msg)
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = strings.Contains(got[i], want[i])
	}
	if !ok {
		t.Errorf("lint warnings %q, want ones containing %q", got, want)
	}
}

func findSyntaxPermission(f *syntax.File, def, perm string) *syntax.Permission {
	for _, it := range f.Items {
		d, ok := it.(*syntax.Definition)
		if !ok || d.Name != def {
			continue
		}
		for _, m := range d.Members {
			if p, ok := m.(*syntax.Permission); ok && p.Name == perm {
				return p
			}
		}
	}
	return nil
}

func expandSubjects(n *engine.ExpandNode, out map[string]bool) {
	if n == nil {
		return
	}
	for _, s := range n.Subjects {
		out[s.Subject] = true
	}
	for _, c := range n.Children {
		expandSubjects(c, out)
	}
}

func sortedSet[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
