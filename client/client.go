package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Error is an error answer from the server.
type Error struct {
	Status    int            // HTTP status
	Code      string         // e.g. "invalid_argument", "precondition_failed"
	Message   string         // what went wrong and how to fix it
	Details   map[string]any // structured details, when any
	RequestID string         // quote it when reporting a problem
}

func (e *Error) Error() string {
	s := fmt.Sprintf("trellis: %d %s: %s", e.Status, e.Code, e.Message)
	if e.RequestID != "" {
		s += " (request " + e.RequestID + ")"
	}
	return s
}

// Client calls one Trellis endpoint. It is safe for concurrent use.
type Client struct {
	base    string
	token   string
	http    *http.Client
	timeout time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends "Authorization: Bearer token" with every request.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient uses hc (for TLS settings, proxies, transports).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithTimeout bounds every call that has no earlier context deadline
// (streaming calls excepted). 0 means no bound.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// New returns a client for the server at endpoint ("https://host:port").
func New(endpoint string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(endpoint, "/"), http: http.DefaultClient, timeout: 30 * time.Second}
	for _, o := range opts {
		o(c)
	}
	return c
}

func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// do sends a JSON request (in may be nil) and decodes a JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	if c.timeout > 0 {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, c.timeout)
			defer cancel()
		}
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("trellis: encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := c.newRequest(ctx, method, path, body, "application/json")
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readError(resp)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("trellis: decoding the answer to %s %s: %w", method, path, err)
	}
	return nil
}

// readError turns an error answer into *Error.
func readError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var er wire.ErrorResponse
	if err := json.Unmarshal(data, &er); err != nil || er.Error.Code == "" {
		return &Error{Status: resp.StatusCode, Code: "http_" + fmt.Sprint(resp.StatusCode), Message: strings.TrimSpace(string(data)),
			RequestID: resp.Header.Get(wire.RequestIDHeader)}
	}
	return &Error{Status: resp.StatusCode, Code: er.Error.Code, Message: er.Error.Message, Details: er.Error.Details, RequestID: er.Error.RequestID}
}

// Check asks whether a subject has a permission on a resource.
func (c *Client) Check(ctx context.Context, req wire.CheckRequest) (*wire.CheckResponse, error) {
	var out wire.CheckResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/check", req, &out)
}

// CheckBulk runs many checks at one revision.
func (c *Client) CheckBulk(ctx context.Context, req wire.CheckBulkRequest) (*wire.CheckBulkResponse, error) {
	var out wire.CheckBulkResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/check/bulk", req, &out)
}

// Plan returns, for one subject and a set of resources, the first of an
// ordered list of permissions that holds on each, at one revision. A
// resources_of selection is paged: pass NextCursor back, with the consistency
// at_exact_snapshot CheckedAt, for the next page at the same revision.
func (c *Client) Plan(ctx context.Context, req wire.PlanRequest) (*wire.PlanResponse, error) {
	var out wire.PlanResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/plan", req, &out)
}

// Expand returns the tree of subjects that have a permission.
func (c *Client) Expand(ctx context.Context, req wire.ExpandRequest) (*wire.ExpandResponse, error) {
	var out wire.ExpandResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/expand", req, &out)
}

// LookupResources lists resources a subject has a permission on (one page).
func (c *Client) LookupResources(ctx context.Context, req wire.LookupResourcesRequest) (*wire.LookupResourcesResponse, error) {
	var out wire.LookupResourcesResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/lookup/resources", req, &out)
}

// LookupSubjects lists subjects that have a permission on a resource (one page).
func (c *Client) LookupSubjects(ctx context.Context, req wire.LookupSubjectsRequest) (*wire.LookupSubjectsResponse, error) {
	var out wire.LookupSubjectsResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/lookup/subjects", req, &out)
}

// ReadRelationships reads one page of relationships matching a filter.
func (c *Client) ReadRelationships(ctx context.Context, req wire.ReadRelationshipsRequest) (*wire.ReadRelationshipsResponse, error) {
	var out wire.ReadRelationshipsResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/relationships/read", req, &out)
}

// WriteRelationships applies updates all or nothing.
func (c *Client) WriteRelationships(ctx context.Context, req wire.WriteRelationshipsRequest) (*wire.WriteResponse, error) {
	var out wire.WriteResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/relationships/write", req, &out)
}

// DeleteRelationships deletes every relationship matching a filter.
func (c *Client) DeleteRelationships(ctx context.Context, req wire.DeleteRelationshipsRequest) (*wire.DeleteRelationshipsResponse, error) {
	var out wire.DeleteRelationshipsResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/relationships/delete", req, &out)
}

// Schema reads the schema; c may be nil for minimize_latency.
func (c *Client) Schema(ctx context.Context, cons *wire.Consistency) (*wire.SchemaResponse, error) {
	var out wire.SchemaResponse
	return &out, c.do(ctx, http.MethodGet, "/v1/schema"+consistencyQuery(cons, nil), nil, &out)
}

// WriteSchema replaces the schema.
func (c *Client) WriteSchema(ctx context.Context, req wire.WriteSchemaRequest) (*wire.WriteSchemaResponse, error) {
	var out wire.WriteSchemaResponse
	return &out, c.do(ctx, http.MethodPut, "/v1/schema", req, &out)
}

// DiffSchema compares a proposed schema with the stored one.
func (c *Client) DiffSchema(ctx context.Context, req wire.DiffSchemaRequest) (*wire.DiffSchemaResponse, error) {
	var out wire.DiffSchemaResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/schema/diff", req, &out)
}

// FormatSchema returns a schema in the canonical layout (as trellis schema
// fmt writes it); a syntax error is a 400 invalid_schema whose
// details.errors give each error's line and column.
func (c *Client) FormatSchema(ctx context.Context, req wire.FormatSchemaRequest) (*wire.FormatSchemaResponse, error) {
	var out wire.FormatSchemaResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/schema/format", req, &out)
}

// Health calls /healthz; nil means the server is alive.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil)
}

// Ready calls /readyz; nil means the node has a leader and a schema.
func (c *Client) Ready(ctx context.Context) error {
	err := c.do(ctx, http.MethodGet, "/readyz", nil, nil)
	if e, ok := err.(*Error); ok && e.Code == "http_503" {
		var h wire.HealthResponse
		if json.Unmarshal([]byte(e.Message), &h) == nil && h.Reason != "" {
			e.Code, e.Message = "not_ready", h.Reason
		}
	}
	return err
}

// Metrics returns the Prometheus text exposition.
func (c *Client) Metrics(ctx context.Context) (string, error) {
	return c.getText(ctx, "/metrics")
}

// OpenAPI returns the server's OpenAPI document.
func (c *Client) OpenAPI(ctx context.Context) (map[string]any, error) {
	var out map[string]any
	return out, c.do(ctx, http.MethodGet, "/openapi.json", nil, &out)
}

func (c *Client) getText(ctx context.Context, path string) (string, error) {
	req, err := c.newRequest(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", readError(resp)
	}
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// consistencyQuery renders a consistency (and extra values) as a query string.
func consistencyQuery(cons *wire.Consistency, q url.Values) string {
	if q == nil {
		q = url.Values{}
	}
	if cons != nil {
		switch cons.Mode {
		case wire.AtLeastAsFresh, wire.AtExactSnapshot:
			q.Set(cons.Mode, cons.Token)
		case "":
		default:
			q.Set("consistency", cons.Mode)
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}
