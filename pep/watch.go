package pep

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/trellis-authz/trellis/tuple"
	"github.com/trellis-authz/trellis/wire"
)

// errStreamEnded is a watch stream that the server closed.
var errStreamEnded = errors.New("the watch stream ended")

// watchLoop keeps a watch session open until Close, reconnecting with a
// jittered, doubling backoff.
func (c *Client) watchLoop(ctx context.Context) {
	defer c.wg.Done()
	backoff := c.cfg.RetryMin
	for ctx.Err() == nil {
		connected, err := c.session(ctx)
		c.setDown()
		if ctx.Err() != nil {
			return
		}
		if connected {
			backoff = c.cfg.RetryMin
		}
		c.log.Warn("pep: watch stream down; the cache does not answer until it is back", "url", c.base, "err", err, "retry_in", backoff)
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, c.cfg.RetryMax)
	}
}

// setDown stops the cache from answering.
func (c *Client) setDown() {
	c.stateMu.Lock()
	c.live = false
	c.serveUntil.Store(0)
	c.stateMu.Unlock()
	c.m.connected.Set(0)
}

// extend lets the cache answer for three schema intervals more, if the
// watch is live.
func (c *Client) extend() {
	c.stateMu.Lock()
	if c.live {
		c.serveUntil.Store(c.now() + 3*int64(c.cfg.SchemaInterval))
	}
	c.stateMu.Unlock()
}

// session reads the schema, opens the watch from the last token applied and
// applies its events until the stream fails. It reports whether the stream
// was opened.
func (c *Client) session(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The schema read with fully_consistent names a revision at least as new
	// as every change committed before this reconnect: the catch-up target.
	sch, at, err := c.readSchema(ctx, "consistency=fully_consistent")
	if err != nil {
		return false, err
	}
	if tag := c.tag.Load(); tag == nil || *tag != at.tag {
		// First contact, or a node of another cluster (or one that bound its
		// cluster UUID since): nothing seen so far means anything here. The
		// tag goes first, so that no answer of the old one is cached after
		// the clear (insertion checks it); the cache is not answering now.
		c.tag.Store(&at.tag)
		c.floor.Store(at.rev)
		if n := c.cache.clearAll(); n > 0 {
			c.m.evictRecover.Add(float64(n))
		}
		c.raiseFresh(at) // before seen, as in apply
		c.seen.Store(at.rev)
		c.seenToken.Store(&at.token)
	}
	c.raiseFresh(at)
	c.applySchema(sch, at)

	silence := time.AfterFunc(c.cfg.WatchSilence, cancel)
	defer silence.Stop()
	resp, err := c.openWatch(ctx, *c.seenToken.Load())
	var apiErr *Error
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusGone {
		// The changes after our last token are gone from the feed: no entry
		// can be proven current, so drop them all and start from the read.
		c.floor.Store(at.rev)
		if n := c.cache.clearAll(); n > 0 {
			c.m.evictRecover.Add(float64(n))
		}
		c.seen.Store(at.rev)
		c.seenToken.Store(&at.token)
		resp, err = c.openWatch(ctx, at.token)
	}
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()

	c.stateMu.Lock()
	if at.rev > c.seen.Load() {
		c.target.Store(at.rev)
	} else {
		c.target.Store(0)
	}
	c.live = true
	c.serveUntil.Store(c.now() + 3*int64(c.cfg.SchemaInterval))
	c.stateMu.Unlock()
	c.m.connected.Set(1)
	c.log.Info("pep: watch stream open", "url", c.base, "from_revision", c.seen.Load(), "catch_up_to", at.rev)
	return true, c.readStream(resp.Body, func() { silence.Reset(c.cfg.WatchSilence) })
}

// readSchema reads GET /v1/schema with the given query.
func (c *Client) readSchema(ctx context.Context, query string) (wire.SchemaResponse, revToken, error) {
	ctx, cancel := context.WithTimeout(ctx, max(c.cfg.Timeout, 5*time.Second))
	defer cancel()
	var s wire.SchemaResponse
	if err := c.get(ctx, "/v1/schema?"+query, &s); err != nil {
		return s, revToken{}, fmt.Errorf("reading the schema: %w", err)
	}
	at := parseToken(s.ReadAt)
	if !at.ok || s.Hash == "" {
		return s, at, fmt.Errorf("%w: GET /v1/schema: read_at %q or hash %q is not one Trellis gives", ErrBadResponse, s.ReadAt, s.Hash)
	}
	return s, at, nil
}

// applySchema puts a schema in force unless it is the one in force or an
// older read. A new schema empties the cache.
func (c *Client) applySchema(s wire.SchemaResponse, at revToken) {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	cur := c.reach.Load()
	if cur != nil && (at.rev < cur.at || cur.hash == s.Hash) {
		return
	}
	r := safeBuildReach(s.Schema, s.Hash)
	r.at = at.rev
	if r.all {
		c.log.Warn("pep: the schema could not be read here; every change now evicts every cached answer", "hash", s.Hash)
	}
	if at.rev > c.schemaFloor.Load() {
		c.schemaFloor.Store(at.rev)
	}
	c.reach.Store(r)
	if n := c.cache.clearAll(); n > 0 {
		c.m.evictSchema.Add(float64(n))
	}
}

