package main

import (
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/tuple"
)

// Exit codes of trellis check, beyond 0 (allowed), 1 (error) and 2 (usage).
const (
	exitDenied      = 3
	exitConditional = 4
)

func newCheckCommand() *cobra.Command {
	var (
		conn        connFlags
		consistency string
		contextJSON string
		explain     bool
	)
	cmd := &cobra.Command{
		Use:   "check RESOURCE PERMISSION SUBJECT",
		Short: "Ask whether a subject has a permission on a resource",
		Long: `check asks the server whether SUBJECT has PERMISSION on RESOURCE and prints
the answer with the token of the revision it was checked at.

With --explain it also prints how the answer was reached, as a tree.

Exit status (also with --json):
  0  allowed
  3  denied
  4  conditional: a caveat needs context that was not given (see --context)
  1  the check could not be made (server error, unreachable server)
  2  usage error (bad arguments or flags)`,
		Example: `  trellis check dataset:claims read user:ana --context '{"purpose":"fraud-model"}'
  trellis check model:fraud-v2 deploy user:paul --explain
  trellis check dataset:claims read user:ana --consistency at_least_as_fresh:t1.AbC...
  if trellis check dataset:claims read user:ben >/dev/null; then echo yes; fi`,
		Args: exactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkCLIRefs(args[0], args[2]); err != nil {
				return err
			}
			cons, err := parseConsistency(consistency)
			if err != nil {
				return err
			}
			rawCtx, err := parseContextFlag(contextJSON)
			if err != nil {
				return err
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			res, err := c.Check(cmd.Context(), wire.CheckRequest{
				Resource: args[0], Permission: args[1], Subject: args[2],
				Context: rawCtx, Consistency: cons, Explain: explain,
			})
			if err != nil {
				return conn.serverError(err)
			}
			out := cmd.OutOrStdout()
			if conn.json {
				if err := printJSON(out, res); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(out, checkLine(res))
				if res.Trace != nil {
					fmt.Fprintln(out)
					printTrace(out, res.Trace, "", "", true)
				}
			}
			switch res.Result {
			case "allowed":
				return nil
			case "conditional":
				return exitError{code: exitConditional}
			case "denied":
				return exitError{code: exitDenied}
			}
			return fmt.Errorf("the server answered an unknown result %q", res.Result)
		},
	}
	addConnFlags(cmd, &conn)
	addConsistencyFlag(cmd, &consistency)
	cmd.Flags().StringVar(&contextJSON, "context", "", `caveat context as a JSON object, e.g. '{"purpose":"fraud-model"}'`)
	cmd.Flags().BoolVar(&explain, "explain", false, "print how the answer was reached, as a tree")
	return cmd
}

// checkCLIRefs parses the resource and subject locally, for a clear usage error.
func checkCLIRefs(resource, subject string) error {
	if _, err := tuple.ParseObject(resource); err != nil {
		return usageError{fmt.Errorf("RESOURCE %v", err)}
	}
	if _, err := tuple.ParseSubject(subject); err != nil {
		return usageError{fmt.Errorf("SUBJECT %v", err)}
	}
	return nil
}

// checkLine is the one-line human answer, e.g.
// "allowed  (checked at t1.AbC)" or "conditional: missing purpose  (checked at ...)".
func checkLine(res *wire.CheckResponse) string {
	var b strings.Builder
	b.WriteString(res.Result)
	if len(res.MissingContext) > 0 {
		b.WriteString(": missing context " + strings.Join(res.MissingContext, ", "))
	}
	if res.ExpiresAt != nil {
		b.WriteString(" until " + res.ExpiresAt.UTC().Format(time.RFC3339))
	}
	b.WriteString("  (checked at " + res.CheckedAt + ")")
	return b.String()
}

