package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-authz/trellis/client"
	"github.com/trellis-authz/trellis/tuple"
)

func newImportCommand() *cobra.Command {
	var (
		conn     connFlags
		wf       writeFlags
		progress bool
	)
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Stream a file of relationships to the server (\"-\": stdin)",
		Long: `import streams FILE to the server, which writes it in chunks, touching each
relationship (importing the same file twice changes nothing). FILE holds one
relationship per line, either as NDJSON ({"relationship": "..."}, what
"trellis export" writes) or as plain text (dataset:claims#reader@user:ana);
the two may be mixed. Blank lines and lines starting with // or # are skipped.

A bad line stops the import: the error names the line, and the chunks before
it stay imported. Retry with the printed --idempotency-key after fixing the
line: chunks already written are not written twice.

A progress bar (bytes, lines) is drawn on stderr when stderr is a terminal,
or always with --progress.

Exit status: 0 imported, 1 on an error (bad line, server error), 2 on a usage
error.`,
		Example: `  trellis import examples/ai-governance/relationships.txt
  trellis export --endpoint http://old:8080 | trellis import --endpoint http://new:8080 -`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, err := wf.key()
			if err != nil {
				return err
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			var src io.Reader = cmd.InOrStdin()
			name, total := "stdin", int64(-1)
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				if info, err := f.Stat(); err == nil && info.Mode().IsRegular() {
					total = info.Size()
				}
				src, name = f, args[0]
			}
			errOut := cmd.ErrOrStderr()
			conv := newNDJSONConverter(src)
			stop := func() {}
			if progress || cliIsTerminal(errOut) {
				stop = startProgress(errOut, name, total, conv)
			}
			res, err := c.Import(cmd.Context(), conv, client.ImportOptions{Reason: wf.reason, IdempotencyKey: key})
			stop()
			if err != nil {
				if rerr := conv.readErr(); rerr != nil {
					err = fmt.Errorf("reading %s: %w", name, rerr)
				} else {
					err = conn.serverError(err)
				}
				return wf.failed(err, true)
			}
			out := cmd.OutOrStdout()
			if conn.json {
				return printJSON(out, map[string]any{"written_at": res.WrittenAt, "imported": res.Imported, "idempotency_key": key})
			}
			fmt.Fprintf(out, "imported %s from %s at %s\n", plural(res.Imported, "relationship"), name, res.WrittenAt)
			if wf.generated {
				fmt.Fprintf(out, "idempotency key %s\n", key)
			}
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	addWriteFlags(cmd, &wf)
	cmd.Flags().BoolVar(&progress, "progress", false, "draw the progress bar on stderr even when it is not a terminal")
	return cmd
}

// ndjsonConverter reads a relationships file and yields the import body:
// NDJSON lines pass through, plain relationships are cliError as
// {"relationship": "..."}, comments become blank lines (so the server's line
// numbers stay the file's). It counts bytes and lines read, for the progress
// bar.
type ndjsonConverter struct {
	in      *bufio.Reader
	pending []byte
	bytes   atomic.Int64
	lines   atomic.Int64
	mu      sync.Mutex
	err     error // a read error of the source, not io.EOF
	eof     bool
}

func newNDJSONConverter(r io.Reader) *ndjsonConverter {
	return &ndjsonConverter{in: bufio.NewReaderSize(r, 64<<10)}
}

func (c *ndjsonConverter) Read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		if c.eof {
			return 0, io.EOF
		}
		line, err := c.in.ReadBytes('\n')
		if len(line) > 0 {
			c.bytes.Add(int64(len(line)))
			c.lines.Add(1)
			c.pending = append(c.pending[:0], convertLine(line)...)
		}
		if err == io.EOF {
			c.eof = true
		} else if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return 0, err
		}
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *ndjsonConverter) readErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// convertLine turns one input line into one NDJSON line (with its newline).
func convertLine(line []byte) []byte {
	t := bytes.TrimSpace(line)
	switch {
	case len(t) == 0, bytes.HasPrefix(t, []byte("//")), t[0] == '#':
		return []byte("\n")
	case t[0] == '{':
		return append(t, '\n')
	}
	b, _ := json.Marshal(wire.ExportLine{Relationship: string(t)})
	return append(b, '\n')
}

