package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/schema/syntax"
)

func newSchemaCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Check, format and diff schema files (*.zed); read and write the schema of a server",
	}
	cmd.AddCommand(newSchemaCheckCommand(), newSchemaFmtCommand(), newSchemaDiffCommand(), newSchemaReadCommand(), newSchemaWriteCommand())
	return cmd
}

func newSchemaCheckCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE...",
		Short: "Compile schema files and report every error and warning",
		Long: `check parses and compiles each schema file and prints every error and lint
warning with its position and source line. It exits with status 1 when any
file has an error; warnings alone do not fail it.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			failed := false
			for _, path := range args {
				src, err := os.ReadFile(path)
				if err != nil {
					fmt.Fprintf(errOut, "%s: %v\n", path, err)
					failed = true
					continue
				}
				s, errs := compile.CompileText(path, string(src))
				printErrors(errOut, errs)
				if errs.Err() != nil {
					failed = true
					fmt.Fprintf(errOut, "%s: %s\n", path, countProblems(errs))
					continue
				}
				fmt.Fprintf(out, "%s: ok (%s, %s)", path, plural(len(s.Definitions), "definition"), plural(len(s.Caveats), "caveat"))
				if len(errs) > 0 {
					fmt.Fprintf(out, ", %s", plural(len(errs), "warning"))
				}
				fmt.Fprintln(out)
			}
			if failed {
				return exitError{code: 1}
			}
			return nil
		},
	}
}

func newSchemaFmtCommand() *cobra.Command {
	var write bool
	cmd := &cobra.Command{
		Use:   "fmt [-w] FILE...",
		Short: "Format schema files in the canonical layout",
		Long: `fmt prints each schema file in the canonical layout, or with -w rewrites the
files whose layout changes (files already formatted are not touched). A file
with syntax errors is not formatted: its errors are printed and fmt exits with
status 1. Semantic errors (an unknown type, say) do not stop formatting.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			failed := false
			for _, path := range args {
				src, err := os.ReadFile(path)
				if err != nil {
					fmt.Fprintf(errOut, "%s: %v\n", path, err)
					failed = true
					continue
				}
				f, errs := syntax.Parse(path, src)
				if errs.Err() != nil {
					printErrors(errOut, errs)
					fmt.Fprintf(errOut, "%s: not formatted: %s\n", path, countProblems(errs))
					failed = true
					continue
				}
				formatted := syntax.Format(f)
				if !write {
					if _, err := out.Write(formatted); err != nil {
						return err
					}
					continue
				}
				if bytes.Equal(formatted, src) {
					continue
				}
				if err := writeFileKeepMode(path, formatted); err != nil {
					fmt.Fprintf(errOut, "%s: %v\n", path, err)
					failed = true
					continue
				}
				fmt.Fprintf(out, "%s: formatted\n", path)
			}
			if failed {
				return exitError{code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&write, "write", "w", false, "rewrite the files in place instead of printing them")
	return cmd
}

// writeFileKeepMode replaces path's contents, keeping its permissions, through
// a temporary file in the same directory so a crash never leaves half a file.
func writeFileKeepMode(path string, data []byte) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dirOf(path), ".trellis-fmt-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if os.IsPathSeparator(path[i]) {
			return path[:i+1]
		}
	}
	return "."
}

func printErrors(w io.Writer, errs syntax.ErrorList) {
	for _, e := range errs {
		fmt.Fprintln(w, e.Error())
	}
}

func countProblems(errs syntax.ErrorList) string {
	n, warn := 0, 0
	for _, e := range errs {
		if e.Severity == syntax.SeverityWarning {
			warn++
		} else {
			n++
		}
	}
	s := plural(n, "error")
	if warn > 0 {
		s += ", " + plural(warn, "warning")
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
