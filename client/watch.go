package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/trellis-authz/trellis/wire"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// WatchOptions are the parameters of Watch.
type WatchOptions struct {
	// Since is a token: stream the revisions after it ("" = from now). To
	// resume after a disconnect, pass the last event's Token (LastID).
	Since string
	// Types limits the stream to these resource types (nil: all).
	Types []string
}

// Watcher reads a watch stream. It is not safe for concurrent use.
type Watcher struct {
	body   io.ReadCloser
	sc     *bufio.Scanner
	lastID string
}

// Watch opens a stream of relationship changes (GET /v1/watch). The Since
// token is sent as Last-Event-ID, so resuming from the last event's token
// sees every later change exactly once. Close the watcher when done.
func (c *Client) Watch(ctx context.Context, opts WatchOptions) (*Watcher, error) {
	q := url.Values{}
	if len(opts.Types) > 0 {
		q.Set("types", strings.Join(opts.Types, ","))
	}
	path := "/v1/watch"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	req, err := c.newRequest(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if opts.Since != "" {
		req.Header.Set(wire.LastEventIDHeader, opts.Since)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	return &Watcher{body: resp.Body, sc: sc, lastID: opts.Since}, nil
}

// Next blocks for the next change event. It returns io.EOF when the server
// ended the stream, and *Error when the server sent an error event.
func (w *Watcher) Next() (*wire.WatchEvent, error) {
	var event, id string
	var data strings.Builder
	for w.sc.Scan() {
		line := w.sc.Text()
		if line == "" {
			if data.Len() == 0 {
				event, id = "", ""
				continue
			}
			switch event {
			case "error":
				var we wire.WatchError
				if err := json.Unmarshal([]byte(data.String()), &we); err != nil {
					return nil, fmt.Errorf("trellis: watch error event %q: %w", data.String(), err)
				}
				return nil, &Error{Status: http.StatusOK, Code: we.Code, Message: we.Message}
			case "", "change":
				var ev wire.WatchEvent
				if err := json.Unmarshal([]byte(data.String()), &ev); err != nil {
					return nil, fmt.Errorf("trellis: watch event %q: %w", data.String(), err)
				}
				if id != "" {
					w.lastID = id
				}
				return &ev, nil
			}
			event, id = "", ""
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // comment (heartbeat)
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			event = value
		case "id":
			id = value
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
	if err := w.sc.Err(); err != nil {
		return nil, err
	}
	return nil, io.EOF
}

// LastID returns the token of the last event read (the Since to resume
// from), or the Since the watch started with.
func (w *Watcher) LastID() string { return w.lastID }

// Close ends the stream.
func (w *Watcher) Close() error { return w.body.Close() }
