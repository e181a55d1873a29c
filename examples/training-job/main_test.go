package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/audit"
	"github.com/trellis-authz/trellis/examples/internal/trellisnode"
	"github.com/trellis-authz/trellis/server"
)

// startTrellis starts a node with the AI-governance example and a decision
// log; it returns the node's URL and the log's path.
func startTrellis(t *testing.T) (url, decisionLog string) {
	rels, err := os.ReadFile("../ai-governance/relationships.txt")
	if err != nil {
		t.Fatal(err)
	}
	decisionLog = filepath.Join(t.TempDir(), "decisions.ndjson")
	url = trellisnode.Start(t, "../ai-governance/schema.zed", string(rels), func(c *server.Config) { c.Decisions.File = decisionLog })
	return url, decisionLog
}

// readLines decodes every JSON line of path into a T.
func readLines[T any](t *testing.T, path string) []T {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %q: %v", path, sc.Text(), err)
		}
		out = append(out, v)
	}
	return out
}

func TestTrainingJob(t *testing.T) {
	url, decisionLog := startTrellis(t)
	const reason = "weekly retrain of the fraud model, ticket ML-1207"
	for _, tc := range []struct {
		name, subject, purpose, datasets string
		trained                          bool
		results                          []string // per dataset, in the record
		missing                          string   // a missing context parameter named, if any
	}{
		{"purpose-bound trainer, its purpose", "service_account:trainer_bot", "fraud-model", "claims", true, []string{"allowed"}, ""},
		{"purpose-bound trainer, another purpose", "service_account:trainer_bot", "marketing", "claims", false, []string{"denied"}, ""},
		{"purpose-bound trainer, no purpose", "service_account:trainer_bot", "", "claims", false, []string{"conditional"}, "purpose"},
		{"one dataset of two refused: nothing trained", "service_account:trainer_bot", "fraud-model", "claims,churn_events", false, []string{"allowed", "denied"}, ""},
		{"the data steward", "user:sara", "", "claims", true, []string{"allowed"}, ""},
		{"a reader is no trainer", "user:ana", "fraud-model", "claims", false, []string{"denied"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			record := filepath.Join(t.TempDir(), "record.jsonl")
			var stdout bytes.Buffer
			err := run(context.Background(), []string{"--trellis", url, "--job", "job-1", "--subject", tc.subject, "--purpose", tc.purpose,
				"--reason", reason, "--datasets", tc.datasets, "--record", record}, &stdout)
			if trained := strings.Contains(stdout.String(), "trained on"); trained != tc.trained || (err == nil) != tc.trained {
				t.Fatalf("trained %v (%q), error %v; want trained %v", trained, stdout.String(), err, tc.trained)
			}
			if err != nil && !errors.Is(err, ErrNotAuthorized) {
				t.Fatalf("error %v, want ErrNotAuthorized", err)
			}
			recs := readLines[Record](t, record)
			var results []string
			for _, r := range recs {
				results = append(results, r.Result)
				if r.Job != "job-1" || r.Reason != reason || r.Subject != tc.subject || r.Permission != "train" || r.DecisionID == "" {
					t.Errorf("record %+v: want job-1, the reason, the subject, train and a decision id", r)
				}
			}
			if !slices.Equal(results, tc.results) {
				t.Fatalf("record results %v, want %v", results, tc.results)
			}
			if tc.missing != "" && !slices.Contains(recs[0].Missing, tc.missing) {
				t.Fatalf("record %+v does not name the missing %q", recs[0], tc.missing)
			}

			// Each line joins, by its decision id, Trellis's record of the same
			// check, in a chain that verifies.
			f, err := os.Open(decisionLog)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := audit.VerifyDecisions(f, nil); err != nil {
				t.Fatalf("the decision log does not verify: %v", err)
			}
			byID := map[string]audit.Decision{}
			for _, d := range readLines[audit.Decision](t, decisionLog) {
				byID[d.RequestID] = d
			}
			for _, r := range recs {
				d, ok := byID[r.DecisionID]
				if !ok {
					t.Fatalf("decision %s of %s is not in Trellis's decision log", r.DecisionID, r.Resource)
				}
				if d.Resource != r.Resource || d.Permission != "train" || d.Subject != r.Subject || d.Result != r.Result || d.Token != r.CheckedAt {
					t.Fatalf("Trellis logged %+v for the job's %+v", d, r)
				}
			}
		})
	}
}

// TestTrainingJobRefusesBadJobs: a job without a subject, a reason or a
// dataset asks nothing and records nothing.
func TestTrainingJobRefusesBadJobs(t *testing.T) {
	url, decisionLog := startTrellis(t)
	ok := []string{"--trellis", url, "--subject", "user:sara", "--reason", "retrain", "--datasets", "claims"}
	for _, tc := range []struct {
		drop, want string
	}{{"--subject", "no subject"}, {"--reason", "no reason"}, {"--datasets", "no dataset"}} {
		t.Run(tc.drop, func(t *testing.T) {
			i := slices.Index(ok, tc.drop)
			args := slices.Concat(ok[:i], ok[i+2:])
			record := filepath.Join(t.TempDir(), "record.jsonl")
			var stdout bytes.Buffer
			err := run(context.Background(), append(args, "--record", record), &stdout)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(stdout.String(), "trained") {
				t.Fatalf("error %v, stdout %q; want an error naming %q and nothing trained", err, stdout.String(), tc.want)
			}
			if recs := readLines[Record](t, record); len(recs) != 0 {
				t.Fatalf("%d records written, want none", len(recs))
			}
			if ds := readLines[audit.Decision](t, decisionLog); len(ds) != 0 {
				t.Fatalf("Trellis logged %d decisions, want none (nothing asked)", len(ds))
			}
		})
	}
}
