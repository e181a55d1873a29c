package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"iter"
	"net/http"
	"net/url"

	"github.com/trellis-authz/trellis/tuple"
)

// Export is a streamed export: its relationships, read at ReadAt.
type Export struct {
	// ReadAt is the token of the revision the export reads.
	ReadAt string
	body   io.ReadCloser
}

// Close ends the stream early.
func (e *Export) Close() error { return e.body.Close() }

// Raw returns the NDJSON stream itself (one {"relationship": ...} per line),
// for copying to a file; Close it when done.
func (e *Export) Raw() io.ReadCloser { return e.body }

// All yields each exported relationship string; it closes the stream at the
// end. An error line from the server (the export failed mid-way) is yielded
// as *Error.
func (e *Export) All() iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		defer e.body.Close()
		sc := bufio.NewScanner(e.body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct {
				Relationship string      `json:"relationship"`
				Error        *wire.Error `json:"error"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				yield("", fmt.Errorf("trellis: export line %q: %w", sc.Text(), err))
				return
			}
			if line.Error != nil {
				yield("", &Error{Status: http.StatusOK, Code: line.Error.Code, Message: line.Error.Message, Details: line.Error.Details, RequestID: line.Error.RequestID})
				return
			}
			if !yield(line.Relationship, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield("", err)
		}
	}
}

// Export streams every relationship matching f (nil: all) at the given
// consistency (nil: minimize_latency). The caller must drain All or Close it.
func (c *Client) Export(ctx context.Context, f *tuple.Filter, cons *wire.Consistency) (*Export, error) {
	q := url.Values{}
	if f != nil {
		set := func(k, v string) {
			if v != "" {
				q.Set(k, v)
			}
		}
		set("resource_type", f.ResourceType)
		set("resource_id", f.ResourceID)
		set("resource_id_prefix", f.ResourceIDPrefix)
		set("relation", f.Relation)
		if s := f.Subject; s != nil {
			q.Set("subject_type", s.Type)
			set("subject_id", s.ID)
			if s.Relation != nil {
				q.Set("subject_relation", *s.Relation)
			}
		}
	}
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/relationships/export"+consistencyQuery(cons, q), nil, "")
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return &Export{ReadAt: resp.Header.Get(wire.ReadAtHeader), body: resp.Body}, nil
}

// ImportOptions are the optional parameters of Import.
type ImportOptions struct {
	Reason string
	// IdempotencyKey (a UUID) makes a retried import write nothing twice.
	IdempotencyKey string
}

// Import streams NDJSON (one {"relationship": ...} or plain relationship per
// line) to the server, which writes it in chunks.
func (c *Client) Import(ctx context.Context, ndjson io.Reader, opts ImportOptions) (*wire.ImportResponse, error) {
	q := url.Values{}
	if opts.Reason != "" {
		q.Set("reason", opts.Reason)
	}
	if opts.IdempotencyKey != "" {
		q.Set("idempotency_key", opts.IdempotencyKey)
	}
	path := "/v1/relationships/import"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	req, err := c.newRequest(ctx, http.MethodPost, path, ndjson, "application/x-ndjson")
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, readError(resp)
	}
	var out wire.ImportResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("trellis: decoding the import answer: %w", err)
	}
	return &out, nil
}
