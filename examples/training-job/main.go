package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/trellis-authz/trellis/pep"
)

// Job is what a training run is asked to do.
type Job struct {
	ID       string   // "retrain-2025-06-02"
	Subject  string   // who trains: "service_account:trainer_bot"
	Purpose  string   // what for: "fraud-model" (checked against purpose-bound grants)
	Reason   string   // why, in words, for the record
	Datasets []string // dataset ids: "claims"
}

// Record is one line of the job's decision record.
type Record struct {
	Time       time.Time `json:"time"`
	Job        string    `json:"job"`
	Reason     string    `json:"reason"`
	Subject    string    `json:"subject"`
	Resource   string    `json:"resource"`
	Permission string    `json:"permission"`
	Purpose    string    `json:"purpose"`
	Result     string    `json:"result"` // allowed, denied, conditional, error
	Missing    []string  `json:"missing_context,omitempty"`
	Error      string    `json:"error,omitempty"`
	// DecisionID is the request id of the check in Trellis's decision log.
	DecisionID string `json:"decision_id"`
	CheckedAt  string `json:"checked_at,omitempty"`
}

// ErrNotAuthorized: at least one dataset may not be trained on; nothing was
// trained.
var ErrNotAuthorized = errors.New("the job may not train on every dataset it names")

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "training-job:", err)
		os.Exit(1)
	}
}

// run parses the flags, authorizes the job, writes the decision record to
// --record (stdout by default) and, when every dataset is allowed, trains.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("training-job", flag.ContinueOnError)
	url := fs.String("trellis", "http://127.0.0.1:8181", "base URL of a Trellis node")
	token := fs.String("token", os.Getenv("TRELLIS_TOKEN"), "Trellis token (a reader token is enough); default $TRELLIS_TOKEN")
	var job Job
	fs.StringVar(&job.ID, "job", "job-"+time.Now().UTC().Format("20060102T150405Z"), "job id")
	fs.StringVar(&job.Subject, "subject", "", "who trains, e.g. service_account:trainer_bot")
	fs.StringVar(&job.Purpose, "purpose", "", "what the model is for, e.g. fraud-model")
	fs.StringVar(&job.Reason, "reason", "", "why the job runs, for the record (required)")
	datasets := fs.String("datasets", "", "comma-separated dataset ids, e.g. claims,churn_events")
	record := fs.String("record", "", "file the decision record is appended to (JSON lines); default stdout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for d := range strings.SplitSeq(*datasets, ",") {
		if d = strings.TrimSpace(d); d != "" {
			job.Datasets = append(job.Datasets, d)
		}
	}
	cfg := pep.DefaultConfig(*url, *token)
	cfg.CacheSize = 0 // one decision-log record per decision (see the package comment)
	c, err := pep.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	out := stdout
	if *record != "" {
		f, err := os.OpenFile(*record, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	if _, err := authorize(ctx, c, job, out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "job %s: trained on %s, final loss %.4f\n", job.ID, strings.Join(job.Datasets, ", "), train(job))
	return nil
}

// authorize asks for "train" on each of the job's datasets, appends one
// Record per dataset to record, and returns ErrNotAuthorized (naming the
// datasets) unless every answer is an allow. A job without a subject, a
// reason or a dataset is refused before anything is asked.
func authorize(ctx context.Context, c *pep.Client, job Job, record io.Writer) ([]Record, error) {
	switch {
	case job.Subject == "":
		return nil, errors.New("the job has no subject: pass --subject, e.g. service_account:trainer_bot")
	case strings.TrimSpace(job.Reason) == "":
		return nil, errors.New("the job has no reason: pass --reason, e.g. 'weekly retrain, ticket ML-1207'")
	case len(job.Datasets) == 0:
		return nil, errors.New("the job names no dataset: pass --datasets, e.g. claims")
	}
	enc := json.NewEncoder(record)
	var recs []Record
	var refused []string
	for _, ds := range job.Datasets {
		q := pep.Question{Resource: "dataset:" + ds, Permission: "train", Subject: job.Subject}
		if job.Purpose != "" {
			q.Context = map[string]any{"purpose": job.Purpose}
		}
		d, err := c.Decide(ctx, q)
		r := Record{Time: time.Now().UTC(), Job: job.ID, Reason: job.Reason, Subject: q.Subject, Resource: q.Resource,
			Permission: q.Permission, Purpose: job.Purpose, DecisionID: d.DecisionID, CheckedAt: d.CheckedAt}
		switch {
		case err != nil:
			r.Result, r.Error = "error", err.Error()
		case d.Allowed:
			r.Result = "allowed"
		case d.Conditional:
			r.Result, r.Missing = "conditional", d.Missing
		default:
			r.Result = "denied"
		}
		if r.Result != "allowed" {
			refused = append(refused, fmt.Sprintf("%s (%s)", ds, r.Result))
		}
		if err := enc.Encode(r); err != nil {
			return recs, fmt.Errorf("writing the decision record: %w", err)
		}
		recs = append(recs, r)
	}
	if len(refused) > 0 {
		return recs, fmt.Errorf("%w: %s", ErrNotAuthorized, strings.Join(refused, ", "))
	}
	return recs, nil
}

// train is the stand-in for training: a loss that falls with each epoch.
func train(job Job) float64 {
	loss := 1.0
	for range 10 * len(job.Datasets) {
		loss *= 0.8
	}
	return loss
}