// cliIsTerminal reports whether w is a character device (a terminal).
func cliIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// startProgress redraws a progress line on w until the returned stop is
// called, which draws it a last time and ends the line.
func startProgress(w io.Writer, name string, total int64, c *ndjsonConverter) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	draw := func() {
		fmt.Fprintf(w, "\r%s\x1b[K", progressLine(name, c.bytes.Load(), total, c.lines.Load(), time.Since(start)))
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				draw()
				fmt.Fprintln(w)
				return
			case <-t.C:
				draw()
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// progressLine renders e.g.
// "importing rels.txt  [#######-------------]  35%  1.2 MiB / 3.4 MiB  12,345 lines  2s".
func progressLine(name string, done, total, lines int64, elapsed time.Duration) string {
	var b strings.Builder
	b.WriteString("importing " + name + "  ")
	if total > 0 {
		const width = 20
		frac := min(float64(done)/float64(total), 1)
		filled := int(frac * width)
		b.WriteString("[" + strings.Repeat("#", filled) + strings.Repeat("-", width-filled) + "]")
		fmt.Fprintf(&b, " %3.0f%%  %s / %s", frac*100, cliHumanBytes(done), cliHumanBytes(total))
	} else {
		b.WriteString(cliHumanBytes(done))
	}
	fmt.Fprintf(&b, "  %s lines  %s", cliGroupDigits(lines), elapsed.Round(time.Second))
	return b.String()
}

func cliHumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// cliGroupDigits writes 1234567 as 1,234,567.
func cliGroupDigits(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func newExportCommand() *cobra.Command {
	var (
		conn        connFlags
		ff          filterFlags
		consistency string
		format      string
		output      string
	)
	cmd := &cobra.Command{
		Use:   "export [RESOURCE[#RELATION][@SUBJECT]]",
		Short: "Write every relationship (or those matching a filter) as NDJSON",
		Long: `export streams the relationships matching a filter (all of them without one),
read at one revision, to stdout or --output FILE: NDJSON by default
({"relationship": "..."} per line, what import reads), or one relationship
per line with --format text. The filter is the same as read's.
Relationships whose expiration has passed at the read are not exported.

A summary with the count and the revision read goes to stderr.

Exit status: 0 on success, 1 on an error (the output is then incomplete), 2
on a usage error.`,
		Example: `  trellis export > backup.ndjson
  trellis export dataset --format text
  trellis export --consistency fully_consistent -o backup.ndjson`,
		Args: cliOptionalArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			var filter *tuple.Filter
			if len(args) > 0 || ff != (filterFlags{}) {
				f, err := ff.filter(cliFirstArg(args))
				if err != nil {
					return err
				}
				filter = &f
			}
			if conn.json {
				format = "ndjson" // the export format is JSON already
			}
			if format != "ndjson" && format != "text" {
				return usageError{fmt.Errorf("--format %q: use ndjson or text", format)}
			}
			cons, err := parseConsistency(consistency)
			if err != nil {
				return err
			}
			c, err := conn.client()
			if err != nil {
				return err
			}
			exp, err := c.Export(cmd.Context(), filter, cons)
			if err != nil {
				return conn.serverError(err)
			}
			var out io.Writer = cmd.OutOrStdout()
			if output != "" && output != "-" {
				f, err := os.Create(output)
				if err != nil {
					exp.Close()
					return err
				}
				defer f.Close()
				out = f
			}
			bw := bufio.NewWriterSize(out, 64<<10)
			n := 0
			for rel, err := range exp.All() {
				if err != nil {
					bw.Flush()
					return fmt.Errorf("export stopped after %s (the output is incomplete): %w", plural(n, "relationship"), conn.serverError(err))
				}
				if format == "text" {
					bw.WriteString(rel)
					bw.WriteByte('\n')
				} else {
					b, _ := json.Marshal(wire.ExportLine{Relationship: rel})
					bw.Write(b)
					bw.WriteByte('\n')
				}
				n++
			}
			if err := bw.Flush(); err != nil {
				return err
			}
			if f, ok := out.(*os.File); ok && output != "" {
				if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
					return err
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "exported %s (read at %s; expired relationships are not exported)\n", plural(n, "relationship"), exp.ReadAt)
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	addFilterFlags(cmd, &ff)
	addConsistencyFlag(cmd, &consistency)
	cmd.Flags().StringVar(&format, "format", "ndjson", `ndjson ({"relationship": "..."} per line, what import reads) or text (one per line)`)
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of stdout")
	return cmd
}
