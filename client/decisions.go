package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/trellis-authz/trellis/wire"
)

// Decisions returns up to limit of the latest records of the node's decision
// log, oldest first (admin; 0: the server's default, 100). A node started
// without --decision-log answers 404 decision_log_disabled.
func (c *Client) Decisions(ctx context.Context, limit int) (*wire.DecisionsResponse, error) {
	path := "/v1/decisions"
	if limit > 0 {
		path += "?limit=" + strconv.Itoa(limit)
	}
	var out wire.DecisionsResponse
	return &out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// DecisionStreamOptions are the parameters of StreamDecisions.
type DecisionStreamOptions struct {
	// From is the index of the first record to stream (nil: the next one the
	// node appends), e.g. the Next of Decisions. To resume after a
	// disconnect, pass DecisionStream.Next's last index + 1.
	From *uint64
}

// DecisionStream reads a decision record stream. It is not safe for
// concurrent use.
type DecisionStream struct {
	body io.ReadCloser
	sc   *bufio.Scanner
}

// StreamDecisions opens a stream of the node's decision records as it
// appends them (GET /v1/decisions/stream, admin). Close it when done.
func (c *Client) StreamDecisions(ctx context.Context, opts DecisionStreamOptions) (*DecisionStream, error) {
	path := "/v1/decisions/stream"
	if opts.From != nil {
		path += "?" + url.Values{"from": {strconv.FormatUint(*opts.From, 10)}}.Encode()
	}
	body, sc, err := c.openSSE(ctx, path, "")
	if err != nil {
		return nil, err
	}
	return &DecisionStream{body: body, sc: sc}, nil
}

// Next blocks for the next record. It returns io.EOF when the server ended
// the stream, and *Error when the server sent an error event (code
// decisions_missed: the stream fell behind and was dropped; resume from the
// last record's index + 1).
func (s *DecisionStream) Next() (*wire.DecisionRecord, error) {
	for {
		ev, err := readSSE(s.sc)
		if err != nil {
			return nil, err
		}
		if ev.name != "decision" {
			continue
		}
		var r wire.DecisionRecord
		if err := json.Unmarshal([]byte(ev.data), &r); err != nil {
			return nil, fmt.Errorf("trellis: decision event %q: %w", ev.data, err)
		}
		return &r, nil
	}
}

// Close ends the stream.
func (s *DecisionStream) Close() error { return s.body.Close() }
