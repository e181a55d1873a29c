package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/client"
)

// newAlertsCommand is "trellis alerts": the alert rule set and its dead
// letters (docs/alerts.md). Every subcommand needs the admin role.
func newAlertsCommand() *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "Show, set and test the alert rules; list, retry and drop failed deliveries (admin)",
		Long: `alerts manages the cluster's alert rules: which relationship, schema,
decision and audit events are delivered to which signed webhook (see
docs/alerts.md). A rules file is {"rules": [...]} in JSON, or the same in
YAML ("rules:" and a list); "-" reads it from stdin.

Exit status: 0 on success, 1 on an error (a bad rules file, a refusal of
the server, a webhook that does not answer "alerts test"), 2 on a usage error.`,
	}
	addConnFlags(cmd, &conn)
	cmd.AddCommand(newAlertsGetCommand(&conn), newAlertsSetCommand(&conn), newAlertsTestCommand(&conn),
		newAlertsFailedCommand(&conn), newAlertsRetryCommand(&conn), newAlertsDropCommand(&conn))
	return cmd
}

func newAlertsGetCommand(conn *connFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "get",
		Short: "Print the stored alert rules (every secret shown as \"set\")",
		Long: `get prints the stored rule set as JSON, {"rules": [...]}, every webhook
secret shown as "set" (secrets are never returned). Its rule count goes to
stderr.`,
		Example: `  trellis alerts get
  trellis alerts get | jq -r '.rules[].name'`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client()
			if err != nil {
				return err
			}
			raw, err := c.Alerts(cmd.Context())
			if err != nil {
				return conn.serverError(err)
			}
			var rs struct {
				Rules []json.RawMessage `json:"rules"`
			}
			if err := json.Unmarshal(raw, &rs); err != nil {
				return fmt.Errorf("the server's rule set is not {\"rules\": [...]}: %v", err)
			}
			if err := printJSON(cmd.OutOrStdout(), raw); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "(%s)\n", plural(len(rs.Rules), "rule"))
			return nil
		},
	}
}

