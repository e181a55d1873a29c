package spicedb_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/validation"
	"github.com/trellis-authz/trellis/wire"
)

// corpusDir is the SpiceDB-syntax validation corpus (package validation
// runs it in memory; TestCorpusThroughTransports runs it on a node).
const corpusDir = "../validation/testdata/spicedb"

// TestCorpusThroughTransports loads each corpus file's schema and
// relationships into one node, a file at a time (the previous file's
// relationships deleted, then its schema replaced), and asks every
// assertTrue, assertFalse and assertCaveated of the file over REST, gRPC
// and the HTTP gateway at the revision of the load: all three must give
// the answer the file expects. LookupSubjects of each validation key must
// agree on the three too. The schema is written through each transport in
// turn.
func TestCorpusThroughTransports(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(corpusDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 40 {
		t.Fatalf("got %d corpus files in %s, want at least 40", len(paths), corpusDir)
	}
	tn := startNode(t, "")
	g := newGRPCTransport(t, tn)
	want := map[validation.AssertionKind]string{validation.AssertTrue: "allowed", validation.AssertFalse: "denied", validation.AssertCaveated: "conditional"}
	asked, lookups := 0, 0
	for i, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := validation.ParseFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Compile(); err != nil {
				t.Fatal(err)
			}
			g.t = t
			ts := []transport{restTransport{t, tn}, g, gatewayTransport{t, tn}}
			tok := loadCorpusFile(t, tn, g, ts[i%len(ts)].name(), f)
			for _, a := range f.Assertions {
				q := checkQ{a.Resource.String(), a.Permission, a.Subject.String(), a.Context}
				what := fmt.Sprintf("%s:%d %s %s", filepath.Base(path), a.Line, a.Kind, a.Text)
				got := agree(t, ts, what, func(tr transport) (checkA, error) { return tr.check(q, tok) })
				if got.result != want[a.Kind] {
					t.Errorf("%s: every transport answered %s, want %s", what, got, want[a.Kind])
				}
				asked++
			}
			// The validation block's keys: LookupSubjects of every subject
			// type (and subject set) the file expects must agree too.
			for _, e := range f.Expected {
				var kinds []string
				for _, es := range e.Subjects {
					if k := es.Subject.Type + "#" + es.Subject.Relation; !slices.Contains(kinds, k) {
						kinds = append(kinds, k)
					}
				}
				for _, k := range kinds {
					typ, rel, _ := strings.Cut(k, "#")
					q := lookupSubQ{e.Resource.String(), e.Permission, typ, rel, nil}
					agree(t, ts, fmt.Sprintf("%s:%d lookup subjects %+v", filepath.Base(path), e.Line, q),
						func(tr transport) ([]string, error) { return tr.lookupSubjects(q, tok) })
					lookups++
				}
			}
		})
	}
	t.Logf("%d files, %d assertions and %d subject lookups asked over REST, gRPC and the gateway", len(paths), asked, lookups)
	if asked < 200 {
		t.Errorf("got %d assertions, want at least 200 (the corpus test's floor)", asked)
	}
}

// loadCorpusFile deletes every relationship on the node, writes f's schema
// through the transport named by via and its relationships with REST, and
// returns the token of the last write.
func loadCorpusFile(t *testing.T, tn *testNode, g grpcTransport, via string, f *validation.File) string {
	t.Helper()
	ctx := context.Background()
	rest := restTransport{t, tn}
	exp, err := recvAll(g.reader.ExportBulkRelationships(ctx, &v1.ExportBulkRelationshipsRequest{
		Consistency: &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}}}))
	if err != nil {
		t.Fatalf("export before the load: %v", err)
	}
	var types []string
	for _, m := range exp {
		for _, r := range m.GetRelationships() {
			if typ := r.GetResource().GetObjectType(); !slices.Contains(types, typ) {
				types = append(types, typ)
			}
		}
	}
	for _, typ := range types {
		var out wire.DeleteRelationshipsResponse
		if err := rest.call(tn.writer, "/v1/relationships/delete", wire.DeleteRelationshipsRequest{
			Filter: tuple.Filter{ResourceType: typ}, Reason: "the next corpus file"}, &out, nil); err != nil {
			t.Fatalf("deleting the previous file's %s relationships: %v", typ, err)
		}
	}

	var tok string
	switch via {
	case "REST":
		var out wire.WriteSchemaResponse
		if err := rest.send(http.MethodPut, tn.admin, "/v1/schema", wire.WriteSchemaRequest{Schema: f.Schema}, &out, nil); err != nil {
			t.Fatal(err)
		}
		tok = out.WrittenAt
	case "gRPC":
		out, err := g.writers[tn.admin].WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: f.Schema})
		if err != nil {
			t.Fatalf("gRPC WriteSchema: %v", err)
		}
		tok = out.GetWrittenAt().GetToken()
	default:
		out := &v1.WriteSchemaResponse{}
		if err := tn.gwUnary(t, tn.admin, "/v1/schema/write", &v1.WriteSchemaRequest{Schema: f.Schema}, out, nil); err != nil {
			t.Fatalf("gateway schema write: %v", err)
		}
		tok = out.GetWrittenAt().GetToken()
	}
	if tok == "" {
		t.Fatalf("the %s schema write answered no token", via)
	}

	const batch = 500
	for start := 0; start < len(f.Relationships); start += batch {
		var updates []wire.Update
		for _, r := range f.Relationships[start:min(start+batch, len(f.Relationships))] {
			updates = append(updates, wire.Update{Op: "touch", Relationship: r.Rel.String()})
		}
		var err error
		if tok, err = rest.write(tn.writer, updates, "corpus file "+f.Name); err != nil {
			t.Fatalf("writing relationships %d..%d: %v", start, start+len(updates), err)
		}
	}
	return tok
}
