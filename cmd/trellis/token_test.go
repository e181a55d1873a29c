package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/api"
)

func TestTokenCreateAndList(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.yaml")
	exec := func(args ...string) (string, string, int) {
		cmd := newRootCommand()
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		code := execute(cmd, args)
		return out.String(), errOut.String(), code
	}
	out, _, code := exec("token", "create", "--file", file, "--principal", "gateway", "--role", "reader")
	if code != 0 {
		t.Fatalf("create: exit %d", code)
	}
	tok := strings.TrimSpace(out)
	entries, err := api.LoadTokenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Principal != "gateway" || entries[0].Role != api.RoleReader || entries[0].SHA256 != api.HashToken(tok) {
		t.Fatalf("got entries %+v, want gateway/reader with the hash of the printed token", entries)
	}
	if data, err := os.ReadFile(file); err != nil || strings.Contains(string(data), tok) {
		t.Error("the token file holds the token itself; it must hold only its hash")
	}
	if _, _, code := exec("token", "create", "--file", file, "--principal", "ci", "--role", "writer"); code != 0 {
		t.Fatalf("second create: exit %d", code)
	}
	if _, errOut, code := exec("token", "create", "--file", file, "--principal", "ci", "--role", "admin"); code != 1 || !strings.Contains(errOut, "already has a token") {
		t.Errorf("duplicate principal: got exit %d, stderr %q; want 1 and a clear message", code, errOut)
	}
	if _, errOut, code := exec("token", "create", "--file", file, "--principal", "x", "--role", "root"); code != 2 || !strings.Contains(errOut, "reader, writer or admin") {
		t.Errorf("bad role: got exit %d, stderr %q; want 2 naming the roles", code, errOut)
	}
	out, _, code = exec("token", "list", "--file", file)
	if code != 0 || !strings.Contains(out, "gateway") || !strings.Contains(out, "writer") {
		t.Errorf("list: got exit %d, output %q", code, out)
	}
}
