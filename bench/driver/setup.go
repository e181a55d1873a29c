package driver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/trellis-authz/trellis/bench/workload"
)

// SetupResult is what Setup did.
type SetupResult struct {
	SchemaWrittenAt string  `json:"schema_written_at"`
	Imported        int     `json:"imported"`
	WrittenAt       string  `json:"written_at"`
	Elapsed         float64 `json:"elapsed_seconds"`
}

// Setup loads a generated workload directory into a node: it writes
// dir/schema.zed with PUT /v1/schema, then streams the relationship file
// (relationships.ndjson, or relationships.txt converted line by line) to
// POST /v1/relationships/import. It is not part of a measured run.
func Setup(ctx context.Context, endpoint, token, dir string) (SetupResult, error) {
	start := time.Now()
	var res SetupResult
	base := strings.TrimSuffix(endpoint, "/")
	client := &http.Client{}
	do := func(method, path, ctype string, body io.Reader, out any) error {
		req, err := http.NewRequestWithContext(ctx, method, base+path, body)
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", ctype)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: status %d: %s", method, path, resp.StatusCode, data)
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: bad answer %q: %w", method, path, data, err)
		}
		return nil
	}

	schema, err := os.ReadFile(filepath.Join(dir, workload.SchemaFile))
	if err != nil {
		return res, fmt.Errorf("read schema: %w; generate the workload first (trellis-bench gen --out %s)", err, dir)
	}
	body, _ := json.Marshal(map[string]string{"schema": string(schema), "reason": "trellis-bench setup"})
	var sresp struct {
		WrittenAt string `json:"written_at"`
	}
	if err := do(http.MethodPut, "/v1/schema", "application/json", strings.NewReader(string(body)), &sresp); err != nil {
		return res, err
	}
	res.SchemaWrittenAt = sresp.WrittenAt

	var rels io.Reader
	if f, err := os.Open(filepath.Join(dir, workload.NDJSONFile)); err == nil {
		defer f.Close()
		rels = f
	} else if f, err2 := os.Open(filepath.Join(dir, workload.TextFile)); err2 == nil {
		defer f.Close()
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(textToNDJSON(f, pw)) }()
		defer pr.Close()
		rels = pr
	} else {
		return res, fmt.Errorf("no relationship file in %s: %w", dir, err)
	}
	var iresp struct {
		WrittenAt string `json:"written_at"`
		Imported  int    `json:"imported"`
	}
	if err := do(http.MethodPost, "/v1/relationships/import", "application/x-ndjson", rels, &iresp); err != nil {
		return res, err
	}
	res.Imported, res.WrittenAt = iresp.Imported, iresp.WrittenAt
	res.Elapsed = time.Since(start).Seconds()
	return res, nil
}

// textToNDJSON converts one relationship per line to import lines.
func textToNDJSON(r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	bw := bufio.NewWriter(w)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if err := workload.WriteRelationship(bw, workload.FormatNDJSON, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return bw.Flush()
}
