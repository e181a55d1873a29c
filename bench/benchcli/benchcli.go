package benchcli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/bench/driver"
	"github.com/trellis-authz/trellis/bench/workload"
)

// NewCommand returns the "bench" command (use is its name, e.g. "bench" or
// "trellis-bench") with the subcommands gen, setup and load.
func NewCommand(use string) *cobra.Command {
	root := &cobra.Command{
		Use:           use,
		Short:         "Generate an AI-governance workload and measure a Trellis node with it",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(genCommand(), setupCommand(), loadCommand(), compareCommand())
	return root
}

func genCommand() *cobra.Command {
	var (
		out, preset, ref string
		c                workload.Config
	)
	cmd := &cobra.Command{
		Use:   "gen --out DIR [--preset tiny|default|large|deep|wide] [size flags]",
		Short: "Write schema.zed, relationships, queries.ndjson, writes.txt and summary.json to DIR",
		Long: `Generates a seeded, deterministic workload: the same flags give the same bytes.
Size flags override the preset's values. The summary (also printed) gives the
allowed share per query class and the time window in which the expected
answers hold.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			base, err := workload.Preset(preset)
			if err != nil {
				return err
			}
			cfg := overrideConfig(cmd, base, c)
			if ref != "" {
				t, err := time.Parse(time.RFC3339, ref)
				if err != nil {
					return fmt.Errorf("--reference-time %q: want RFC 3339 such as 2026-01-01T00:00:00Z", ref)
				}
				cfg.ReferenceTime = t.UTC()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			start := time.Now()
			s, err := workload.GenerateDir(ctx, cfg, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d relationships and %d queries per class to %s in %s\n",
				s.Relationships, cfg.QueriesPerClass, out, time.Since(start).Round(time.Millisecond))
			return printJSON(cmd.OutOrStdout(), s)
		},
	}
	d := workload.DefaultConfig()
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "output directory (required)")
	f.StringVar(&preset, "preset", "default", "size preset: tiny (tests), default (~100k relationships), large (~10M), deep (1,000 teams nested 5 levels), wide (teams of ~100k members, one user in 5,000 teams)")
	f.IntVar(&c.BigTeams, "big-teams", d.BigTeams, "teams every active user also joins")
	f.IntVar(&c.HubTeams, "hub-teams", d.HubTeams, "teams the first user of each organization joins directly")
	f.Int64Var(&c.Seed, "seed", d.Seed, "random seed")
	f.IntVar(&c.Orgs, "orgs", d.Orgs, "organizations (the main size knob)")
	f.IntVar(&c.UsersPerOrg, "users-per-org", d.UsersPerOrg, "users per organization (10% are guests with no access)")
	f.IntVar(&c.ServiceAccountsPerOrg, "service-accounts-per-org", d.ServiceAccountsPerOrg, "service accounts per organization")
	f.IntVar(&c.TeamsPerOrg, "teams-per-org", d.TeamsPerOrg, "teams per organization")
	f.IntVar(&c.TeamDepth, "team-depth", d.TeamDepth, "levels of nested teams, 1 to 5")
	f.IntVar(&c.ProjectsPerOrg, "projects-per-org", d.ProjectsPerOrg, "projects per organization")
	f.IntVar(&c.DatasetsPerProject, "datasets-per-project", d.DatasetsPerProject, "datasets per project")
	f.IntVar(&c.FieldsPerDataset, "fields-per-dataset", d.FieldsPerDataset, "fields per dataset")
	f.IntVar(&c.ModelsPerProject, "models-per-project", d.ModelsPerProject, "models (and deployments) per project")
	f.BoolVar(&c.Cyclic, "cyclic", false, "add cycles between nested teams")
	f.IntVar(&c.QueriesPerClass, "queries-per-class", d.QueriesPerClass, "queries of each class")
	f.Float64Var(&c.AllowedShare, "allowed-share", d.AllowedShare, "target share of expected-allowed queries per class")
	f.IntVar(&c.Writes, "writes", d.Writes, "relationships in the write pool")
	f.StringVar(&ref, "reference-time", "", "instant the expected answers are computed at (RFC 3339; default "+workload.DefaultReferenceTime.Format(time.RFC3339)+")")
	f.StringVar(&c.Format, "format", d.Format, "relationship file format: ndjson (import body) or text (one per line)")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// overrideConfig returns base with the fields whose flags were set taken from c.
func overrideConfig(cmd *cobra.Command, base, c workload.Config) workload.Config {
	set := func(name string) bool { return cmd.Flags().Changed(name) }
	for name, apply := range map[string]func(){
		"seed":                     func() { base.Seed = c.Seed },
		"orgs":                     func() { base.Orgs = c.Orgs },
		"users-per-org":            func() { base.UsersPerOrg = c.UsersPerOrg },
		"service-accounts-per-org": func() { base.ServiceAccountsPerOrg = c.ServiceAccountsPerOrg },
		"teams-per-org":            func() { base.TeamsPerOrg = c.TeamsPerOrg },
		"team-depth":               func() { base.TeamDepth = c.TeamDepth },
		"projects-per-org":         func() { base.ProjectsPerOrg = c.ProjectsPerOrg },
		"datasets-per-project":     func() { base.DatasetsPerProject = c.DatasetsPerProject },
		"fields-per-dataset":       func() { base.FieldsPerDataset = c.FieldsPerDataset },
		"models-per-project":       func() { base.ModelsPerProject = c.ModelsPerProject },
		"cyclic":                   func() { base.Cyclic = c.Cyclic },
		"big-teams":                func() { base.BigTeams = c.BigTeams },
		"hub-teams":                func() { base.HubTeams = c.HubTeams },
		"queries-per-class":        func() { base.QueriesPerClass = c.QueriesPerClass },
		"allowed-share":            func() { base.AllowedShare = c.AllowedShare },
		"writes":                   func() { base.Writes = c.Writes },
		"format":                   func() { base.Format = c.Format },
	} {
		if set(name) {
			apply()
		}
	}
	return base
}

func setupCommand() *cobra.Command {
	var endpoint, token, dir string
	cmd := &cobra.Command{
		Use:   "setup --endpoint URL --dir DIR",
		Short: "Load a generated workload into a node: PUT its schema, import its relationships",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := driver.Setup(cmd.Context(), endpoint, tokenOrEnv(token), dir)
			if err != nil {
				return err
			}
			return printJSON(cmd.OutOrStdout(), res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&endpoint, "endpoint", driver.DefaultConfig().Endpoint, "node base URL")
	f.StringVar(&token, "token", "", "bearer token (default $TRELLIS_TOKEN)")
	f.StringVar(&dir, "dir", "", "workload directory written by gen (required)")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

func tokenOrEnv(t string) string {
	if t != "" {
		return t
	}
	return os.Getenv("TRELLIS_TOKEN")
}

func loadCommand() *cobra.Command {
	var (
		c                             = driver.DefaultConfig()
		dir, queries, writes, outFile string
		failOnMismatch, verbose       bool
	)
	cmd := &cobra.Command{
		Use:   "load --endpoint URL --dir DIR [--transport http|grpc] [--clients N] [--duration D]",
		Short: "Replay a workload's queries against a node and print a JSON report",
		Long: `Runs N keep-alive clients for a fixed duration (or until --max-requests) and
reports throughput, latency quantiles, errors by kind, the allowed share per
class and the answers that differ from the expected ones. --write-rate adds
touch/delete writes from the write pool, measured separately. --mode noop hits
GET /healthz instead, to measure the server's HTTP ceiling.

--transport grpc replays the same queries over SpiceDB's gRPC API at
--grpc-endpoint (CheckPermission, LookupResources, WriteRelationships, with
the authzed-go client, the token as the preshared key), with the same
consistency, report and answer checks; the clients share --grpc-conns
connections.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c.Token = tokenOrEnv(c.Token)
			if queries == "" && dir != "" {
				queries = filepath.Join(dir, workload.QueriesFile)
			}
			if writes == "" && dir != "" && c.WriteRate > 0 {
				writes = filepath.Join(dir, workload.WritesFile)
			}
			var err error
			if c.Mode == driver.ModeCheck {
				if queries == "" {
					return errors.New("give --dir (a workload directory) or --queries (a query file); or use --mode noop")
				}
				if c.Queries, err = driver.LoadQueries(queries); err != nil {
					return err
				}
			}
			if writes != "" {
				if c.WritePool, err = driver.LoadLines(writes); err != nil {
					return err
				}
			}
			level := slog.LevelWarn
			if verbose {
				level = slog.LevelInfo
			}
			c.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			rep, err := driver.Run(ctx, c)
			if err != nil {
				return err
			}
			var w io.Writer = cmd.OutOrStdout()
			if outFile != "" {
				f, err := os.Create(outFile)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			if err := printJSON(w, rep); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d queries in %.1fs: %.0f/s, p50 %.2fms p95 %.2fms p99 %.2fms max %.2fms, %d errors, %d mismatches\n",
				rep.Config.Transport, rep.Queries, rep.Elapsed, rep.Throughput, rep.Latency.P50, rep.Latency.P95, rep.Latency.P99, rep.Latency.Max, rep.ErrorCount, rep.Mismatches)
			if failOnMismatch {
				return rep.Check()
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.Endpoint, "endpoint", c.Endpoint, "node base URL")
	f.StringVar(&c.Token, "token", "", "bearer token (default $TRELLIS_TOKEN); over gRPC the preshared key")
	f.StringVar(&c.Transport, "transport", c.Transport, "http (the REST API at --endpoint) or grpc (SpiceDB's API at --grpc-endpoint)")
	f.StringVar(&c.GRPCEndpoint, "grpc-endpoint", c.GRPCEndpoint, "node's gRPC address, host:port, plaintext (--transport grpc)")
	f.IntVar(&c.GRPCConns, "grpc-conns", c.GRPCConns, "gRPC connections the clients share (--transport grpc)")
	f.StringVar(&dir, "dir", "", "workload directory: reads queries.ndjson and writes.txt from it")
	f.StringVar(&queries, "queries", "", "query file (default DIR/queries.ndjson)")
	f.StringVar(&writes, "writes", "", "write pool file (default DIR/writes.txt when --write-rate > 0)")
	f.StringVar(&c.Mode, "mode", c.Mode, "check (replay queries) or noop (GET --noop-path)")
	f.StringVar(&c.NoopPath, "noop-path", c.NoopPath, "path requested in noop mode")
	f.IntVar(&c.Clients, "clients", c.Clients, "concurrent keep-alive clients")
	f.DurationVar(&c.Duration, "duration", c.Duration, "how long to run")
	f.Int64Var(&c.MaxRequests, "max-requests", 0, "stop after this many queries (0: no bound)")
	f.DurationVar(&c.RequestTimeout, "timeout", c.RequestTimeout, "per-request timeout")
	f.StringVar(&c.Consistency, "consistency", "", "consistency sent with reads: minimize_latency or fully_consistent (default: none sent)")
	f.Uint64Var(&c.ShuffleSeed, "shuffle-seed", c.ShuffleSeed, "seed of the replay order (0: the file's order)")
	f.IntVar(&c.LookupLimit, "lookup-limit", c.LookupLimit, "page size of lookups")
	f.Float64Var(&c.WriteRate, "write-rate", 0, "writes per second mixed into the run (0: none)")
	f.IntVar(&c.WriteClients, "write-clients", c.WriteClients, "concurrent writers of the write mix")
	f.StringVar(&outFile, "report", "", "write the JSON report to this file instead of stdout")
	f.BoolVar(&failOnMismatch, "fail-on-mismatch", false, "exit non-zero on any mismatch or error, or if nothing was answered")
	f.BoolVarP(&verbose, "verbose", "v", false, "log progress")
	return cmd
}

func compareCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "compare BASE.json NEXT.json",
		Short: "Compare the headline figures of two load reports",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var reps [2]driver.Report
			for i, path := range args {
				b, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				if err := json.Unmarshal(b, &reps[i]); err != nil {
					return fmt.Errorf("%s: not a load report: %w", path, err)
				}
			}
			ds := driver.Compare(reps[0], reps[1])
			if asJSON {
				return printJSON(cmd.OutOrStdout(), ds)
			}
			_, err := io.WriteString(cmd.OutOrStdout(), driver.FormatDeltas(ds))
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Main runs the command as a program and returns its exit code.
func Main(use string, args []string) int {
	cmd := NewCommand(use)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		return 1
	}
	return 0
}
