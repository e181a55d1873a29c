package main

import (
	"encoding/json"
	"github.com/trellis-authz/trellis/wire"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestCLICheck(t *testing.T) {
	n := sharedNode(t)
	tests := []struct {
		name string
		args []string
		code int
		word string
	}{
		{"team member reads", []string{"check", "dataset:claims", "read", "user:ana"}, 0, "allowed"},
		{"blocked user", []string{"check", "dataset:claims", "read", "user:ben"}, exitDenied, "denied"},
		{"stranger", []string{"check", "dataset:claims", "read", "user:nobody"}, exitDenied, "denied"},
		{"caveat without context", []string{"check", "dataset:claims", "read", "user:dan"}, exitConditional, "conditional: missing context purpose"},
		{"caveat with context", []string{"check", "dataset:claims", "read", "user:dan", "--context", `{"purpose":"fraud-model"}`}, 0, "allowed"},
		{"caveat with wrong purpose", []string{"check", "dataset:claims", "read", "user:dan", "--context", `{"purpose":"marketing"}`}, exitDenied, "denied"},
		{"fully consistent", []string{"check", "dataset:claims", "read", "user:ana", "--consistency", "fully_consistent"}, 0, "allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := n.cli(t, tc.args...)
			wantExit(t, r, tc.code)
			if !strings.HasPrefix(r.out, tc.word) || !strings.Contains(r.out, "(checked at t1.") {
				t.Errorf("got %q, want %q and the checked-at token", r.out, tc.word+"  (checked at t1....)")
			}
		})
	}
}

func TestCLICheckJSONAndExplain(t *testing.T) {
	n := sharedNode(t)
	r := n.cli(t, "check", "dataset:claims", "read", "user:dan", "--json")
	wantExit(t, r, exitConditional)
	var res wire.CheckResponse
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, r.out)
	}
	if res.Result != "conditional" || !slices.Contains(res.MissingContext, "purpose") || res.CheckedAt == "" {
		t.Errorf("got %+v, want conditional, missing purpose, a checked_at token", res)
	}

	r = n.cli(t, "check", "dataset:claims", "manage", "user:paul", "--explain")
	wantExit(t, r, 0)
	lines := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
	if len(lines) < 4 {
		t.Fatalf("got %d lines, want the answer and a trace tree:\n%s", len(lines), r.out)
	}
	if !strings.HasPrefix(lines[2], "allowed") || !strings.Contains(lines[2], "dataset:claims#manage") {
		t.Errorf("got trace root %q, want the allowed check of dataset:claims#read", lines[2])
	}
	for _, want := range []string{"└─ allowed     arrow project->admin", "├─ denied      check dataset:claims#steward @ user:paul"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("got trace\n%s\nwant it to contain %q", r.out, want)
		}
	}
}

func TestCLIWriteCheckDelete(t *testing.T) {
	n := sharedNode(t)
	const rel = "dataset:cli_wcd#reader@user:zoe"
	r := n.cli(t, "check", "dataset:cli_wcd", "read", "user:zoe")
	wantExit(t, r, exitDenied)

	r = n.cli(t, "write", rel, "dataset:cli_wcd#steward@user:sam", "--reason", "cli test")
	wantExit(t, r, 0)
	if !strings.HasPrefix(r.out, "touched 2 relationships at t1.") {
		t.Errorf("got %q, want 'touched 2 relationships at <token>'", r.out)
	}
	written := printedToken(t, r.out)
	key := strings.TrimSpace(strings.TrimPrefix(strings.Split(r.out, "\n")[1], "idempotency key "))
	if len(key) != 36 {
		t.Errorf("got idempotency key line %q, want a printed UUID", strings.Split(r.out, "\n")[1])
	}

	r = n.cli(t, "check", "dataset:cli_wcd", "read", "user:zoe", "--consistency", "at_least_as_fresh:"+written)
	wantExit(t, r, 0)

	// A retry with the printed key is accepted and applies nothing new.
	r = n.cli(t, "write", rel, "dataset:cli_wcd#steward@user:sam", "--reason", "cli test", "--idempotency-key", key)
	wantExit(t, r, 0)
	if strings.Contains(r.out, "idempotency key") {
		t.Errorf("got %q; a given key should not be printed again", r.out)
	}

	r = n.cli(t, "delete", "dataset:cli_wcd#reader@user:zoe")
	wantExit(t, r, 0)
	if !strings.HasPrefix(r.out, "deleted 1 relationship at t1.") {
		t.Errorf("got %q, want 'deleted 1 relationship at <token>'", r.out)
	}
	deleted := printedToken(t, r.out)
	r = n.cli(t, "check", "dataset:cli_wcd", "read", "user:zoe", "--consistency", "at_least_as_fresh:"+deleted)
	wantExit(t, r, exitDenied)
	r = n.cli(t, "check", "dataset:cli_wcd", "read", "user:sam", "--consistency", "exact:"+deleted)
	wantExit(t, r, 0)

	// Reading at the revision of the first write still sees zoe.
	r = n.cli(t, "check", "dataset:cli_wcd", "read", "user:zoe", "--consistency", "exact:"+written)
	wantExit(t, r, 0)

	// write --op delete, then delete with flags and --json.
	r = n.cli(t, "write", "--op", "delete", "dataset:cli_wcd#steward@user:sam", "--json")
	wantExit(t, r, 0)
	var m map[string]any
	if err := json.Unmarshal([]byte(r.out), &m); err != nil || m["op"] != "delete" || m["written_at"] == "" || m["idempotency_key"] == "" {
		t.Errorf("got %q (%v), want JSON with op delete, written_at and idempotency_key", r.out, err)
	}
	r = n.cli(t, "delete", "--resource-type", "dataset", "--resource-id", "cli_wcd", "--json")
	wantExit(t, r, 0)
	if err := json.Unmarshal([]byte(r.out), &m); err != nil || m["deleted"] != float64(0) {
		t.Errorf("got %q (%v), want JSON with deleted 0 (everything is gone already)", r.out, err)
	}
}

