package client

import (
	"context"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// AuditEntriesRequest selects a page of audit entries. Zero fields are not
// sent (the server's defaults apply).
type AuditEntriesRequest struct {
	From      uint64
	Limit     int
	Principal string
	Kind      string
	Since     time.Time
	Until     time.Time
}

// AuditEntries returns a page of audit entries (admin).
func (c *Client) AuditEntries(ctx context.Context, req AuditEntriesRequest) (*wire.AuditEntriesResponse, error) {
	q := url.Values{}
	q.Set("from", strconv.FormatUint(req.From, 10))
	if req.Limit > 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	if req.Principal != "" {
		q.Set("principal", req.Principal)
	}
	if req.Kind != "" {
		q.Set("kind", req.Kind)
	}
	if !req.Since.IsZero() {
		q.Set("since", req.Since.UTC().Format(time.RFC3339Nano))
	}
	if !req.Until.IsZero() {
		q.Set("until", req.Until.UTC().Format(time.RFC3339Nano))
	}
	var out wire.AuditEntriesResponse
	return &out, c.do(ctx, http.MethodGet, "/v1/audit/entries?"+q.Encode(), nil, &out)
}

// AuditCheckpoint returns the node's latest signed checkpoint.
func (c *Client) AuditCheckpoint(ctx context.Context) (*wire.AuditCheckpointResponse, error) {
	var out wire.AuditCheckpointResponse
	return &out, c.do(ctx, http.MethodGet, "/v1/audit/checkpoint", nil, &out)
}

// AuditInclusionProof returns the proof that entry seq is in the tree of
// size entries (size 0: the current size).
func (c *Client) AuditInclusionProof(ctx context.Context, seq, size uint64) (*wire.AuditInclusionResponse, error) {
	q := url.Values{}
	q.Set("seq", strconv.FormatUint(seq, 10))
	if size > 0 {
		q.Set("size", strconv.FormatUint(size, 10))
	}
	var out wire.AuditInclusionResponse
	return &out, c.do(ctx, http.MethodGet, "/v1/audit/proof/inclusion?"+q.Encode(), nil, &out)
}

// AuditConsistencyProof returns the proof that the tree of size from is a
// prefix of the tree of size to (to 0: the current size).
func (c *Client) AuditConsistencyProof(ctx context.Context, from, to uint64) (*wire.AuditConsistencyResponse, error) {
	q := url.Values{}
	q.Set("from", strconv.FormatUint(from, 10))
	if to > 0 {
		q.Set("to", strconv.FormatUint(to, 10))
	}
	var out wire.AuditConsistencyResponse
	return &out, c.do(ctx, http.MethodGet, "/v1/audit/proof/consistency?"+q.Encode(), nil, &out)
}

// AuditExport streams the first size audit entries (0: all) as NDJSON, the
// input of `trellis audit verify` (admin). The caller closes the body; the
// number of entries is in the wire.AuditSizeHeader header, returned as n.
func (c *Client) AuditExport(ctx context.Context, size uint64) (body io.ReadCloser, n uint64, err error) {
	path := "/v1/audit/export"
	if size > 0 {
		path += "?size=" + strconv.FormatUint(size, 10)
	}
	req, err := c.newRequest(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, 0, readError(resp)
	}
	n, _ = strconv.ParseUint(resp.Header.Get(wire.AuditSizeHeader), 10, 64)
	return resp.Body, n, nil
}
