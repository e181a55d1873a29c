package main

import (
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/tuple"
)

func newLookupResourcesCommand() *cobra.Command {
	var (
		conn        connFlags
		consistency string
		contextJSON string
		limit       int
	)
	cmd := &cobra.Command{
		Use:   "lookup-resources RESOURCE_TYPE PERMISSION SUBJECT",
		Short: "List the resources of a type a subject has a permission on",
		Long: `lookup-resources prints each resource of RESOURCE_TYPE on which SUBJECT has
PERMISSION, one per line. A resource granted only under a caveat whose
context is missing is followed by "conditional" and the missing parameters;
give them with --context.

A summary with the revision read goes to stderr. With --json the answer is
{"resources": [{"id", "result", "missing_context"}], "read_at": TOKEN}.

Exit status: 0 on success (also when none is found), 1 on an error, 2 on a
usage error.`,
		Example: `  trellis lookup-resources dataset read user:ana
  trellis lookup-resources dataset read user:dan --context '{"purpose":"fraud-model"}'`,
		Args: exactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := tuple.ValidateTypeName(args[0]); err != nil {
				return usageError{fmt.Errorf("RESOURCE_TYPE %q: %v", args[0], err)}
			}
			if _, err := tuple.ParseSubject(args[2]); err != nil {
				return usageError{fmt.Errorf("SUBJECT %v", err)}
			}
			cons, err := parseConsistency(consistency)
			if err != nil {
				return err
			}
			rawCtx, err := parseContextFlag(contextJSON)
			if err != nil {
				return err
			}
			if limit < 0 {
				return usageError{fmt.Errorf("--limit %d: give 0 (no limit) or more", limit)}
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			req := wire.LookupResourcesRequest{ResourceType: args[0], Permission: args[1], Subject: args[2], Context: rawCtx}
			var all wire.LookupResourcesResponse
			all.Resources, all.ReadAt, err = readPages(cons, limit, func(size int, cursor string, cons *wire.Consistency) ([]wire.LookupResource, string, string, error) {
				req.Limit, req.Cursor, req.Consistency = size, cursor, cons
				res, err := c.LookupResources(cmd.Context(), req)
				if err != nil {
					return nil, "", "", err
				}
				return res.Resources, res.NextCursor, res.ReadAt, nil
			})
			if err != nil {
				return conn.serverError(err)
			}
			out := cmd.OutOrStdout()
			if conn.json {
				return printJSON(out, all)
			}
			for _, r := range all.Resources {
				fmt.Fprintln(out, args[0]+":"+r.ID+resultSuffix(r.Result, r.MissingContext))
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "(%s, read at %s)\n", plural(len(all.Resources), "resource"), all.ReadAt)
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	addConsistencyFlag(cmd, &consistency)
	cmd.Flags().StringVar(&contextJSON, "context", "", `caveat context as a JSON object, e.g. '{"purpose":"fraud-model"}'`)
	cmd.Flags().IntVar(&limit, "limit", 0, "print at most this many (0: all)")
	return cmd
}

func newLookupSubjectsCommand() *cobra.Command {
	var (
		conn        connFlags
		consistency string
		contextJSON string
		limit       int
	)
	cmd := &cobra.Command{
		Use:   "lookup-subjects RESOURCE PERMISSION SUBJECT_TYPE[#RELATION]",
		Short: "List the subjects of a type that have a permission on a resource",
		Long: `lookup-subjects prints each subject of SUBJECT_TYPE that has PERMISSION on
RESOURCE, one per line, with subject sets expanded. A wildcard (user:*) is
followed by the subjects it excludes; a subject granted only under a caveat
whose context is missing is followed by "conditional" and the missing
parameters. SUBJECT_TYPE#RELATION looks up subject sets (team#member).

A summary with the revision read goes to stderr. With --json the answer is
{"subjects": [{"id", "result", "missing_context", "excluded"}], "read_at": TOKEN}.

Exit status: 0 on success (also when none is found), 1 on an error, 2 on a
usage error.`,
		Example: `  trellis lookup-subjects dataset:claims read user
  trellis lookup-subjects project:fraud build team#member`,
		Args: exactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := tuple.ParseObject(args[0]); err != nil {
				return usageError{fmt.Errorf("RESOURCE %v", err)}
			}
			subjectType, subjectRel, _ := strings.Cut(args[2], "#")
			if err := tuple.ValidateTypeName(subjectType); err != nil {
				return usageError{fmt.Errorf("SUBJECT_TYPE %q: %v", args[2], err)}
			}
			cons, err := parseConsistency(consistency)
			if err != nil {
				return err
			}
			rawCtx, err := parseContextFlag(contextJSON)
			if err != nil {
				return err
			}
			if limit < 0 {
				return usageError{fmt.Errorf("--limit %d: give 0 (no limit) or more", limit)}
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			req := wire.LookupSubjectsRequest{Resource: args[0], Permission: args[1], SubjectType: subjectType, SubjectRelation: subjectRel, Context: rawCtx}
			var all wire.LookupSubjectsResponse
			all.Subjects, all.ReadAt, err = readPages(cons, limit, func(size int, cursor string, cons *wire.Consistency) ([]wire.LookupSubject, string, string, error) {
				req.Limit, req.Cursor, req.Consistency = size, cursor, cons
				res, err := c.LookupSubjects(cmd.Context(), req)
				if err != nil {
					return nil, "", "", err
				}
				return res.Subjects, res.NextCursor, res.ReadAt, nil
			})
			if err != nil {
				return conn.serverError(err)
			}
			out := cmd.OutOrStdout()
			if conn.json {
				return printJSON(out, all)
			}
			suffix := ""
			if subjectRel != "" {
				suffix = "#" + subjectRel
			}
			for _, s := range all.Subjects {
				line := subjectType + ":" + s.ID + suffix + resultSuffix(s.Result, s.MissingContext)
				if len(s.Excluded) > 0 {
					line += "  except " + strings.Join(s.Excluded, ", ")
				}
				fmt.Fprintln(out, line)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "(%s, read at %s)\n", plural(len(all.Subjects), "subject"), all.ReadAt)
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	addConsistencyFlag(cmd, &consistency)
	cmd.Flags().StringVar(&contextJSON, "context", "", `caveat context as a JSON object, e.g. '{"purpose":"fraud-model"}'`)
	cmd.Flags().IntVar(&limit, "limit", 0, "print at most this many (0: all)")
	return cmd
}

// resultSuffix marks a lookup result that is not plainly allowed.
func resultSuffix(result string, missing []string) string {
	if result == "" || result == "allowed" {
		return ""
	}
	s := "  " + result
	if len(missing) > 0 {
		s += " (missing context " + strings.Join(missing, ", ") + ")"
	}
	return s
}
