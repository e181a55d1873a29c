package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/client"
	"github.com/trellis-authz/trellis/tuple"
)

// defaultEndpoint is where the client commands look for a node when neither
// --endpoint nor TRELLIS_ENDPOINT says otherwise.
const defaultEndpoint = "http://127.0.0.1:8080"

// connFlags are the flags every client command has: where the server is, who
// is asking, and how to print.
type connFlags struct {
	endpoint string
	token    string
	timeout  time.Duration
	json     bool
}

// addConnFlags registers --endpoint, --token, --timeout and --json on cmd as
// persistent flags (so they also reach the subcommands of a group).
func addConnFlags(cmd *cobra.Command, f *connFlags) {
	fs := cmd.PersistentFlags()
	fs.StringVar(&f.endpoint, "endpoint", envOr("TRELLIS_ENDPOINT", defaultEndpoint), "node API URL ($TRELLIS_ENDPOINT)")
	fs.StringVar(&f.token, "token", envOr("TRELLIS_TOKEN", ""), "bearer token ($TRELLIS_TOKEN)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up on a request after this long (0: never)")
	fs.BoolVar(&f.json, "json", false, "print the server's answer as JSON, for scripts")
}

// client returns a client for the flags, or a usage error for a bad endpoint.
func (f *connFlags) client() (*client.Client, error) {
	u, err := url.Parse(f.endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError{fmt.Errorf("--endpoint %q: want a URL such as %s", f.endpoint, defaultEndpoint)}
	}
	opts := []client.Option{client.WithTimeout(f.timeout)}
	if f.token != "" {
		opts = append(opts, client.WithToken(f.token))
	}
	return client.New(f.endpoint, opts...), nil
}

// serverError translates an error from the client into what the user reads:
// "<code>: <message>" for an answer of the server, a hint about --endpoint
// when the server cannot be reached. execute prefixes "trellis: ".
func (f *connFlags) serverError(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) {
		msg := ce.Code + ": " + ce.Message
		if ce.RequestID != "" {
			msg += " (request " + ce.RequestID + ")"
		}
		return cliError{msg: msg, err: err}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return cliError{msg: fmt.Sprintf("cannot reach %s: %v (is the server running? set --endpoint or TRELLIS_ENDPOINT)", f.endpoint, ue.Err), err: err}
	}
	return err
}

// cliError is an error shown as msg that still unwraps to the original.
type cliError struct {
	msg string
	err error
}

func (e cliError) Error() string { return e.msg }
func (e cliError) Unwrap() error { return e.err }

// printJSON writes v indented, with a final newline.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// addConsistencyFlag registers --consistency on a reading command.
func addConsistencyFlag(cmd *cobra.Command, s *string) {
	cmd.Flags().StringVar(s, "consistency", "", "minimize_latency (default), fully_consistent, at_least_as_fresh:TOKEN or exact:TOKEN")
}

// parseConsistency reads the --consistency flag; "" means the server default.
func parseConsistency(s string) (*wire.Consistency, error) {
	mode, token, hasToken := strings.Cut(strings.TrimSpace(s), ":")
	switch mode {
	case "":
		return nil, nil
	case wire.MinimizeLatency, wire.FullyConsistent:
		if hasToken {
			return nil, usageError{fmt.Errorf("--consistency %s takes no token; drop %q", mode, ":"+token)}
		}
		return &wire.Consistency{Mode: mode}, nil
	case wire.AtLeastAsFresh, "exact", wire.AtExactSnapshot:
		if token == "" {
			return nil, usageError{fmt.Errorf("--consistency %s needs a token: %s:TOKEN, with a token printed by a write or read (e.g. t1.AbC...)", mode, mode)}
		}
		if mode == "exact" {
			mode = wire.AtExactSnapshot
		}
		return &wire.Consistency{Mode: mode, Token: token}, nil
	}
	return nil, usageError{fmt.Errorf("--consistency %q: use minimize_latency, fully_consistent, at_least_as_fresh:TOKEN or exact:TOKEN", s)}
}

// parseContextFlag checks that --context is one JSON object.
func parseContextFlag(s string) (json.RawMessage, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if _, err := tuple.ParseContext([]byte(s)); err != nil {
		return nil, usageError{fmt.Errorf("--context %s: %v; give a JSON object, e.g. --context '{\"purpose\":\"fraud-model\"}'", s, err)}
	}
	return json.RawMessage(s), nil
}

// writeFlags are the flags of the commands that change data.
type writeFlags struct {
	reason         string
	idempotencyKey string
	generated      bool // the key was made up here, not given
}

func addWriteFlags(cmd *cobra.Command, w *writeFlags) {
	cmd.Flags().StringVar(&w.reason, "reason", "", "why: recorded in the audit log")
	cmd.Flags().StringVar(&w.idempotencyKey, "idempotency-key", "", "UUID that makes a retry of this write apply at most once (default: a new one, printed)")
}

