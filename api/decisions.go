package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
)

// RegisterDecisions adds GET /v1/decisions and GET /v1/decisions/stream to
// s, serving the records of this node's decision log (d; a node without a
// decision log answers 404 decision_log_disabled, saying how to enable it).
//
// Role: admin, as for the audit entries: a decision record names who asked
// what about whom.
func RegisterDecisions(s *Server, d *service.DecisionRecords) {
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/decisions",
		Summary: "The latest records of this node's decision log (trellis serve --decision-log), oldest first",
		Role:    RoleAdmin, Response: wire.DecisionsResponse{},
		Query:        []QueryParam{{"limit", "how many of the latest records (default 100, at most 1000; the node keeps its latest 1000)"}},
		QueryExample: "limit=10",
		Handler: func(c echo.Context) error {
			limit, err := queryUint(c, "limit", wire.DefaultDecisionLimit)
			if err != nil {
				return err
			}
			return answer(c)(d.Recent(limit))
		}})
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/decisions/stream",
		Summary:   "Stream the records of this node's decision log as server-sent events (event decision, id = the record's index) as the node appends them",
		Role:      RoleAdmin,
		Response:  wire.DecisionRecord{},
		StreamOut: "text/event-stream",
		NoTimeout: true,
		Query: []QueryParam{
			{"from", "the index of the first record to send (default: the next one appended); at most as far back as the records the node keeps. The Last-Event-ID header, when set, takes precedence: the stream resumes after that index"},
		},
		QueryExample: "from=0",
		Handler:      func(c echo.Context) error { return handleDecisionStream(c, d) }})
}

func handleDecisionStream(c echo.Context, d *service.DecisionRecords) error {
	req := service.DecisionStreamRequest{Heartbeat: WatchHeartbeat}
	if id := c.Request().Header.Get(LastEventIDHeader); id != "" {
		last, err := strconv.ParseUint(id, 10, 64)
		if err != nil || last == ^uint64(0) {
			return fail(service.ErrInvalidArgument, map[string]any{"header": LastEventIDHeader},
				"header %s: %q is not a decision record index (the id of a decision event)", LastEventIDHeader, id)
		}
		next := last + 1
		req.From, req.FromName = &next, LastEventIDHeader
	} else if c.QueryParam("from") != "" {
		from, err := queryUint(c, "from", 0)
		if err != nil {
			return err
		}
		req.From, req.FromName = &from, "from"
	}
	sse := &sseWriter{resp: c.Response()}
	err := d.Stream(c.Request().Context(), req, service.DecisionSink{
		Record: func(r wire.DecisionRecord) error {
			return sse.send(strconv.FormatUint(r.Index, 10), "decision", r)
		},
		Flush: sse.flush, Heartbeat: sse.heartbeat})
	if err == nil || !sse.started {
		return err // before the first byte, the error is the answer
	}
	if c.Request().Context().Err() == nil { // the client is still there
		sse.fail(err)
	}
	return nil
}

// send writes one server-sent event with an id, an event name and v as its
// JSON data.
func (s *sseWriter) send(id, event string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if !s.started {
		s.flush()
	}
	_, err = fmt.Fprintf(s.resp, "id: %s\nevent: %s\ndata: %s\n\n", id, event, data)
	return err
}