// printTrace prints an explain tree with box-drawing branches:
//
//	allowed  check dataset:claims#read @ user:ana
//	└─ allowed  union
//	   ├─ allowed  relation dataset:claims#reader  [dataset:claims#reader@user:ana]
func printTrace(w io.Writer, t *wire.Trace, prefix, branch string, root bool) {
	var b strings.Builder
	b.WriteString(prefix + branch)
	fmt.Fprintf(&b, "%-11s %s", t.Result, t.Kind)
	detail := t.Detail
	switch {
	case t.Kind == "arrow" && t.Resource == "" && detail["computed"] != "":
		// "arrow project->admin" reads like the schema.
		b.WriteString(" " + t.Relation + "->" + detail["computed"])
		detail = maps.Clone(detail)
		delete(detail, "computed")
	case t.Resource != "" || t.Relation != "":
		b.WriteString(" " + t.Resource)
		if t.Relation != "" {
			b.WriteString("#" + t.Relation)
		}
	}
	if t.Subject != "" {
		b.WriteString(" @ " + t.Subject)
	}
	if len(t.Missing) > 0 {
		b.WriteString("  missing: " + strings.Join(t.Missing, ", "))
	}
	if len(t.Relationships) > 0 {
		b.WriteString("  [" + strings.Join(t.Relationships, ", ") + "]")
	}
	for _, k := range slices.Sorted(maps.Keys(detail)) {
		fmt.Fprintf(&b, "  %s=%s", k, detail[k])
	}
	if t.Cached {
		b.WriteString("  (cached)")
	}
	fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	childPrefix := prefix
	if !root {
		if branch == "└─ " {
			childPrefix += "   "
		} else {
			childPrefix += "│  "
		}
	}
	for i, c := range t.Children {
		br := "├─ "
		if i == len(t.Children)-1 {
			br = "└─ "
		}
		printTrace(w, c, childPrefix, br, false)
	}
}

func newExpandCommand() *cobra.Command {
	var (
		conn        connFlags
		consistency string
	)
	cmd := &cobra.Command{
		Use:   "expand RESOURCE PERMISSION",
		Short: "Print the tree of subjects that have a permission on a resource",
		Long: `expand prints, as a tree, how PERMISSION on RESOURCE is made up: unions,
intersections and exclusions of relations, down to the subjects stored in
each relation. Subject sets (team:ml#member) are listed, not expanded; expand
them in turn, or use lookup-subjects for the flat list of subjects.

Exit status: 0 on success, 1 on an error, 2 on a usage error.`,
		Example: `  trellis expand dataset:claims read
  trellis expand team:ml member --json`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := tuple.ParseObject(args[0]); err != nil {
				return usageError{fmt.Errorf("RESOURCE %v", err)}
			}
			cons, err := parseConsistency(consistency)
			if err != nil {
				return err
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			res, err := c.Expand(cmd.Context(), wire.ExpandRequest{Resource: args[0], Permission: args[1], Consistency: cons})
			if err != nil {
				return conn.serverError(err)
			}
			out := cmd.OutOrStdout()
			if conn.json {
				return printJSON(out, res)
			}
			if res.Tree != nil {
				printExpand(out, res.Tree, "", "", true)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "(read at %s)\n", res.ReadAt)
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	addConsistencyFlag(cmd, &consistency)
	return cmd
}

// printExpand prints an expand tree: operation nodes name their kind and
// object#relation, leaves list their subjects as children.
func printExpand(w io.Writer, n *wire.ExpandNode, prefix, branch string, root bool) {
	line := prefix + branch
	ref := n.Resource
	if n.Relation != "" && !strings.Contains(ref, "#") {
		ref += "#" + n.Relation
	}
	switch n.Kind {
	case "leaf":
		line += ref
	default:
		line += n.Kind
		if ref != "" {
			line += " " + ref
		}
	}
	if n.Via != nil {
		line += "  (via " + expandSubjectText(*n.Via) + ")"
	}
	if n.Kind == "leaf" && len(n.Subjects) == 0 {
		line += "  (no subjects)"
	}
	fmt.Fprintln(w, line)
	childPrefix := prefix
	if !root {
		if branch == "└─ " {
			childPrefix += "   "
		} else {
			childPrefix += "│  "
		}
	}
	total := len(n.Subjects) + len(n.Children)
	i := 0
	next := func() string {
		i++
		if i == total {
			return "└─ "
		}
		return "├─ "
	}
	for _, s := range n.Subjects {
		fmt.Fprintln(w, childPrefix+next()+expandSubjectText(s))
	}
	for _, c := range n.Children {
		printExpand(w, c, childPrefix, next(), false)
	}
}

// expandSubjectText is a subject with its caveat and expiration, if any.
func expandSubjectText(s wire.ExpandSubject) string {
	t := s.Subject
	if s.Caveat != "" {
		t += " [" + s.Caveat + "]"
	}
	if s.Expiration != nil {
		t += " [until " + s.Expiration.UTC().Format(time.RFC3339) + "]"
	}
	return t
}
