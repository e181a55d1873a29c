package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

func newPlanCommand() *cobra.Command {
	var (
		conn        connFlags
		consistency string
		contextJSON string
		subject     string
		permissions string
		resources   string
		resourcesOf string
		limit       int
	)
	cmd := &cobra.Command{
		Use:   "plan --subject SUBJECT --permissions P1,P2,... (--resources R1,R2,... | --resources-of TYPE#RELATION@OBJECT)",
		Short: "For each resource, the first of an ordered list of permissions a subject has",
		Long: `plan asks, for one SUBJECT and a set of resources, which of the permissions
(tiers, best first) is the first that holds on each resource, all at one
revision: e.g. read_raw, else read_masked, else nothing. It prints one line
per resource: the resource and its tier, "-" when none holds. A tier that
holds only under a caveat whose context is missing is printed "conditional"
with the missing parameters, and the lower tiers are not tried; give the
context with --context.

The resources are listed (--resources) or selected (--resources-of
TYPE#RELATION@OBJECT: every TYPE whose RELATION points at OBJECT, e.g.
field#dataset@dataset:claims for every field of dataset:claims); a selection
is read page by page at one revision.

A summary with the revision checked goes to stderr. With --json the answer is
{"plan": [{"resource", "permission", "conditional", "missing_context",
"expires_at"}], "permissions", "checked_at"}.

Exit status: 0 on success (whatever the tiers), 1 on an error, 2 on a usage
error.`,
		Example: `  trellis plan --subject user:ana --permissions read_raw,read_masked --resources-of field#dataset@dataset:claims
  trellis plan --subject user:ana --permissions read_raw,read_masked --resources field:claims_ssn,field:claims_region \
      --context '{"client_ip":"10.1.2.3"}'`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := planRequest(subject, permissions, resources, resourcesOf, limit)
			if err != nil {
				return err
			}
			cons, err := parseConsistency(consistency)
			if err != nil {
				return err
			}
			if req.Context, err = parseContextFlag(contextJSON); err != nil {
				return err
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			var all wire.PlanResponse
			if req.ResourcesOf == nil {
				req.Consistency = cons
				res, err := c.Plan(cmd.Context(), req)
				if err != nil {
					return conn.serverError(err)
				}
				all = *res
			} else {
				all.Plan, all.CheckedAt, err = readPages(cons, limit, func(size int, cursor string, cons *wire.Consistency) ([]wire.PlanEntry, string, string, error) {
					req.Limit, req.Cursor, req.Consistency = size, cursor, cons
					res, err := c.Plan(cmd.Context(), req)
					if err != nil {
						return nil, "", "", err
					}
					all.Permissions = res.Permissions
					return res.Plan, res.NextCursor, res.CheckedAt, nil
				})
				if err != nil {
					return conn.serverError(err)
				}
			}
			out := cmd.OutOrStdout()
			if conn.json {
				return printJSON(out, all)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			for _, e := range all.Plan {
				fmt.Fprintln(tw, planLine(e))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "(%s, checked at %s)\n", plural(len(all.Plan), "resource"), all.CheckedAt)
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	addConsistencyFlag(cmd, &consistency)
	f := cmd.Flags()
	f.StringVar(&subject, "subject", "", "the subject, e.g. user:ana")
	f.StringVar(&permissions, "permissions", "", "the tiers, best first, comma-separated, e.g. read_raw,read_masked")
	f.StringVar(&resources, "resources", "", "the resources, comma-separated, e.g. field:claims_ssn,field:claims_region")
	f.StringVar(&resourcesOf, "resources-of", "", "select the resources: TYPE#RELATION@OBJECT, e.g. field#dataset@dataset:claims")
	f.StringVar(&contextJSON, "context", "", `caveat context as a JSON object, e.g. '{"client_ip":"10.1.2.3"}'`)
	f.IntVar(&limit, "limit", 0, "with --resources-of, print at most this many (0: all)")
	return cmd
}

// planRequest checks the flags locally, for clear usage errors, and builds
// the request.
func planRequest(subject, permissions, resources, resourcesOf string, limit int) (wire.PlanRequest, error) {
	var req wire.PlanRequest
	if subject == "" {
		return req, usageError{errors.New("--subject is required, e.g. --subject user:ana")}
	}
	if _, err := tuple.ParseSubject(subject); err != nil {
		return req, usageError{fmt.Errorf("--subject %v", err)}
	}
	req.Subject = subject
	if permissions == "" {
		return req, usageError{errors.New("--permissions is required: the tiers, best first, e.g. --permissions read_raw,read_masked")}
	}
	req.Permissions = splitList(permissions)
	switch {
	case resources != "" && resourcesOf != "":
		return req, usageError{errors.New("give --resources or --resources-of, not both")}
	case resources == "" && resourcesOf == "":
		return req, usageError{errors.New("give --resources R1,R2,... or --resources-of TYPE#RELATION@OBJECT (e.g. field#dataset@dataset:claims)")}
	case limit < 0:
		return req, usageError{fmt.Errorf("--limit %d: give 0 (no limit) or more", limit)}
	case resources != "":
		if limit != 0 {
			return req, usageError{errors.New("--limit pages --resources-of; with --resources every listed resource is answered")}
		}
		req.Resources = splitList(resources)
		for _, r := range req.Resources {
			if _, err := tuple.ParseObject(r); err != nil {
				return req, usageError{fmt.Errorf("--resources %q: %v", r, err)}
			}
		}
		return req, nil
	}
	sel, err := parseResourcesOf(resourcesOf)
	if err != nil {
		return req, err
	}
	req.ResourcesOf = &sel
	return req, nil
}

// parseResourcesOf reads TYPE#RELATION@OBJECT.
func parseResourcesOf(s string) (wire.ResourceSelector, error) {
	head, obj, ok := strings.Cut(s, "@")
	typ, rel, ok2 := strings.Cut(head, "#")
	if !ok || !ok2 {
		return wire.ResourceSelector{}, usageError{fmt.Errorf("--resources-of %q: write TYPE#RELATION@OBJECT, e.g. field#dataset@dataset:claims", s)}
	}
	if err := tuple.ValidateTypeName(typ); err != nil {
		return wire.ResourceSelector{}, usageError{fmt.Errorf("--resources-of %q: TYPE: %v", s, err)}
	}
	if err := tuple.ValidateName(rel); err != nil {
		return wire.ResourceSelector{}, usageError{fmt.Errorf("--resources-of %q: RELATION: %v", s, err)}
	}
	if _, err := tuple.ParseSubject(obj); err != nil {
		return wire.ResourceSelector{}, usageError{fmt.Errorf("--resources-of %q: OBJECT %v", s, err)}
	}
	return wire.ResourceSelector{Type: typ, Relation: rel, Object: obj}, nil
}

// splitList splits a comma-separated flag, dropping spaces around items.
func splitList(s string) []string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}

// planLine is one entry: resource, tab, tier ("-" for none) and its notes.
func planLine(e wire.PlanEntry) string {
	if e.Error != nil {
		return e.Resource + "\terror: " + e.Error.Message
	}
	tier := e.Permission
	if tier == "" {
		tier = "-"
	}
	if e.Conditional {
		tier += "  conditional"
		if len(e.MissingContext) > 0 {
			tier += " (missing context " + strings.Join(e.MissingContext, ", ") + ")"
		}
	}
	if e.ExpiresAt != nil {
		tier += "  until " + e.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return e.Resource + "\t" + tier
}
