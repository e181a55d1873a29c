package driver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/trellis-authz/trellis/bench/workload"
)

// ReadQueries reads a query file (NDJSON, one workload.Query per line; blank
// lines are skipped).
func ReadQueries(r io.Reader) ([]workload.Query, error) {
	var qs []workload.Query
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(strings.TrimSpace(string(b))) == 0 {
			continue
		}
		var q workload.Query
		if err := json.Unmarshal(b, &q); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v; each line must be a JSON object written by the workload generator", ErrBadQueryFile, line, err)
		}
		switch {
		case q.IsLookup() && (q.ResourceType == "" || q.Permission == "" || q.Subject == ""):
			return nil, fmt.Errorf("%w: line %d: a lookup needs resource_type, permission and subject", ErrBadQueryFile, line)
		case !q.IsLookup() && q.Kind != "" && q.Kind != workload.KindCheck:
			return nil, fmt.Errorf("%w: line %d: kind %q is unknown; use %q or %q", ErrBadQueryFile, line, q.Kind, workload.KindCheck, workload.KindLookup)
		case !q.IsLookup() && (q.Resource == "" || q.Permission == "" || q.Subject == ""):
			return nil, fmt.Errorf("%w: line %d: a check needs resource, permission and subject", ErrBadQueryFile, line)
		}
		switch q.Expect {
		case "allowed", "denied", "conditional", "":
		default:
			return nil, fmt.Errorf("%w: line %d: expect %q is not allowed, denied or conditional", ErrBadQueryFile, line, q.Expect)
		}
		qs = append(qs, q)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read query file: %w", err)
	}
	return qs, nil
}

// LoadQueries reads the query file at path.
func LoadQueries(path string) ([]workload.Query, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	qs, err := ReadQueries(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return qs, nil
}

// LoadLines reads a file of one relationship per line (the write pool),
// skipping blank lines and // comments.
func LoadLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for l := range strings.Lines(string(b)) {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "//") {
			out = append(out, l)
		}
	}
	return out, nil
}
