package benchcli

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/trellis-authz/trellis/bench/driver"
	"github.com/trellis-authz/trellis/bench/workload"
)

func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := NewCommand("trellis-bench")
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestGenFlagsOverridePreset(t *testing.T) {
	dir := t.TempDir()
	out, err := execute(t, "gen", "--out", dir, "--preset", "tiny", "--orgs", "3", "--format", "text", "--seed", "7")
	if err != nil {
		t.Fatal(err)
	}
	var s workload.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("gen output is not a summary: %v", err)
	}
	if s.Config.Orgs != 3 || s.Config.Seed != 7 || s.Config.Format != workload.FormatText || s.Config.UsersPerOrg != 60 {
		t.Errorf("got config %+v, want tiny preset with orgs 3, seed 7, text format", s.Config)
	}
	for _, name := range []string{workload.SchemaFile, workload.TextFile, workload.QueriesFile, workload.WritesFile, workload.SummaryFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := execute(t, "gen", "--out", dir, "--preset", "huge"); !errors.Is(err, workload.ErrUnknownPreset) {
		t.Errorf("unknown preset: got %v, want ErrUnknownPreset", err)
	}
}

func TestLoadNoopAndFailOnMismatch(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/healthz" {
			w.Write([]byte(`{"status":"ok"}`))
			return
		}
		// Every check answers "denied": wrong for the expected-allowed half.
		w.Write([]byte(`{"result":"denied","resources":[]}`))
	}))
	defer srv.Close()

	out, err := execute(t, "load", "--endpoint", srv.URL, "--mode", "noop", "--max-requests", "20", "--clients", "2")
	if err != nil {
		t.Fatal(err)
	}
	var rep driver.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("load output is not a report: %v", err)
	}
	if rep.Answered != 20 || hits.Load() != 20 {
		t.Errorf("got %d answered, %d server hits; want 20 and 20", rep.Answered, hits.Load())
	}

	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for _, f := range []string{a, b} {
		if _, err := execute(t, "load", "--endpoint", srv.URL, "--mode", "noop", "--max-requests", "10", "--report", f); err != nil {
			t.Fatal(err)
		}
	}
	table, err := execute(t, "compare", a, b)
	if err != nil || !strings.Contains(table, "throughput_qps") || !strings.Contains(table, "p99_ms") {
		t.Errorf("compare: got %q, %v; want a table with throughput_qps and p99_ms", table, err)
	}
	if _, err := execute(t, "compare", a, filepath.Join(dir, "missing.json")); err == nil {
		t.Error("compare with a missing file: got no error")
	}

	if _, err := execute(t, "gen", "--out", dir, "--preset", "tiny"); err != nil {
		t.Fatal(err)
	}
	_, err = execute(t, "load", "--endpoint", srv.URL, "--dir", dir, "--max-requests", "100", "--fail-on-mismatch")
	if !errors.Is(err, driver.ErrRunCheck) || !strings.Contains(err.Error(), "mismatches") {
		t.Errorf("got %v, want driver.ErrRunCheck for a server that denies everything", err)
	}
}