// key returns the idempotency key to send, generating one when none was given.
func (w *writeFlags) key() (string, error) {
	if w.idempotencyKey == "" {
		w.idempotencyKey, w.generated = uuid.NewString(), true
		return w.idempotencyKey, nil
	}
	if _, err := uuid.Parse(w.idempotencyKey); err != nil {
		return "", usageError{fmt.Errorf("--idempotency-key %q is not a UUID: %v", w.idempotencyKey, err)}
	}
	return w.idempotencyKey, nil
}

// failed adds the retry hint to a failed write whose outcome may be unknown
// (a timeout, an unreachable or overloaded server) or partial (always, for
// an import): with the same key the retry applies at most once.
func (w *writeFlags) failed(err error, always bool) error {
	var ce *client.Error
	if always || !errors.As(err, &ce) || ce.Status >= 500 || ce.Status == 429 || ce.Code == "outcome_unknown" || ce.Code == "deadline_exceeded" {
		return retryHint{err: err, key: w.idempotencyKey}
	}
	return err
}

// retryHint is a failed write's error followed by how to retry it safely.
type retryHint struct {
	err error
	key string
}

func (e retryHint) Error() string {
	return e.err.Error() + "\ntrellis: to retry safely, run the same command with --idempotency-key " + e.key
}
func (e retryHint) Unwrap() error { return e.err }

// filterFlags select relationships (read, delete, export).
type filterFlags struct {
	resourceType, resourceID, resourceIDPrefix, relation, subject string
}

func addFilterFlags(cmd *cobra.Command, f *filterFlags) {
	fs := cmd.Flags()
	fs.StringVar(&f.resourceType, "resource-type", "", "resource type, e.g. dataset")
	fs.StringVar(&f.resourceID, "resource-id", "", "resource ID, e.g. claims (needs --resource-type)")
	fs.StringVar(&f.resourceIDPrefix, "resource-id-prefix", "", "resource IDs starting with this")
	fs.StringVar(&f.relation, "relation", "", "relation, e.g. reader")
	fs.StringVar(&f.subject, "subject", "", "subject: type, type:id or type:id#relation, e.g. user:ana")
}

// filter builds the filter from the flags and an optional positional
// pattern RESOURCE[#RELATION][@SUBJECT], where RESOURCE is type or type:id.
func (f *filterFlags) filter(pattern string) (tuple.Filter, error) {
	var out tuple.Filter
	set := func(dst *string, v, what string) error {
		if v == "" {
			return nil
		}
		if *dst != "" && *dst != v {
			return usageError{fmt.Errorf("%s given twice (%q and %q)", what, *dst, v)}
		}
		*dst = v
		return nil
	}
	subject := f.subject
	if pattern != "" {
		head, sub, hasSub := strings.Cut(pattern, "@")
		res, rel, _ := strings.Cut(head, "#")
		typ, id, _ := strings.Cut(res, ":")
		if hasSub && sub == "" {
			return out, usageError{fmt.Errorf("%q ends with '@'; name a subject after it or drop the '@'", pattern)}
		}
		if err := set(&out.ResourceType, typ, "resource type"); err != nil {
			return out, err
		}
		if err := set(&out.ResourceID, id, "resource ID"); err != nil {
			return out, err
		}
		if err := set(&out.Relation, rel, "relation"); err != nil {
			return out, err
		}
		if hasSub {
			if subject != "" && subject != sub {
				return out, usageError{fmt.Errorf("subject given twice (%q and %q)", subject, sub)}
			}
			subject = sub
		}
	}
	for _, e := range []struct {
		dst  *string
		v    string
		what string
	}{
		{&out.ResourceType, f.resourceType, "resource type"},
		{&out.ResourceID, f.resourceID, "resource ID"},
		{&out.ResourceIDPrefix, f.resourceIDPrefix, "resource ID prefix"},
		{&out.Relation, f.relation, "relation"},
	} {
		if err := set(e.dst, e.v, e.what); err != nil {
			return out, err
		}
	}
	if subject != "" {
		obj, rel, hasRel := strings.Cut(subject, "#")
		typ, id, _ := strings.Cut(obj, ":")
		sf := &tuple.SubjectFilter{Type: typ, ID: id}
		if hasRel {
			sf.Relation = &rel
		}
		out.Subject = sf
	}
	if err := out.Validate(); err != nil {
		return out, usageError{fmt.Errorf("%v; e.g. trellis read dataset:claims, or --resource-type dataset --relation reader --subject user:ana", err)}
	}
	return out, nil
}

// cliOptionalArg is cobra.MaximumNArgs(1) reporting a usage error.
func cliOptionalArg(cmd *cobra.Command, args []string) error {
	if len(args) > 1 {
		return usageError{fmt.Errorf("at most one argument, got %d: %q\n\n%s", len(args), args, cmd.UsageString())}
	}
	return nil
}

// exactArgs is cobra.ExactArgs reporting a usage error (exit status 2).
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("want %d arguments, got %d\n\n%s", n, len(args), cmd.UsageString())}
		}
		return nil
	}
}

// cliFirstArg returns args[0], or "" when there is none.
func cliFirstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