func TestCLIWriteFromFile(t *testing.T) {
	n := sharedNode(t)
	dir := t.TempDir()
	good := writeFile(t, dir, "grants.txt", "// grants\ndataset:cli_file#reader@user:a\n\n# more\ndataset:cli_file#reader@user:b\n")
	r := n.cli(t, "write", "-f", good)
	wantExit(t, r, 0)
	if !strings.HasPrefix(r.out, "touched 2 relationships") {
		t.Errorf("got %q, want 2 touched", r.out)
	}
	r = runIn(t, "dataset:cli_file#reader@user:c\n", "write", "-f", "-", "--op", "create", "--endpoint", n.url, "--token", n.admin)
	wantExit(t, r, 0)
	r = n.cli(t, "read", "dataset:cli_file", "--consistency", "at_least_as_fresh:"+printedToken(t, r.out))
	wantExit(t, r, 0)
	want := "dataset:cli_file#reader@user:a\ndataset:cli_file#reader@user:b\ndataset:cli_file#reader@user:c\n"
	if r.out != want {
		t.Errorf("got\n%s\nwant\n%s", r.out, want)
	}

	bad := writeFile(t, dir, "bad.txt", "dataset:cli_file#reader@user:d\ndataset:cli_file#reader@@user:e\n")
	r = n.cli(t, "write", "-f", bad)
	wantExit(t, r, 1)
	if !strings.Contains(r.errOut, bad+":2: invalid relationship") {
		t.Errorf("got %q, want the file and line of the bad relationship", r.errOut)
	}
}

func TestCLIBadInput(t *testing.T) {
	n := sharedNode(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"malformed relationship", []string{"write", "dataset:claims#reader"}, 2, `invalid relationship "dataset:claims#reader": subject: missing '@subject'`},
		{"no relationships", []string{"write"}, 2, "no relationships to write"},
		{"bad op", []string{"write", "--op", "upsert", "dataset:x#reader@user:a"}, 2, `--op "upsert"`},
		{"bad subject", []string{"check", "dataset:claims", "read", "ana"}, 2, `SUBJECT invalid subject: "ana" has no ':'`},
		{"bad resource", []string{"expand", "claims", "read"}, 2, "RESOURCE invalid object"},
		{"missing args", []string{"check", "dataset:claims", "read"}, 2, "want 3 arguments, got 2"},
		{"bad consistency", []string{"check", "dataset:claims", "read", "user:ana", "--consistency", "latest"}, 2, `--consistency "latest"`},
		{"token missing", []string{"read", "dataset:claims", "--consistency", "at_least_as_fresh"}, 2, "needs a token"},
		{"bad context", []string{"check", "dataset:claims", "read", "user:ana", "--context", "[1]"}, 2, "--context [1]"},
		{"bad idempotency key", []string{"write", "dataset:x#reader@user:a", "--idempotency-key", "abc"}, 2, "is not a UUID"},
		{"empty filter", []string{"delete"}, 2, "empty"},
		{"bad token on server", []string{"read", "dataset", "--consistency", "exact:garbage"}, 1, "trellis: invalid_token: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := n.cli(t, tc.args...)
			wantExit(t, r, tc.code)
			if !strings.Contains(r.errOut, tc.want) {
				t.Errorf("got stderr %q, want it to contain %q", r.errOut, tc.want)
			}
		})
	}
	r := runIn(t, "", "read", "dataset", "--endpoint", "localhost:8080")
	wantExit(t, r, 2)
	if !strings.Contains(r.errOut, "want a URL") {
		t.Errorf("got %q, want the endpoint refused", r.errOut)
	}
}

