package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// newHealthCommand checks a node's readiness; the container image uses it as
// its health check (a FROM scratch image has no curl).
func newHealthCommand() *cobra.Command {
	var endpoint string
	var timeout time.Duration
	var live bool
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Exit 0 when the node at --endpoint is ready (has a leader and a schema), 1 otherwise",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "/readyz"
			if live {
				path = "/healthz"
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(endpoint, "/")+path, nil)
			if err != nil {
				return usageError{fmt.Errorf("--endpoint %q: %w", endpoint, err)}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return fmt.Errorf("%s%s: %w", endpoint, path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s%s: %s", endpoint, path, resp.Status)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s%s: ok\n", endpoint, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&endpoint, "endpoint", envOr("TRELLIS_ENDPOINT", "http://127.0.0.1:8080"), "node API URL ($TRELLIS_ENDPOINT)")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Second, "give up after this long")
	cmd.Flags().BoolVar(&live, "live", false, "check liveness (/healthz) instead of readiness (/readyz)")
	return cmd
}

// envOr returns the environment variable's value, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}
