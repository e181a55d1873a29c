package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"github.com/trellis-authz/trellis/server"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/api"
)

// The client commands are tested end to end against one real node (Badger,
// one-voter raft on loopback, engine, HTTP API) started by TestMain and loaded
// with the ai-governance example. Tests that change data use their own
// objects, so they do not disturb each other's expectations.

var (
	cliExample = filepath.Join("..", "..", "examples", "ai-governance")
	cliNode    *cliTestNode // nil when -short
)

// cliTestNode is a running node and the tokens it accepts.
type cliTestNode struct {
	n      *server.Node
	url    string
	admin  string
	reader string
}

func TestMain(m *testing.M) {
	flag.Parse()
	var code int
	if !testing.Short() && os.Getenv(crashChildEnv) == "" { // a crash-test child serves on its own
		dir, err := os.MkdirTemp("", "trellis-cli-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		cliNode, err = startTestNode(dir, true)
		if err != nil {
			fmt.Fprintln(os.Stderr, "starting the test node:", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
		code = m.Run()
		cliNode.n.Close()
		os.RemoveAll(dir)
	} else {
		code = m.Run()
	}
	os.Exit(code)
}

// startTestNode starts a node in dir with an admin and a reader token, with
// the example schema (and, if withRelationships, its relationships).
func startTestNode(dir string, withRelationships bool) (*cliTestNode, error) {
	admin, adminHash := api.GenerateToken()
	reader, readerHash := api.GenerateToken()
	tokens := filepath.Join(dir, "tokens.yaml")
	if err := api.WriteTokenFile(tokens, []api.TokenEntry{
		{Principal: "admin", Role: api.RoleAdmin, SHA256: adminHash},
		{Principal: "reader", Role: api.RoleReader, SHA256: readerHash},
	}); err != nil {
		return nil, err
	}
	o := server.DefaultConfig()
	o.DataDir = filepath.Join(dir, "data")
	o.HTTPAddr = "127.0.0.1:0"
	o.RaftAddr = "127.0.0.1:0"
	o.TokenFile = tokens
	o.SchemaFile = filepath.Join(cliExample, "schema.zed")
	if withRelationships {
		o.RelationshipsFile = filepath.Join(cliExample, "relationships.txt")
	}
	o.RaftTimeouts = 200 * time.Millisecond
	o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	o.Out = io.Discard
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := server.Open(ctx, o)
	if err != nil {
		return nil, err
	}
	// Tokens are bound to the cluster id its first leader writes
	// asynchronously: a token taken before that is refused after it.
	if _, err := n.Consensus().WaitClusterUUID(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return &cliTestNode{n: n, url: n.URL(), admin: admin, reader: reader}, nil
}

// node returns the shared node, skipping the test under -short.
func sharedNode(t *testing.T) *cliTestNode {
	t.Helper()
	if cliNode == nil {
		t.Skip("needs a running node; skipped with -short")
	}
	return cliNode
}

// freshNode starts a node of its own with the schema and no relationships.
func freshNode(t *testing.T) *cliTestNode {
	t.Helper()
	sharedNode(t)
	n, err := startTestNode(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.n.Close() })
	return n
}

// cliResult is one run of the CLI.
type cliResult struct {
	code        int
	out, errOut string
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.errOut)
}

// runIn runs the trellis command with stdin and returns its exit code and output.
func runIn(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(strings.NewReader(stdin))
	code := execute(cmd, args)
	return cliResult{code, out.String(), errOut.String()}
}

// as runs a command against node n with token tok.
func (n *cliTestNode) as(t *testing.T, tok string, args ...string) cliResult {
	t.Helper()
	return runIn(t, "", append(args, "--endpoint", n.url, "--token", tok)...)
}

// cli runs a command against node n as admin.
func (n *cliTestNode) cli(t *testing.T, args ...string) cliResult {
	t.Helper()
	return n.as(t, n.admin, args...)
}

// wantExit fails the test unless r exited with code.
func wantExit(t *testing.T, r cliResult, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("got exit %d, want %d\n%s", r.code, code, r)
	}
}

var cliTokenRE = regexp.MustCompile(`\bt1\.[A-Za-z0-9_-]+`)

// token returns the consistency token printed in s.
func printedToken(t *testing.T, s string) string {
	t.Helper()
	tok := cliTokenRE.FindString(s)
	if tok == "" {
		t.Fatalf("no token (t1....) in %q", s)
	}
	return tok
}

// exampleLines returns the example's relationships that start with prefix.
func exampleLines(t *testing.T, prefix string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cliExample, "relationships.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return out
}