func TestCLIServerErrors(t *testing.T) {
	n := sharedNode(t)
	r := n.cli(t, "check", "dataset:claims", "fly", "user:ana")
	wantExit(t, r, 1)
	if !strings.HasPrefix(r.errOut, "trellis: unknown_relation: ") {
		t.Errorf("got %q, want 'trellis: unknown_relation: ...'", r.errOut)
	}

	r = n.as(t, n.reader, "write", "dataset:cli_err#reader@user:a")
	wantExit(t, r, 1)
	if !strings.HasPrefix(r.errOut, "trellis: permission_denied: ") || strings.Contains(r.errOut, "to retry safely") {
		t.Errorf("got %q, want permission_denied and no retry hint (a retry cannot help)", r.errOut)
	}
	r = n.as(t, "not-a-token", "read", "dataset:claims")
	wantExit(t, r, 1)
	if !strings.HasPrefix(r.errOut, "trellis: unauthenticated: ") {
		t.Errorf("got %q, want unauthenticated", r.errOut)
	}

	r = n.cli(t, "write", "--op", "create", "dataset:cli_err#reader@user:a")
	wantExit(t, r, 0)
	r = n.cli(t, "write", "--op", "create", "dataset:cli_err#reader@user:a")
	wantExit(t, r, 1)
	if !strings.HasPrefix(r.errOut, "trellis: already_exists: ") {
		t.Errorf("got %q, want already_exists", r.errOut)
	}

	r = n.cli(t, "write", "dataset:cli_err#owner@user:a")
	wantExit(t, r, 1)
	if !strings.HasPrefix(r.errOut, "trellis: unknown_relation: ") && !strings.HasPrefix(r.errOut, "trellis: invalid_argument: ") {
		t.Errorf("got %q, want the server's code for a relation the schema lacks", r.errOut)
	}

	// Nothing listens on this endpoint.
	r = runIn(t, "", "read", "dataset", "--endpoint", "http://127.0.0.1:1", "--timeout", "2s")
	wantExit(t, r, 1)
	if !strings.Contains(r.errOut, "cannot reach http://127.0.0.1:1") || !strings.Contains(r.errOut, "TRELLIS_ENDPOINT") {
		t.Errorf("got %q, want the unreachable endpoint named with a hint", r.errOut)
	}
}

func TestCLIEnvironment(t *testing.T) {
	n := sharedNode(t)
	t.Setenv("TRELLIS_ENDPOINT", n.url)
	t.Setenv("TRELLIS_TOKEN", n.reader)
	r := runIn(t, "", "check", "dataset:claims", "read", "user:ana")
	wantExit(t, r, 0)
	t.Setenv("TRELLIS_TOKEN", "")
	r = runIn(t, "", "check", "dataset:claims", "read", "user:ana")
	wantExit(t, r, 1)
	if !strings.Contains(r.errOut, "unauthenticated") {
		t.Errorf("got %q, want unauthenticated without a token", r.errOut)
	}
}

func TestCLIRead(t *testing.T) {
	n := sharedNode(t)
	want := exampleLines(t, "dataset:claims#")
	r := n.cli(t, "read", "dataset:claims")
	wantExit(t, r, 0)
	got := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(r.errOut, "relationships, read at t1.") {
		t.Errorf("got stderr %q, want the summary", r.errOut)
	}

	r = n.cli(t, "read", "--resource-type", "team", "--relation", "member", "--subject", "user:ana")
	wantExit(t, r, 0)
	if r.out != "team:ml#member@user:ana\n" {
		t.Errorf("got %q, want ana's team membership", r.out)
	}
	r = n.cli(t, "read", "team#member@team:research#member", "--json")
	wantExit(t, r, 0)
	var res wire.ReadRelationshipsResponse
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.out)
	}
	if !slices.Equal(res.Relationships, []string{"team:ml#member@team:research#member"}) || res.ReadAt == "" {
		t.Errorf("got %+v, want the nested team and a read_at", res)
	}

	r = n.cli(t, "read", "dataset:claims", "--limit", "2")
	wantExit(t, r, 0)
	if c := strings.Count(r.out, "\n"); c != 2 {
		t.Errorf("--limit 2: got %d lines", c)
	}
	r = n.cli(t, "read", "dataset:claims", "--resource-id", "other")
	wantExit(t, r, 2)
}

