package main

import (
	"context"
	"encoding/json"
	"github.com/trellis-authz/trellis/wire"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/client"
	"github.com/trellis-authz/trellis/tuple"
)

// TestAuditVerifyCLI runs a real node (startNode, with the audit log wired
// in), exports its log and checkpoint with the CLI, verifies them offline
// with the pinned key, then checks that each kind of tampering fails and
// names the first bad sequence number.
func TestAuditVerifyCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a raft node; skipped with -short")
	}
	c := newTestCluster(t, 1, nil) // writes clusterSchema at start: entry 0
	url := c.urls[0]
	ctx := context.Background()
	cl := client.New(url, client.WithToken(c.admin), client.WithTimeout(10*time.Second))
	for _, rel := range []string{"doc:a#viewer@user:x", "doc:b#viewer@user:y", "doc:c#viewer@user:z", "doc:d#viewer@user:w"} {
		if _, err := cl.WriteRelationships(ctx, wire.WriteRelationshipsRequest{Updates: []wire.Update{{Op: "touch", Relationship: rel}}, Reason: "test " + rel}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cl.DeleteRelationships(ctx, wire.DeleteRelationshipsRequest{Filter: tuple.Filter{ResourceType: "doc", ResourceID: "a"}, Reason: "revoke"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	export := filepath.Join(dir, "export.ndjson")
	cpFile := filepath.Join(dir, "checkpoint.txt")
	for _, args := range [][]string{
		{"audit", "checkpoint", "--endpoint", url, "--token", c.admin, "-o", cpFile},
		{"audit", "export", "--endpoint", url, "--token", c.admin, "-o", export},
	} {
		if code, out, errOut := run(t, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	code, pub, errOut := run(t, "audit", "pubkey", "--data-dir", c.opts[0].DataDir, "--node-id", "n1")
	if code != 0 {
		t.Fatalf("audit pubkey: exit %d: %s", code, errOut)
	}
	pub = strings.TrimSpace(pub)
	if !strings.HasPrefix(pub, "trellis-trellis-n1 ") {
		t.Errorf("got pubkey %q, want it named trellis-trellis-n1", pub)
	}

	code, out, errOut := run(t, "audit", "verify", export, "--checkpoint", cpFile, "--pubkey", pub)
	if code != 0 {
		t.Fatalf("verify of the real export: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{": ok: 6 entries", "checkpoint: size 6 matches", "signature: ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("got output %q, want it to contain %q", out, want)
		}
	}

	// A key that is not the pinned one fails.
	other := "other " + strings.Repeat("A", 43) + "="
	if code, _, errOut := run(t, "audit", "verify", export, "--checkpoint", cpFile, "--pubkey", other); code != 1 || !strings.Contains(errOut, "different key") {
		t.Errorf("wrong key: got exit %d %q, want 1 and a wrong-key error", code, errOut)
	}

	data, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("got %d export lines, want 6", len(lines))
	}
	for i := range lines {
		if !strings.HasSuffix(lines[i], "\n") {
			lines[i] += "\n"
		}
	}
	join := func(ls ...string) string { return strings.Join(ls, "") }
	editField := func(line, field, value string) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		m[field] = value
		b, _ := json.Marshal(m)
		return string(b) + "\n"
	}
	cases := []struct {
		name       string
		export     string
		checkpoint bool
		wantSeq    string
	}{
		{"edit reason", join(lines[0], lines[1], editField(lines[2], "reason", "nothing to see"), lines[3], lines[4], lines[5]), false, "sequence 2"},
		{"edit principal", join(lines[0], lines[1], lines[2], editField(lines[3], "principal", "user:mallory"), lines[4], lines[5]), true, "sequence 3"},
		{"delete an entry", join(lines[0], lines[2], lines[3], lines[4], lines[5]), false, "sequence 1"},
		{"swap two", join(lines[0], lines[1], lines[3], lines[2], lines[4], lines[5]), true, "sequence 2"},
		{"truncate", join(lines[0], lines[1], lines[2], lines[3]), true, "sequence 4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tampered.ndjson")
			if err := os.WriteFile(path, []byte(tc.export), 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"audit", "verify", path}
			if tc.checkpoint {
				args = append(args, "--checkpoint", cpFile, "--pubkey", pub)
			}
			code, out, errOut := run(t, args...)
			if code != 1 {
				t.Fatalf("got exit %d (%s), want 1", code, out)
			}
			if !regexp.MustCompile(`\b` + tc.wantSeq + `\b`).MatchString(errOut) {
				t.Errorf("got %q, want it to name %s", errOut, tc.wantSeq)
			}
		})
	}
	// Without a checkpoint a truncated export is itself a valid log: that is
	// why auditors keep checkpoints.
	trunc := filepath.Join(dir, "trunc.ndjson")
	os.WriteFile(trunc, []byte(join(lines[0], lines[1])), 0o600)
	if code, _, errOut := run(t, "audit", "verify", trunc); code != 0 {
		t.Errorf("prefix without checkpoint: exit %d (%s), want 0", code, errOut)
	}

	t.Run("tail", func(t *testing.T) {
		code, out, errOut := run(t, "audit", "tail", "--endpoint", url, "--token", c.admin, "--limit", "2")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		got := strings.Split(strings.TrimSpace(out), "\n")
		if len(got) != 2 || !strings.Contains(got[0], `"seq":4`) || !strings.Contains(got[1], `"kind":"delete"`) {
			t.Errorf("got %q, want entries 4 and 5 (the last a delete)", out)
		}
		code, _, errOut = run(t, "audit", "tail", "--endpoint", url, "--token", c.reader)
		if code != 1 || !strings.Contains(errOut, "permission_denied") {
			t.Errorf("reader: got exit %d %q, want 1 permission_denied", code, errOut)
		}
	})

	t.Run("watch", func(t *testing.T) {
		// Resume after the schema write (the checkpoint's first entry's
		// revision is the schema's): the four writes then the delete.
		var first struct {
			Revision uint64 `json:"revision"`
		}
		json.Unmarshal([]byte(lines[0]), &first)
		since := c.node(0).Tokens().Encode(first.Revision)
		code, out, errOut := run(t, "watch", "--endpoint", url, "--token", c.reader, "--since", since, "--count", "5")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		evs := strings.Split(strings.TrimSpace(out), "\n")
		if len(evs) != 5 || !strings.Contains(evs[0], "doc:a#viewer@user:x") || !strings.Contains(evs[4], `"op":"delete"`) {
			t.Errorf("got %q, want 4 touches then the delete", out)
		}
	})
}
