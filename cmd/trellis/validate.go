package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/client"
	"github.com/trellis-authz/trellis/engine"
	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/validation"
)

func newValidateCommand() *cobra.Command {
	var (
		update  bool
		asJSON  bool
		against string
		token   string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Run policy files: assertions and expected permissions (policy-as-code)",
		Long: `validate runs each policy file (YAML: schema or schemaFile, relationships,
assertions, validation) on a temporary in-process store and reports every
failed assertion with what was expected, what came out and the explain trace,
and every validation entry that differs from what the engine computes.
Arguments may be glob patterns ("policies/*.yaml").

  --update   rewrite each file's validation block from what the engine computes
             (the rest of the file, comments included, is kept), so a reviewer
             sees in the diff what a change grants
  --json     print one JSON report per file (an array) instead of text
  --against  run the assertions against a live server (its schema and data)
             instead of the file's relationships

Exit status: 0 when everything passes, 1 when anything fails, 2 for a usage
error or a malformed file (each problem names its line).`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			paths, err := expandGlobs(args)
			if err != nil {
				return usageError{err}
			}
			if update && against != "" {
				return usageError{errors.New("--update rewrites files from the file's own relationships; it cannot be combined with --against")}
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			var ev validation.Evaluator
			if against != "" {
				var opts []client.Option
				if token == "" {
					token = os.Getenv("TRELLIS_TOKEN")
				}
				if token != "" {
					opts = append(opts, client.WithToken(token))
				}
				opts = append(opts, client.WithTimeout(timeout))
				ev = remote{c: client.New(against, opts...)}
			}
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			code := 0
			var reports []*validation.Report
			for _, path := range paths {
				f, err := validation.ParseFile(path)
				if err != nil {
					fmt.Fprintln(errOut, err)
					code = 2
					continue
				}
				rep, err := validation.Run(ctx, f, validation.Options{Evaluator: ev, Generate: update})
				if err != nil {
					fmt.Fprintln(errOut, err)
					var list validation.ErrorList
					if errors.As(err, &list) {
						code = 2
					} else {
						code = max(code, 1)
					}
					continue
				}
				if update {
					if err := updateFile(path, rep); err != nil {
						fmt.Fprintf(errOut, "%s: %v\n", path, err)
						code = max(code, 1)
						continue
					}
					// Validation entries now match by construction; only
					// assertions can still fail.
					rep.Failures = 0
					for i := range rep.Expected {
						rep.Expected[i].Passed, rep.Expected[i].Missing, rep.Expected[i].Unexpected = true, nil, nil
					}
					for _, a := range rep.Assertions {
						if !a.Passed {
							rep.Failures++
						}
					}
					rep.Passed = rep.Failures == 0
				}
				if !rep.Passed && code == 0 {
					code = 1
				}
				if asJSON {
					reports = append(reports, rep)
					continue
				}
				if err := rep.WriteText(out); err != nil {
					return err
				}
			}
			if asJSON {
				if reports == nil {
					reports = []*validation.Report{}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(reports); err != nil {
					return err
				}
			}
			if code != 0 {
				return exitError{code: code}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&update, "update", false, "rewrite the validation block of each file from what the engine computes")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the reports as JSON")
	cmd.Flags().StringVar(&against, "against", "", "run against a live server at this URL (e.g. http://127.0.0.1:8080) instead of the file's relationships")
	cmd.Flags().StringVar(&token, "token", "", "bearer token for --against (default $TRELLIS_TOKEN)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "timeout of each request with --against")
	return cmd
}

// expandGlobs expands each argument that is a glob pattern; a pattern that
// matches nothing is an error, and so is a malformed one.
func expandGlobs(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if !hasMeta(a) {
			out = append(out, a)
			continue
		}
		m, err := filepath.Glob(a)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", a, err)
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("pattern %q matches no file", a)
		}
		out = append(out, m...)
	}
	return out, nil
}

func hasMeta(s string) bool {
	for _, c := range s {
		switch c {
		case '*', '?', '[':
			return true
		}
	}
	return false
}

func updateFile(path string, rep *validation.Report) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	next, err := validation.Update(data, rep)
	if err != nil {
		return err
	}
	if string(next) == string(data) {
		return nil
	}
	return writeFileKeepMode(path, next)
}

// remote adapts the REST client to validation.Evaluator for --against.
type remote struct{ c *client.Client }

var full = &wire.Consistency{Mode: wire.FullyConsistent}

func contextJSON(m map[string]any) (json.RawMessage, error) {
	if m == nil {
		return nil, nil
	}
	return json.Marshal(m)
}

func (r remote) Check(ctx context.Context, req engine.CheckRequest) (engine.CheckResult, error) {
	cj, err := contextJSON(req.Context)
	if err != nil {
		return engine.CheckResult{}, err
	}
	resp, err := r.c.Check(ctx, wire.CheckRequest{Resource: req.Resource.String(), Permission: req.Permission,
		Subject: req.Subject.String(), Context: cj, Consistency: full, Explain: req.Explain})
	if err != nil {
		return engine.CheckResult{}, engineError(err)
	}
	res, err := parseResult(resp.Result)
	if err != nil {
		return engine.CheckResult{}, err
	}
	return engine.CheckResult{Result: res, MissingContext: resp.MissingContext, ExpiresAt: resp.ExpiresAt, Trace: traceFromWire(resp.Trace)}, nil
}

// traceFromWire turns a remote explain trace back into the engine's shape,
// which the policy report prints.
func traceFromWire(t *wire.Trace) *engine.Trace {
	if t == nil {
		return nil
	}
	out := &engine.Trace{Kind: t.Kind, Resource: t.Resource, Relation: t.Relation, Subject: t.Subject, Result: t.Result,
		Missing: t.Missing, Tuples: t.Relationships, Cached: t.Cached, Detail: t.Detail}
	for _, c := range t.Children {
		out.Children = append(out.Children, traceFromWire(c))
	}
	return out
}

func (r remote) LookupSubjects(ctx context.Context, req engine.LookupSubjectsRequest) (engine.LookupSubjectsResult, error) {
	cj, err := contextJSON(req.Context)
	if err != nil {
		return engine.LookupSubjectsResult{}, err
	}
	resp, err := r.c.LookupSubjects(ctx, wire.LookupSubjectsRequest{Resource: req.Resource.String(), Permission: req.Permission,
		SubjectType: req.SubjectType, SubjectRelation: req.SubjectRelation, Context: cj, Limit: req.Limit, Cursor: req.Cursor, Consistency: full})
	if err != nil {
		return engine.LookupSubjectsResult{}, err
	}
	out := engine.LookupSubjectsResult{NextCursor: resp.NextCursor}
	for _, s := range resp.Subjects {
		res, err := parseResult(s.Result)
		if err != nil {
			return engine.LookupSubjectsResult{}, err
		}
		out.Subjects = append(out.Subjects, engine.LookupSubject{ID: s.ID, Result: res, MissingContext: s.MissingContext, Excluded: s.Excluded})
	}
	return out, nil
}

func (r remote) Expand(ctx context.Context, resource tuple.ObjectRef, permission string) (*engine.ExpandNode, error) {
	resp, err := r.c.Expand(ctx, wire.ExpandRequest{Resource: resource.String(), Permission: permission, Consistency: full})
	if err != nil {
		return nil, err
	}
	return expandFromWire(resp.Tree), nil
}

// expandFromWire turns a remote expand tree back into the engine's shape.
func expandFromWire(n *wire.ExpandNode) *engine.ExpandNode {
	if n == nil {
		return nil
	}
	out := &engine.ExpandNode{Kind: n.Kind, Resource: n.Resource, Relation: n.Relation}
	if n.Via != nil {
		out.Via = &engine.ExpandSubject{Subject: n.Via.Subject, Caveat: n.Via.Caveat, Expiration: n.Via.Expiration}
	}
	for _, s := range n.Subjects {
		out.Subjects = append(out.Subjects, engine.ExpandSubject{Subject: s.Subject, Caveat: s.Caveat, Expiration: s.Expiration})
	}
	for _, c := range n.Children {
		out.Children = append(out.Children, expandFromWire(c))
	}
	return out
}

// engineError gives the server's caveat errors back their engine sentinel,
// so a bad context fails one assertion rather than the whole run.
func engineError(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) {
		switch ce.Code {
		case "invalid_context":
			return fmt.Errorf("%w: %s", engine.ErrInvalidContext, ce.Message)
		case "caveat_evaluation_failed":
			return fmt.Errorf("%w: %s", engine.ErrCaveatEvaluation, ce.Message)
		}
	}
	return err
}

func parseResult(s string) (engine.Result, error) {
	for _, r := range []engine.Result{engine.Allowed, engine.Denied, engine.Conditional} {
		if r.String() == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("server answered result %q; expected allowed, denied or conditional", s)
}
