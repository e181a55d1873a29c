package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/api"
)

// newTokenCommand manages bearer-token files offline: the server reads the
// file at start, so a node must be restarted to pick up a change.
func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create and list bearer tokens in a token file (the server loads it at start)",
	}
	var file, principal, role string
	create := &cobra.Command{
		Use:   "create --file FILE --principal NAME --role reader|writer|admin",
		Short: "Add a new token to FILE (created if absent) and print it once",
		Long: `Generate a random bearer token, add its SHA-256 to the token file with the
principal and role, and print the token. Only the hash is stored, so the token
cannot be shown again. Restart the node (every node of a cluster, each with the
same file) to load it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" || principal == "" || role == "" {
				return usageError{errors.New("--file, --principal and --role are required")}
			}
			var entries []api.TokenEntry
			if _, err := os.Stat(file); err == nil {
				if entries, err = api.LoadTokenFile(file); err != nil {
					return err
				}
			} else if !errors.Is(err, os.ErrNotExist) {
				return err
			}
			for _, e := range entries {
				if e.Principal == principal {
					return fmt.Errorf("%s already has a token for principal %q; remove its entry first or pick another name", file, principal)
				}
			}
			tok, hash := api.GenerateToken()
			entry := api.TokenEntry{Principal: principal, Role: api.Role(role), SHA256: hash}
			if err := entry.Validate(); err != nil {
				return usageError{err}
			}
			if err := api.WriteTokenFile(file, append(entries, entry)); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			fmt.Fprintf(cmd.ErrOrStderr(), "added %s (%s) to %s; this token is shown only now. Restart the node to load it.\n", principal, role, file)
			return nil
		},
	}
	create.Flags().StringVar(&file, "file", "", "token file (YAML), e.g. trellis-data/tokens.yaml")
	create.Flags().StringVar(&principal, "principal", "", "who uses the token; recorded in the audit log")
	create.Flags().StringVar(&role, "role", "", "reader (checks, reads), writer (+ relationship writes) or admin (+ schema, audit, cluster)")

	list := &cobra.Command{
		Use:   "list --file FILE",
		Short: "List the principals and roles in a token file (tokens are stored as hashes only)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return usageError{errors.New("--file is required")}
			}
			entries, err := api.LoadTokenFile(file)
			if err != nil {
				return err
			}
			for _, e := range entries {
				fmt.Fprintf(cmd.OutOrStdout(), "%-24s %s\n", e.Principal, e.Role)
			}
			return nil
		},
	}
	list.Flags().StringVar(&file, "file", "", "token file (YAML)")
	cmd.AddCommand(create, list)
	return cmd
}