func TestCLILookups(t *testing.T) {
	n := sharedNode(t)
	r := n.cli(t, "lookup-resources", "dataset", "read", "user:ana")
	wantExit(t, r, 0)
	if r.out != "dataset:claims\n" {
		t.Errorf("got %q, want dataset:claims", r.out)
	}
	r = n.cli(t, "lookup-resources", "dataset", "read", "user:dan")
	wantExit(t, r, 0)
	if !strings.Contains(r.out, "dataset:claims  conditional (missing context purpose)") {
		t.Errorf("got %q, want claims marked conditional", r.out)
	}

	r = n.cli(t, "lookup-subjects", "dataset:claims", "read", "user")
	wantExit(t, r, 0)
	lines := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
	for _, want := range []string{"user:ana", "user:raj", "user:sara", "user:paul"} {
		if !slices.Contains(lines, want) {
			t.Errorf("got %q, want it to list %s", lines, want)
		}
	}
	for _, not := range []string{"user:ben", "user:nobody"} {
		if slices.Contains(lines, not) {
			t.Errorf("got %q, want no %s (blocked or unknown)", lines, not)
		}
	}

	r = n.cli(t, "lookup-subjects", "dataset:claims", "read", "user", "--json")
	wantExit(t, r, 0)
	var res wire.LookupSubjectsResponse
	if err := json.Unmarshal([]byte(r.out), &res); err != nil || len(res.Subjects) == 0 || res.ReadAt == "" {
		t.Errorf("got %q (%v), want JSON subjects", r.out, err)
	}
	r = n.cli(t, "lookup-resources", "dataset", "read", "user:ana", "--json")
	var lr wire.LookupResourcesResponse
	if err := json.Unmarshal([]byte(r.out), &lr); err != nil || len(lr.Resources) != 1 || lr.Resources[0].ID != "claims" {
		t.Errorf("got %q (%v), want JSON with claims", r.out, err)
	}
}

func TestCLIExpand(t *testing.T) {
	n := sharedNode(t)
	r := n.cli(t, "expand", "team:ml", "member")
	wantExit(t, r, 0)
	for _, want := range exampleLines(t, "team:ml#member@") {
		sub := strings.TrimPrefix(want, "team:ml#member@")
		if !strings.Contains(r.out, "─ "+sub+"\n") {
			t.Errorf("got\n%s\nwant subject %s as a tree line", r.out, sub)
		}
	}
	r = n.cli(t, "expand", "dataset:claims", "read")
	wantExit(t, r, 0)
	for _, want := range []string{"exclusion", "user:ben", "team:ml#member", "user:sara"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("got\n%s\nwant it to contain %q", r.out, want)
		}
	}
	r = n.cli(t, "expand", "dataset:claims", "read", "--json")
	var res wire.ExpandResponse
	if err := json.Unmarshal([]byte(r.out), &res); err != nil || res.Tree == nil {
		t.Errorf("got %q (%v), want a JSON tree", r.out, err)
	}
}