func newAlertsSetCommand(conn *connFlags) *cobra.Command {
	var (
		reason string
		skip   bool
	)
	cmd := &cobra.Command{
		Use:   "set FILE",
		Short: "Replace the alert rules with a JSON or YAML rules file (\"-\": stdin)",
		Long: `set replaces the whole rule set with the rules of FILE ({"rules": []}
removes every rule). The server validates them against the schema in force
and, unless --skip-webhook-check, sends a signed ping to every webhook
first; a rule it refuses is reported by its field (rules[2].match.relation)
and nothing changes. The change is a raft write with an audit entry of kind
"alerts" (no secret is in it). It prints the token of the written revision.

--reason defaults to the file's "reason", if it has one.`,
		Example: `  trellis alerts set rules.yaml --reason "on-call alerting"
  trellis alerts set rules.json --skip-webhook-check`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := readAlertsFile(cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			if reason == "" {
				reason = f.reason
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			res, err := c.PutAlerts(cmd.Context(), f.rules, reason, skip)
			if err != nil {
				return f.refused(conn, err, "not stored")
			}
			if conn.json {
				return printJSON(cmd.OutOrStdout(), map[string]any{"written_at": res.WrittenAt})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "alert rules set at %s (%s)\n", res.WrittenAt, plural(len(f.names), "rule"))
			return nil
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why: recorded in the audit log (default: the file's \"reason\")")
	cmd.Flags().BoolVar(&skip, "skip-webhook-check", false, "store the rules without pinging their webhooks first")
	return cmd
}

// refused is a refusal of the server of f's rules: the server's message,
// with the field it names and that rule's name, after the file's name.
func (f *alertsFile) refused(conn *connFlags, err error, outcome string) error {
	var ce *client.Error
	if !errors.As(err, &ce) {
		return conn.serverError(err)
	}
	where := ""
	if field, _ := ce.Details["field"].(string); field != "" && !strings.Contains(ce.Message, field) {
		where = field
		var i int
		if _, e := fmt.Sscanf(field, "rules[%d]", &i); e == nil && i >= 0 && i < len(f.names) && f.names[i] != "" {
			where += fmt.Sprintf(" (rule %q)", f.names[i])
		}
		where += ": "
	}
	msg := fmt.Sprintf("rules file %s %s: %s: %s%s", f.name, outcome, ce.Code, where, ce.Message)
	if strings.Contains(ce.Message, "skip_webhook_check") {
		msg += " (here: --skip-webhook-check)"
	}
	if ce.RequestID != "" {
		msg += " (request " + ce.RequestID + ")"
	}
	return cliError{msg: msg, err: err}
}

// alertPing is one result of POST /v1/alerts/test.
type alertPing struct {
	Rule  string `json:"rule"`
	URL   string `json:"url"`
	OK    bool   `json:"ok"`
	Error string `json:"error"`
}

func newAlertsTestCommand(conn *connFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "test [FILE]",
		Short: "Validate rules and ping every webhook (no FILE: the stored rules); stores nothing",
		Long: `test has the server validate the rules of FILE (without FILE: the stored
rules) and send a signed ping (Trellis-Delivery: ping-...) to each rule's
webhook. It prints one line per rule, "ok" or "error" with the reason, and
stores nothing.

Exit status: 0 when every webhook answered, 1 when any did not (or the
rules are refused), 2 on a usage error.`,
		Example: `  trellis alerts test rules.yaml
  trellis alerts test`,
		Args: cliOptionalArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			var f *alertsFile
			var rules json.RawMessage
			if len(args) == 1 {
				var err error
				if f, err = readAlertsFile(cmd.InOrStdin(), args[0]); err != nil {
					return err
				}
				if len(f.names) == 0 {
					return fmt.Errorf(`rules file %s: "rules" is empty, nothing to test (without FILE, test pings the stored rules' webhooks)`, f.name)
				}
				rules = f.rules
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			raw, err := c.TestAlerts(cmd.Context(), rules)
			if err != nil {
				if f != nil {
					return f.refused(conn, err, "refused")
				}
				return conn.serverError(err)
			}
			var res struct {
				Results []alertPing `json:"results"`
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				return fmt.Errorf("the server's answer is not {\"results\": [...]}: %v", err)
			}
			failed := 0
			for _, p := range res.Results {
				if !p.OK {
					failed++
				}
			}
			if conn.json {
				if err := printJSON(cmd.OutOrStdout(), raw); err != nil {
					return err
				}
			} else {
				w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				for _, p := range res.Results {
					if p.OK {
						fmt.Fprintf(w, "ok\t%s\t%s\n", p.Rule, p.URL)
					} else {
						fmt.Fprintf(w, "error\t%s\t%s\t%s\n", p.Rule, p.URL, p.Error)
					}
				}
				w.Flush()
			}
			switch {
			case len(res.Results) == 0:
				fmt.Fprintln(cmd.ErrOrStderr(), "(no alert rules stored; nothing to test)")
			case failed > 0:
				return fmt.Errorf("%d of %d webhooks did not answer", failed, len(res.Results))
			default:
				fmt.Fprintf(cmd.ErrOrStderr(), "(%s answered)\n", plural(len(res.Results), "webhook"))
			}
			return nil
		},
	}
}

func newAlertsFailedCommand(conn *connFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "failed",
		Short: "List the dead letters: deliveries whose attempts ran out",
		Long: `failed lists the dead letters: alerts whose delivery attempts ran out. The
replicated ones (delivered by the leader) can be retried or dropped by id;
a LOCAL one is a decision alert of a follower, kept and retried every minute
by its NODE itself. With --json the answer is {"letters": [...]}, payloads
included.`,
		Example: `  trellis alerts failed
  trellis alerts failed --json | jq -r '.letters[].id'`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := conn.client()
			if err != nil {
				return err
			}
			raw, err := c.AlertLetters(cmd.Context())
			if err != nil {
				return conn.serverError(err)
			}
			if conn.json {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			var res struct {
				Letters []alerts.Letter `json:"letters"`
			}
			if err := json.Unmarshal(raw, &res); err != nil {
				return fmt.Errorf("the server's answer is not {\"letters\": [...]}: %v", err)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tRULE\tURL\tATTEMPTS\tFAILED AT\tNODE\tLOCAL\tERROR")
			for _, l := range res.Letters {
				local := "no"
				if l.Local {
					local = "yes"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", l.ID, l.Rule, l.URL, l.Attempts,
					l.Time.UTC().Format(time.RFC3339), l.Node, local, l.Error)
			}
			w.Flush()
			fmt.Fprintf(cmd.ErrOrStderr(), "(%s)\n", plural(len(res.Letters), "dead letter"))
			return nil
		},
	}
}

func newAlertsRetryCommand(conn *connFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "retry ID",
		Short: "Deliver a dead letter again, with its delivery id; delivered, it leaves the list",
		Long: `retry delivers the dead letter ID once more, to its rule's webhook as the
rule stands now, under its original delivery id. Delivered, it leaves the
list; refused again (webhook_failed), it stays.`,
		Example: `  trellis alerts retry 5f1c0d7e9a2b4c6d8e0f1a2b3c4d5e6f`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client()
			if err != nil {
				return err
			}
			raw, err := c.RetryAlertLetter(cmd.Context(), args[0])
			if err != nil {
				return letterError(conn, err)
			}
			if conn.json {
				return printJSON(cmd.OutOrStdout(), raw)
			}
			var l alerts.Letter
			if err := json.Unmarshal(raw, &l); err != nil {
				return fmt.Errorf("the server's answer is not a letter: %v", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "letter %s (rule %s) delivered; removed from the failed list\n", args[0], l.Rule)
			return nil
		},
	}
}

func newAlertsDropCommand(conn *connFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "drop ID",
		Short:   "Remove a dead letter without delivering it",
		Long:    `drop removes the dead letter ID from the list; it is not delivered.`,
		Example: `  trellis alerts drop 5f1c0d7e9a2b4c6d8e0f1a2b3c4d5e6f`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conn.client()
			if err != nil {
				return err
			}
			if err := c.DropAlertLetter(cmd.Context(), args[0]); err != nil {
				return letterError(conn, err)
			}
			if conn.json {
				return printJSON(cmd.OutOrStdout(), map[string]string{"id": args[0]})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "letter %s dropped\n", args[0])
			return nil
		},
	}
}

// letterError is serverError with, for a letter that is not there, where
// the dead letters are listed.
func letterError(conn *connFlags, err error) error {
	out := conn.serverError(err)
	var ce *client.Error
	if errors.As(err, &ce) && ce.Code == "not_found" {
		return cliError{msg: out.Error() + "; trellis alerts failed lists the dead letters", err: err}
	}
	return out
}