// schemaLoop reads the schema every SchemaInterval, and at once when the
// watch asks (it saw a revision without changes, which may be a schema
// write).
func (c *Client) schemaLoop(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.SchemaInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.poke:
		}
		q := "consistency=minimize_latency"
		if tok := c.fresh.Load(); tok != nil {
			q = "at_least_as_fresh=" + url.QueryEscape(tok.token)
		}
		sch, at, err := c.readSchema(ctx, q)
		if err != nil {
			continue // three failed intervals stop the cache (extend is not called)
		}
		c.applySchema(sch, at)
		c.extend()
	}
}

// openWatch opens GET /v1/watch after token.
func (c *Client) openWatch(ctx context.Context, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/watch", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set(wire.LastEventIDHeader, token)
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		var er wire.ErrorResponse
		if json.Unmarshal(b, &er) == nil && er.Error.Code != "" {
			return nil, &Error{Status: resp.StatusCode, Code: er.Error.Code, Message: er.Error.Message}
		}
		return nil, &Error{Status: resp.StatusCode, Message: snippet(b)}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: GET /v1/watch answered Content-Type %q, not text/event-stream", ErrBadResponse, ct)
	}
	return resp, nil
}

// readStream applies the events of a server-sent event stream until it
// fails; alive is called for every line (events and heartbeats alike).
func (c *Client) readStream(body io.Reader, alive func()) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var event string
	var data strings.Builder
	for sc.Scan() {
		alive()
		line := sc.Text()
		if line == "" {
			if data.Len() > 0 {
				if err := c.dispatch(event, data.String()); err != nil {
					return err
				}
			}
			event = ""
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // a heartbeat
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			event = value
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errStreamEnded
}

// dispatch handles one complete event.
func (c *Client) dispatch(event, data string) error {
	switch event {
	case "", "change":
		var ev wire.WatchEvent
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return fmt.Errorf("%w: watch event %s: %v", ErrBadResponse, snippet([]byte(data)), err)
		}
		return c.apply(&ev)
	case "error":
		var we wire.WatchError
		if err := json.Unmarshal([]byte(data), &we); err != nil {
			return fmt.Errorf("%w: watch error event %s: %v", ErrBadResponse, snippet([]byte(data)), err)
		}
		return &Error{Status: http.StatusOK, Code: we.Code, Message: we.Message}
	}
	c.log.Debug("pep: ignoring a watch event of an unknown kind", "event", event)
	return nil
}

// apply evicts what one revision's changes may affect. The order matters
// (see doc.go): floor first, so that no answer older than the change is
// cached from now on; then the evictions; then seen, which lets token
// hand-offs of this revision use the cache.
func (c *Client) apply(ev *wire.WatchEvent) error {
	tok := parseToken(ev.Token)
	if !tok.ok || tok.rev != ev.Revision || ev.Revision == 0 {
		return fmt.Errorf("%w: watch event of revision %d has token %q", ErrBadResponse, ev.Revision, ev.Token)
	}
	last := c.seen.Load()
	if ev.Revision <= last {
		return nil // replayed
	}
	r := c.reach.Load()
	// A suspension may change any answer of its subject (and, for a subject
	// set, of anyone reaching through it): evict everything.
	all := r == nil || r.all || ev.Suspension != ""
	var nodes []node
	unknown := false
	for _, ch := range ev.Changes {
		if all {
			break
		}
		if ch.Op != "touch" && ch.Op != "delete" {
			return fmt.Errorf("%w: watch change op %q is neither touch nor delete", ErrBadResponse, ch.Op)
		}
		rel, err := tuple.Parse(ch.Relationship)
		if err != nil {
			return fmt.Errorf("%w: watch change %q: %v", ErrBadResponse, ch.Relationship, err)
		}
		n := node{rel.Resource.Type, rel.Relation}
		if !r.known[n] {
			all, unknown = true, true // a relation this schema does not know: a newer schema
			break
		}
		nodes = append(nodes, r.affected[n]...)
	}
	c.floor.Store(ev.Revision)
	var n int
	if all {
		n = c.cache.clearAll()
	} else {
		n = c.cache.clear(nodes)
	}
	// The freshest token goes first: a decision that sees the new seen
	// revision must ask the node for at least that revision, never for the
	// older fresh token (TestNoStaleInsertAfterRevoke caught one answered
	// at the revision before a revoke the watch had already applied).
	c.raiseFresh(tok)
	c.seen.Store(ev.Revision)
	c.seenToken.Store(&ev.Token)
	if t := c.target.Load(); t != 0 && ev.Revision >= t {
		c.target.Store(0)
	}
	if n > 0 {
		c.m.evictWatch.Add(float64(n))
	}
	if ev.Revision > last+1 || unknown {
		// Revisions without relationship changes passed: one may be a
		// schema write, which the stream does not show.
		select {
		case c.poke <- struct{}{}:
		default:
		}
	}
	return nil
}