func TestCLIImportExport(t *testing.T) {
	n := sharedNode(t)
	dir := t.TempDir()
	backup := filepath.Join(dir, "backup.ndjson")
	r := n.cli(t, "export", "-o", backup, "--consistency", "fully_consistent")
	wantExit(t, r, 0)
	if !strings.HasPrefix(r.errOut, "exported ") {
		t.Errorf("got stderr %q, want the export summary", r.errOut)
	}
	first, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(first)) {
		var l wire.ExportLine
		if err := json.Unmarshal([]byte(line), &l); err != nil || l.Relationship == "" {
			t.Fatalf("export line %q is not {\"relationship\": ...}: %v", line, err)
		}
	}

	fresh := freshNode(t)
	r = fresh.cli(t, "import", backup, "--progress")
	wantExit(t, r, 0)
	lines := strings.Count(string(first), "\n")
	if !strings.Contains(r.out, "imported "+plural(lines, "relationship")) {
		t.Errorf("got %q, want %d imported", r.out, lines)
	}
	if !strings.Contains(r.errOut, "importing "+backup) || !strings.Contains(r.errOut, "100%") || !strings.Contains(r.errOut, cliGroupDigits(int64(lines))+" lines") {
		t.Errorf("got stderr %q, want a finished progress bar", r.errOut)
	}
	r = fresh.cli(t, "export", "--consistency", "at_least_as_fresh:"+printedToken(t, r.out))
	wantExit(t, r, 0)
	if r.out != string(first) {
		t.Errorf("export after import differs:\ngot\n%s\nwant\n%s", r.out, first)
	}

	// Plain text with comments, from stdin, mixed with NDJSON; no progress
	// bar when stderr is not a terminal.
	plain := "// a comment\ndataset:cli_imp#reader@user:a\n\n{\"relationship\": \"dataset:cli_imp#reader@user:b\"}\n"
	r = runIn(t, plain, "import", "-", "--endpoint", fresh.url, "--token", fresh.admin)
	wantExit(t, r, 0)
	if !strings.HasPrefix(r.out, "imported 2 relationships from stdin") || strings.Contains(r.errOut, "importing") {
		t.Errorf("got %s, want 2 imported and no progress bar", r)
	}
	r = fresh.cli(t, "export", "dataset:cli_imp", "--format", "text", "--consistency", "fully_consistent")
	wantExit(t, r, 0)
	if r.out != "dataset:cli_imp#reader@user:a\ndataset:cli_imp#reader@user:b\n" {
		t.Errorf("got %q, want the two imported relationships", r.out)
	}

	// A bad line: the error names the file's line (comments included).
	bad := writeFile(t, dir, "bad.txt", "// header\ndataset:cli_imp#reader@user:c\ndataset:cli_imp#nope@user:d\n")
	r = fresh.cli(t, "import", bad)
	wantExit(t, r, 1)
	if !strings.Contains(r.errOut, "line 3") || !strings.Contains(r.errOut, "to retry safely") {
		t.Errorf("got %q, want the error at line 3 and the retry hint", r.errOut)
	}
}

func TestCLISchemaReadWrite(t *testing.T) {
	fresh := freshNode(t)
	want, err := os.ReadFile(filepath.Join(cliExample, "schema.zed"))
	if err != nil {
		t.Fatal(err)
	}
	r := fresh.cli(t, "schema", "read")
	wantExit(t, r, 0)
	if r.out != string(want) {
		t.Errorf("schema read differs from the file written at start")
	}
	if !strings.Contains(r.errOut, "hash ") {
		t.Errorf("got stderr %q, want the hash", r.errOut)
	}

	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.zed", threeErrors)
	r = fresh.cli(t, "schema", "write", bad)
	wantExit(t, r, 1)
	if !strings.Contains(r.errOut, bad+`:3:20: error: unknown type "usr"`) || !strings.Contains(r.errOut, "not written") {
		t.Errorf("got %q, want the positioned errors and 'not written'", r.errOut)
	}

	next := string(want) + "\ndefinition cli_note {\n\trelation author: user\n}\n"
	path := writeFile(t, dir, "next.zed", next)
	r = fresh.cli(t, "schema", "write", path, "--reason", "add cli_note")
	wantExit(t, r, 0)
	if !strings.HasPrefix(r.out, "schema written at t1.") {
		t.Errorf("got %q, want 'schema written at <token>'", r.out)
	}
	r = fresh.cli(t, "schema", "read", "--json", "--consistency", "at_least_as_fresh:"+printedToken(t, r.out))
	wantExit(t, r, 0)
	var res wire.SchemaResponse
	if err := json.Unmarshal([]byte(r.out), &res); err != nil || res.Schema != next {
		t.Errorf("got %q (%v), want the new schema", r.out, err)
	}
	r = fresh.cli(t, "write", "cli_note:a#author@user:ana")
	wantExit(t, r, 0)

	// A reader may not change the schema.
	r = fresh.as(t, fresh.reader, "schema", "write", path)
	wantExit(t, r, 1)
	if !strings.HasPrefix(r.errOut, "trellis: permission_denied: ") {
		t.Errorf("got %q, want permission_denied", r.errOut)
	}
}

func TestCLIWriteTooMany(t *testing.T) {
	n := sharedNode(t)
	var b strings.Builder
	for i := range 1001 {
		b.WriteString("dataset:cli_many#reader@user:u" + strconv.Itoa(i) + "\n")
	}
	path := writeFile(t, t.TempDir(), "many.txt", b.String())
	r := n.cli(t, "write", "-f", path)
	wantExit(t, r, 1)
	if !strings.HasPrefix(r.errOut, "trellis: too_many_updates: ") || !strings.Contains(r.errOut, "use: trellis import FILE") {
		t.Errorf("got %q, want too_many_updates and the hint to import", r.errOut)
	}
	r = n.cli(t, "import", path)
	wantExit(t, r, 0)
	if !strings.HasPrefix(r.out, "imported 1001 relationships") {
		t.Errorf("got %q, want 1001 imported", r.out)
	}
}
