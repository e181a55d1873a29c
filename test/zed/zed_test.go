//go:build slow

package zed

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/api"
	"github.com/trellis-authz/trellis/server"
	"github.com/trellis-authz/trellis/test/testnet"
)

// zedVersion is the zed release installed when no zed is given; override
// with TRELLIS_ZED_VERSION.
const zedVersion = "v0.30.2"

// zedBinary finds zed: $TRELLIS_ZED, a build cached under the user cache
// directory, or a fresh `go install` into that cache.
func zedBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TRELLIS_ZED"); p != "" {
		return p
	}
	version := zedVersion
	if v := os.Getenv("TRELLIS_ZED_VERSION"); v != "" {
		version = v
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "trellis-test", "zed-"+version)
	bin := filepath.Join(dir, "zed")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/authzed/zed/cmd/zed@"+version)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("zed %s cannot be installed here (go install github.com/authzed/zed/cmd/zed@%s: %v); set TRELLIS_ZED to a zed binary to run this test\n%s",
			version, version, err, out)
	}
	return bin
}

const schemaText = `definition user {}

definition team {
  relation member: user | team#member
}

definition dataset {
  relation reader: user | team#member
  relation blocked: user
  permission read = reader - blocked
}
`

// TestZedAgainstTrellis runs zed's commands against a real node and checks
// each one's output.
func TestZedAgainstTrellis(t *testing.T) {
	zed := zedBinary(t)
	dir := t.TempDir()
	tok, hash := api.GenerateToken()
	tokens := filepath.Join(dir, "tokens.yaml")
	if err := api.WriteTokenFile(tokens, []api.TokenEntry{{Principal: "zed", Role: api.RoleAdmin, SHA256: hash}}); err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.DataDir, cfg.TokenFile = filepath.Join(dir, "data"), tokens
	cfg.HTTPAddr, cfg.RaftAddr, cfg.GRPCAddr = testnet.FreeAddr(t), testnet.FreeAddr(t), testnet.FreeAddr(t)
	cfg.Log, cfg.Out = slog.New(slog.NewTextHandler(io.Discard, nil)), io.Discard
	n, err := server.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })

	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		full := append([]string{"--endpoint", n.GRPCAddr(), "--token", tok, "--insecure"}, args...)
		cmd := exec.CommandContext(ctx, zed, full...)
		cmd.Env = append(os.Environ(), "HOME="+dir) // no zed context of the user's
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("zed %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	want := func(out string, parts ...string) {
		t.Helper()
		for _, p := range parts {
			if !strings.Contains(out, p) {
				t.Errorf("zed output lacks %q:\n%s", p, out)
			}
		}
	}
	schemaFile := filepath.Join(dir, "schema.zed")
	if err := os.WriteFile(schemaFile, []byte(schemaText), 0o600); err != nil {
		t.Fatal(err)
	}
	run("schema", "write", schemaFile)
	want(run("schema", "read"), "definition dataset", "permission read")

	run("relationship", "create", "team:ml", "member", "user:ana")
	run("relationship", "touch", "dataset:claims", "reader", "team:ml#member")
	run("relationship", "create", "dataset:claims", "blocked", "user:bo")
	run("relationship", "touch", "team:ml", "member", "user:bo")
	want(run("relationship", "read", "team"), "team:ml member user:ana", "team:ml member user:bo")

	check := func(res, perm, sub, expect string) {
		t.Helper()
		out := strings.TrimSpace(run("permission", "check", res, perm, sub, "--consistency-full"))
		if !strings.HasSuffix(out, expect) {
			t.Errorf("zed permission check %s %s %s: %q, want %s", res, perm, sub, out, expect)
		}
	}
	check("dataset:claims", "read", "user:ana", "true")
	check("dataset:claims", "read", "user:bo", "false")
	want(run("permission", "check", "dataset:claims", "read", "user:ana", "--explain", "--consistency-full"), "claims", "read")
	want(run("permission", "lookup-resources", "dataset", "read", "user:ana", "--consistency-full"), "claims")
	lookup := run("permission", "lookup-subjects", "dataset:claims", "read", "user", "--consistency-full")
	want(lookup, "ana")
	if strings.Contains(lookup, "user:bo") || strings.Contains(lookup, " bo\n") {
		t.Errorf("lookup-subjects lists the blocked user bo:\n%s", lookup)
	}
	want(run("permission", "expand", "read", "dataset:claims", "--consistency-full"), "team:ml")

	run("relationship", "delete", "dataset:claims", "blocked", "user:bo")
	check("dataset:claims", "read", "user:bo", "true")

	// import: a validation file's schema and relationships.
	imp := filepath.Join(dir, "import.yaml")
	if err := os.WriteFile(imp, []byte("schema: |-\n  "+strings.ReplaceAll(schemaText, "\n", "\n  ")+"\nrelationships: |-\n  dataset:forecasts#reader@user:cy\n  team:ml#member@user:dee\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run("import", imp)
	check("dataset:forecasts", "read", "user:cy", "true")

	// backup create: ExportBulkRelationships and ReadSchema into a file.
	backup := filepath.Join(dir, "trellis.zedbackup")
	run("backup", "create", backup)
	if fi, err := os.Stat(backup); err != nil || fi.Size() == 0 {
		t.Fatalf("zed backup create wrote nothing: %v", err)
	}
}
