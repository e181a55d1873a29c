//go:build slow

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// serveChild is `trellis serve` in a child process (TestCrashChildServe).
type serveChild struct {
	t      *testing.T
	args   []string
	base   string
	cmd    *exec.Cmd
	stderr bytes.Buffer
	exited chan struct{}
}

func (s *serveChild) start() {
	s.t.Helper()
	s.stderr.Reset()
	s.cmd = exec.Command(os.Args[0], "-test.run=^TestCrashChildServe$")
	s.cmd.Env = append(os.Environ(), crashChildEnv+"="+strings.Join(s.args, "\x1f"))
	s.cmd.Stderr = &s.stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.exited = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) || s.dead() {
			s.cmd.Process.Kill()
			s.t.Fatalf("server did not become ready; its stderr:\n%s", s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *serveChild) dead() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

func (s *serveChild) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// write touches rel with an idempotency key and returns the status and body.
func (s *serveChild) write(key, rel string) (int, string) {
	return s.post("/v1/relationships/write", map[string]any{
		"updates":         []map[string]string{{"op": "touch", "relationship": rel}},
		"idempotency_key": key,
	})
}

// post sends a JSON body and returns the status and body (status 0 and the
// error when there is no answer).
func (s *serveChild) post(path string, in any) (int, string) {
	body, _ := json.Marshal(in)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// fill writes a file into dir until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte{0xab}, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return
		}
	}
}

// TestDiskFull runs a server whose data directory is on a small tmpfs,
// fills the filesystem, writes, frees the space and writes again, then
// kills the server and restarts it: every acknowledged write must be there.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (mount -t tmpfs) for the data directory")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs on %s: %v %s", mnt, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	schemaFile, err := filepath.Abs("../../examples/ai-governance/schema.zed")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr, raftAddr := freeAddr(t), freeAddr(t)
	s := &serveChild{t: t, base: "http://" + httpAddr, args: []string{"serve", "--insecure-no-auth",
		"--data-dir", filepath.Join(mnt, "data"), "--http-addr", httpAddr, "--raft-addr", raftAddr,
		"--schema", schemaFile, "--log-level", "warn"}}
	s.start()
	defer func() {
		if !s.dead() {
			s.kill()
		}
	}()

	var acked []string
	n := 0
	writeOne := func() (int, string) {
		n++
		rel := fmt.Sprintf("dataset:full#reader@user:u%d", n)
		status, body := s.write(uuid.NewString(), rel)
		if status == http.StatusOK {
			acked = append(acked, rel)
		}
		return status, body
	}
	for range 20 {
		if status, body := writeOne(); status != http.StatusOK {
			t.Fatalf("write before the disk is full: %d %s", status, body)
		}
	}

	// A full disk: every write is refused, with the cause in the log, and
	// the server stays up (without the free-space reserve the store's
	// memory-mapped write-ahead file made it die of SIGBUS here).
	filler := filepath.Join(mnt, "filler")
	fill(t, filler)
	for i := range 10 {
		status, body := writeOne()
		if status == http.StatusOK || status == 0 {
			t.Fatalf("write %d on a full disk: got %d %s, want an error answer", i, status, body)
		}
	}
	if s.dead() {
		t.Fatalf("the server exited on a full disk; its stderr:\n%s", s.stderr.String())
	}
	if !strings.Contains(s.stderr.String(), "not enough free disk space") {
		t.Errorf("the server's log does not name the full disk; its stderr:\n%s", s.stderr.String())
	}

	// Space returns: writes succeed again without a restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if status, body := writeOne(); status != http.StatusOK {
		t.Fatalf("write once space returned: %d %s, want 200", status, body)
	}

	// Nothing acknowledged is lost across a SIGKILL and restart.
	s.kill()
	s.start()
	for _, rel := range acked {
		status, body := s.check(rel)
		if status != http.StatusOK || !strings.Contains(body, `"allowed"`) {
			t.Errorf("acknowledged write %s after the restart: %d %s", rel, status, body)
		}
	}
	t.Logf("%d acknowledged writes, all present after the restart", len(acked))
}

func (s *serveChild) check(rel string) (int, string) {
	// dataset:full#reader@user:uN -> check dataset:full read user:uN
	res, subj, _ := strings.Cut(rel, "#reader@")
	return s.post("/v1/check", map[string]any{"resource": res, "permission": "read", "subject": subj,
		"consistency": "fully_consistent"})
}
