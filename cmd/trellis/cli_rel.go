package main

import (
	"bufio"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/client"
	"github.com/trellis-authz/trellis/tuple"
)

// cliPageSize is how many results the paging commands ask for per request.
const cliPageSize = 1000

func newWriteCommand() *cobra.Command {
	var (
		conn  connFlags
		wf    writeFlags
		op    string
		files []string
	)
	cmd := &cobra.Command{
		Use:   "write RELATIONSHIP... | write -f FILE",
		Short: "Create, touch or delete relationships, all or nothing",
		Long: `write applies relationships in one atomic write: all of them or none.

--op says what to do with each: touch (the default) creates it or replaces its
caveat and expiration; create fails with already_exists when it is there;
delete removes it (deleting an absent relationship is not an error).

Relationships come as arguments or from files (-f FILE, "-" for stdin): one
per line; blank lines and lines starting with // or # are skipped. For large
files use "trellis import", which streams.

Every write carries an idempotency key. Without --idempotency-key a new one is
made and printed: running the same write again with it applies it at most
once, so a write whose outcome is unknown (a timeout) can be retried safely.

It prints the token of the written revision; pass it to a later read with
--consistency at_least_as_fresh:TOKEN to read your own write.

Exit status: 0 written, 1 refused by the server or failed, 2 usage error
(including a malformed relationship argument).`,
		Example: `  trellis write 'dataset:claims#reader@user:ana' 'dataset:claims#reader@user:bob'
  trellis write --op delete 'dataset:claims#reader@user:bob'
  trellis write 'dataset:claims#reader@user:dan[purpose_is:{"allowed":["fraud-model"]}]'
  trellis write -f grants.txt --reason "JIRA-123 quarterly access review"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := tuple.ParseOp(op)
			if err != nil {
				return usageError{fmt.Errorf("--op %q: use create, touch or delete", op)}
			}
			var rels []string
			for _, a := range args {
				if _, err := tuple.Parse(a); err != nil {
					return usageError{err}
				}
				rels = append(rels, a)
			}
			for _, f := range files {
				more, err := readRelationshipLines(cmd.InOrStdin(), f)
				if err != nil {
					return err
				}
				rels = append(rels, more...)
			}
			if len(rels) == 0 {
				return usageError{fmt.Errorf("no relationships to write; give them as arguments (type:id#relation@subject) or with -f FILE\n\n%s", cmd.UsageString())}
			}
			key, err := wf.key()
			if err != nil {
				return err
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			req := wire.WriteRelationshipsRequest{Reason: wf.reason, IdempotencyKey: key}
			for _, r := range rels {
				req.Updates = append(req.Updates, wire.Update{Op: o.String(), Relationship: r})
			}
			res, err := c.WriteRelationships(cmd.Context(), req)
			if err != nil {
				var ce *client.Error
				if errors.As(err, &ce) && ce.Code == "too_many_updates" {
					return fmt.Errorf("%w\ntrellis: nothing was written; for many relationships use: trellis import FILE", conn.serverError(err))
				}
				return wf.failed(conn.serverError(err), false)
			}
			out := cmd.OutOrStdout()
			if conn.json {
				return printJSON(out, map[string]any{"written_at": res.WrittenAt, "idempotency_key": key, "updates": len(rels), "op": o.String()})
			}
			verb := map[string]string{"create": "created", "touch": "touched", "delete": "deleted"}[o.String()]
			fmt.Fprintf(out, "%s %s at %s\n", verb, plural(len(rels), "relationship"), res.WrittenAt)
			if wf.generated {
				fmt.Fprintf(out, "idempotency key %s\n", key)
			}
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	addWriteFlags(cmd, &wf)
	cmd.Flags().StringVar(&op, "op", "touch", "create, touch or delete")
	cmd.Flags().StringArrayVarP(&files, "file", "f", nil, `read relationships from FILE, one per line ("-" for stdin); repeatable`)
	return cmd
}

// readRelationshipLines reads a relationships file (path "-": stdin), one per
// line, skipping blank lines and // or # comments. Errors name file and line.
func readRelationshipLines(stdin io.Reader, path string) ([]string, error) {
	var r io.Reader = stdin
	name := "stdin"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, name = f, path
	}
	var rels []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "//") || strings.HasPrefix(line, "#") {
			continue
		}
		if _, err := tuple.Parse(line); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		rels = append(rels, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return rels, nil
}

func newReadCommand() *cobra.Command {
	var (
		conn        connFlags
		ff          filterFlags
		consistency string
		limit       int
	)
	cmd := &cobra.Command{
		Use:   "read [RESOURCE[#RELATION][@SUBJECT]]",
		Short: "List the relationships matching a filter",
		Long: `read prints the stored relationships that match a filter, one per line, in
the syntax write and import accept. The filter is a pattern argument,
flags, or both: a resource type or type:id, optionally #relation, optionally
@subject (type, type:id or type:id#relation).

A summary with the revision read goes to stderr, so stdout stays a clean
list. With --json the answer is {"relationships": [...], "read_at": TOKEN}.

Exit status: 0 on success (also when nothing matches), 1 on an error, 2 on a
usage error.`,
		Example: `  trellis read dataset:claims
  trellis read 'dataset:claims#reader'
  trellis read --resource-type dataset --relation reader --subject user:ana
  trellis read 'team#member@team:research#member'`,
		Args: cliOptionalArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			filter, err := ff.filter(cliFirstArg(args))
			if err != nil {
				return err
			}
			cons, err := parseConsistency(consistency)
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
			rels, readAt, err := readAllRelationships(cmd, c, filter, cons, limit)
			if err != nil {
				return conn.serverError(err)
			}
			out := cmd.OutOrStdout()
			if conn.json {
				return printJSON(out, wire.ReadRelationshipsResponse{Relationships: rels, ReadAt: readAt})
			}
			for _, r := range rels {
				fmt.Fprintln(out, r)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "(%s, read at %s)\n", plural(len(rels), "relationship"), readAt)
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	addFilterFlags(cmd, &ff)
	addConsistencyFlag(cmd, &consistency)
	cmd.Flags().IntVar(&limit, "limit", 0, "print at most this many (0: all)")
	return cmd
}

// readAll reads every page (up to limit, 0: all). Pages after the first are
// read at the first page's revision, so the list is one consistent snapshot.
func readAllRelationships(cmd *cobra.Command, c *client.Client, f tuple.Filter, cons *wire.Consistency, limit int) ([]string, string, error) {
	return readPages(cons, limit, func(size int, cursor string, cons *wire.Consistency) ([]string, string, string, error) {
		res, err := c.ReadRelationships(cmd.Context(), wire.ReadRelationshipsRequest{Filter: f, Limit: size, Cursor: cursor, Consistency: cons})
		if err != nil {
			return nil, "", "", err
		}
		return res.Relationships, res.NextCursor, res.ReadAt, nil
	})
}

// readPages follows a paginated read until its cursor ends or limit items
// (0: no limit) are read. Pages after the first are read at the first page's
// revision, so the whole answer is one snapshot. fetch gets the page size, the
// cursor and the consistency, and returns the page, the next cursor and the
// token it read at.
func readPages[T any](cons *wire.Consistency, limit int, fetch func(size int, cursor string, cons *wire.Consistency) ([]T, string, string, error)) ([]T, string, error) {
	all := []T{}
	cursor, readAt := "", ""
	for {
		size := cliPageSize
		if limit > 0 {
			size = min(cliPageSize, limit-len(all))
		}
		page, next, at, err := fetch(size, cursor, cons)
		if err != nil {
			return nil, "", err
		}
		if readAt == "" {
			readAt = at
		}
		all = append(all, page...)
		if next == "" || (limit > 0 && len(all) >= limit) {
			return all, readAt, nil
		}
		cursor = next
		cons = &wire.Consistency{Mode: wire.AtExactSnapshot, Token: readAt}
	}
}

func newDeleteCommand() *cobra.Command {
	var (
		conn  connFlags
		wf    writeFlags
		ff    filterFlags
		limit int
	)
	cmd := &cobra.Command{
		Use:   "delete [RESOURCE[#RELATION][@SUBJECT]]",
		Short: "Delete every relationship matching a filter",
		Long: `delete removes every relationship matching a filter (the same pattern and
flags as read; run read first to see what will go). --limit makes it fail,
deleting nothing, when more than that many would be deleted.

It prints how many were deleted and the token of the written revision.

Exit status: 0 on success (also when nothing matched), 1 on an error, 2 on a
usage error.`,
		Example: `  trellis delete --resource-type dataset --resource-id claims --relation reader
  trellis delete 'dataset:claims#reader@user:bob'
  trellis delete --subject user:mallory --resource-type team --limit 10`,
		Args: cliOptionalArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			filter, err := ff.filter(cliFirstArg(args))
			if err != nil {
				return err
			}
			if limit < 0 {
				return usageError{fmt.Errorf("--limit %d: give 0 (no limit) or more", limit)}
			}
			key, err := wf.key()
			if err != nil {
				return err
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			res, err := c.DeleteRelationships(cmd.Context(), wire.DeleteRelationshipsRequest{
				Filter: filter, Limit: limit, Reason: wf.reason, IdempotencyKey: key,
			})
			if err != nil {
				return wf.failed(conn.serverError(err), false)
			}
			out := cmd.OutOrStdout()
			if conn.json {
				return printJSON(out, map[string]any{"written_at": res.WrittenAt, "deleted": res.Deleted, "idempotency_key": key})
			}
			fmt.Fprintf(out, "deleted %s at %s\n", plural(res.Deleted, "relationship"), res.WrittenAt)
			if wf.generated {
				fmt.Fprintf(out, "idempotency key %s\n", key)
			}
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	addWriteFlags(cmd, &wf)
	addFilterFlags(cmd, &ff)
	cmd.Flags().IntVar(&limit, "limit", 0, "fail, deleting nothing, if more than this many match (0: no limit)")
	return cmd
}
