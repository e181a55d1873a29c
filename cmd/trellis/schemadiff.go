package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
)

func newSchemaDiffCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "List the changes between two schema files, marking the breaking ones",
		Long: `diff compiles both schema files and lists what NEW adds, removes and changes
compared with OLD: definitions, relations, permissions (expression changes),
allowed subject types, caveats and their parameters, and "use expiration".

Each line is tagged BREAKING when stored relationships, or callers that write
or check them, may stop working (something they name is removed, a subject
type a relation allowed is removed, a caveat parameter is removed or retyped),
or ACCESS when it changes who has access without breaking anything.

Exit status: 0 with no breaking change, 2 when any change is breaking, 1 when
a file cannot be read or compiled. Use --json for machines.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageError{fmt.Errorf("diff takes two schema files, OLD and NEW; got %d arguments\n\n%s", len(args), cmd.UsageString())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			old, okOld := compileFile(errOut, args[0])
			next, okNew := compileFile(errOut, args[1])
			if !okOld || !okNew {
				return exitError{code: 1}
			}
			changes := compile.Diff(old, next)
			breaking := 0
			for _, c := range changes {
				if c.Breaking {
					breaking++
				}
			}
			if asJSON {
				type change struct {
					Kind         string `json:"kind"`
					Path         string `json:"path"`
					Description  string `json:"description"`
					Breaking     bool   `json:"breaking"`
					AccessChange bool   `json:"access_change"`
				}
				report := struct {
					Changes  []change `json:"changes"`
					Breaking int      `json:"breaking"`
				}{Changes: []change{}, Breaking: breaking}
				for _, c := range changes {
					report.Changes = append(report.Changes, change{Kind: c.Kind.String(), Path: c.Path, Description: c.Description, Breaking: c.Breaking, AccessChange: c.AccessChange})
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(report); err != nil {
					return err
				}
			} else {
				for _, c := range changes {
					fmt.Fprintln(out, c.String())
				}
				switch {
				case len(changes) == 0:
					fmt.Fprintln(out, "no changes")
				case breaking > 0:
					fmt.Fprintf(out, "%s, %d breaking\n", plural(len(changes), "change"), breaking)
				default:
					fmt.Fprintf(out, "%s, none breaking\n", plural(len(changes), "change"))
				}
			}
			if breaking > 0 {
				return exitError{code: 2}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the changes as JSON")
	return cmd
}

// compileFile reads and compiles a schema file, printing its errors.
func compileFile(errOut io.Writer, path string) (*schema.Schema, bool) {
	src, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(errOut, "%s: %v\n", path, err)
		return nil, false
	}
	s, errs := compile.CompileText(path, string(src))
	if errs.Err() != nil {
		printErrors(errOut, errs)
		fmt.Fprintf(errOut, "%s: %s\n", path, countProblems(errs))
		return nil, false
	}
	return s, true
}
