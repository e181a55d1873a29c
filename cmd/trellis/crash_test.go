package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// crashChildEnv carries the serve arguments to the re-executed test binary.
const crashChildEnv = "TRELLIS_CRASH_CHILD_ARGS"

// TestCrashChildServe is not a test of its own: TestCrashRecovery re-executes
// the test binary with crashChildEnv set, and this function then runs
// `trellis serve` in that child process until it is killed.
func TestCrashChildServe(t *testing.T) {
	args := os.Getenv(crashChildEnv)
	if args == "" {
		t.Skip("helper process for TestCrashRecovery")
	}
	os.Exit(execute(newRootCommand(), strings.Split(args, "\x1f")))
}

// TestCrashRecovery kills a real server process with SIGKILL in the middle of a
// stream of writes and restarts it on the same data directory: every write
// that was answered 200 must be there, and retrying any write with its
// idempotency key must return the first answer (same revision), so nothing is
// applied twice.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	dir := t.TempDir()
	httpAddr, raftAddr := freeAddr(t), freeAddr(t)
	schemaFile, err := filepath.Abs("../../examples/ai-governance/schema.zed")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--insecure-no-auth", "--data-dir", dir, "--http-addr", httpAddr,
		"--raft-addr", raftAddr, "--schema", schemaFile, "--log-level", "warn"}
	base := "http://" + httpAddr

	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChildServe$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+strings.Join(args, "\x1f"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(base + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return cmd
				}
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("server did not become ready; its stderr:\n%s", stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	type acked struct {
		key, rel, token string
	}
	write := func(ctx context.Context, key, rel string) (string, int, error) {
		body, _ := json.Marshal(map[string]any{
			"updates":         []map[string]string{{"op": "touch", "relationship": rel}},
			"idempotency_key": key,
			"reason":          "crash test",
		})
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/relationships/write", bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", 0, err
		}
		defer resp.Body.Close()
		var out struct {
			WrittenAt string `json:"written_at"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return "", resp.StatusCode, err
		}
		return out.WrittenAt, resp.StatusCode, nil
	}

	child := start()
	var (
		mu   sync.Mutex
		acks []acked
		wg   sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil && i < 10_000; i++ {
				key := uuid.NewString()
				rel := fmt.Sprintf("dataset:crash#reader@user:w%d_%d", w, i)
				tok, status, err := write(ctx, key, rel)
				if err == nil && status == http.StatusOK {
					mu.Lock()
					acks = append(acks, acked{key, rel, tok})
					mu.Unlock()
				}
			}
		}()
	}
	// Kill once a good number of writes has been acknowledged, with writers
	// still in flight.
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		if n >= 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	cancel()
	wg.Wait()
	if len(acks) == 0 {
		t.Fatal("no write was acknowledged before the kill")
	}
	t.Logf("%d writes acknowledged before SIGKILL", len(acks))

	child = start()
	defer func() {
		child.Process.Signal(syscall.SIGTERM)
		child.Wait()
	}()

	// Every acknowledged write is present.
	resp, err := http.Get(base + "/v1/relationships/export?resource_type=dataset&resource_id=crash")
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	dec := json.NewDecoder(resp.Body)
	for dec.More() {
		var line struct {
			Relationship string `json:"relationship"`
		}
		if err := dec.Decode(&line); err != nil {
			t.Fatal(err)
		}
		present[line.Relationship] = true
	}
	resp.Body.Close()
	for _, a := range acks {
		if !present[a.rel] {
			t.Errorf("acknowledged write %s (written_at %s) is missing after the crash", a.rel, a.token)
		}
	}
	// Retrying with the same idempotency key returns the first answer.
	for _, a := range acks {
		tok, status, err := write(context.Background(), a.key, a.rel)
		if err != nil || status != http.StatusOK {
			t.Fatalf("retry of %s: status %d, err %v", a.rel, status, err)
		}
		if tok != a.token {
			t.Errorf("retry of %s with its idempotency key: got written_at %s, want the first answer %s", a.rel, tok, a.token)
		}
	}
}
