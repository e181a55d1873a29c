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
	body, sc, err := c.openSSE(ctx, path, opts.Since)
	if err != nil {
		return nil, err
	}
	return &Watcher{body: body, sc: sc, lastID: opts.Since}, nil
}

// openSSE opens a server-sent event stream at path, sending lastEventID
// (when not "") as Last-Event-ID; an error answer is *Error.
func (c *Client) openSSE(ctx context.Context, path, lastEventID string) (io.ReadCloser, *bufio.Scanner, error) {
	req, err := c.newRequest(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set(wire.LastEventIDHeader, lastEventID)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, nil, readError(resp)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	return resp.Body, sc, nil
}

// Next blocks for the next change event. It returns io.EOF when the server
// ended the stream, and *Error when the server sent an error event.
func (w *Watcher) Next() (*wire.WatchEvent, error) {
	for {
		ev, err := readSSE(w.sc)
		if err != nil {
			return nil, err
		}
		if ev.name != "" && ev.name != "change" {
			continue
		}
		var out wire.WatchEvent
		if err := json.Unmarshal([]byte(ev.data), &out); err != nil {
			return nil, fmt.Errorf("trellis: watch event %q: %w", ev.data, err)
		}
		if ev.id != "" {
			w.lastID = ev.id
		}
		return &out, nil
	}
}

// sseEvent is one server-sent event.
type sseEvent struct{ name, id, data string }

// readSSE reads the next event with data from an SSE stream (comments, such
// as heartbeats, skipped). An "error" event, which carries a wire.WatchError,
// is returned as *Error; the end of the stream is io.EOF.
func readSSE(sc *bufio.Scanner) (sseEvent, error) {
	var ev sseEvent
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if data.Len() == 0 {
				ev = sseEvent{}
				continue
			}
			ev.data = data.String()
			if ev.name == "error" {
				var we wire.WatchError
				if err := json.Unmarshal([]byte(ev.data), &we); err != nil {
					return sseEvent{}, fmt.Errorf("trellis: stream error event %q: %w", ev.data, err)
				}
				return sseEvent{}, &Error{Status: http.StatusOK, Code: we.Code, Message: we.Message}
			}
			return ev, nil
		}
		if strings.HasPrefix(line, ":") {
			continue // comment (heartbeat)
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			ev.name = value
		case "id":
			ev.id = value
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
	if err := sc.Err(); err != nil {
		return sseEvent{}, err
	}
	return sseEvent{}, io.EOF
}

// LastID returns the token of the last event read (the Since to resume
// from), or the Since the watch started with.
func (w *Watcher) LastID() string { return w.lastID }

// Close ends the stream.
func (w *Watcher) Close() error { return w.body.Close() }
