package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
)

// WatchHeartbeat is how often an idle watch stream gets an SSE comment, so
// proxies keep it open and a vanished client is noticed.
const WatchHeartbeat = 15 * time.Second

// RegisterWatch adds GET /v1/watch to s, streaming w's changes as
// server-sent events.
func RegisterWatch(s *Server, w *service.Watch) {
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/watch",
		Summary:   "Stream relationship changes as server-sent events, resumable from any token in the change-feed window",
		Role:      RoleReader,
		StreamOut: "text/event-stream",
		NoTimeout: true,
		Query: []QueryParam{
			{"since", "a token (written_at, read_at or an event id): stream the revisions after it; default: from now. The Last-Event-ID header, when set, takes precedence"},
			{"types", "comma-separated resource types to include (default: all)"},
		},
		QueryExample: "types=dataset,team",
		Handler:      func(c echo.Context) error { return handleWatch(c, w) }})
}

func handleWatch(c echo.Context, w *service.Watch) error {
	req := service.WatchRequest{Since: c.Request().Header.Get(LastEventIDHeader), From: "Last-Event-ID", Types: c.QueryParam("types"), Heartbeat: WatchHeartbeat}
	if req.Since == "" {
		req.Since, req.From = c.QueryParam("since"), "since"
	}
	sse := &sseWriter{resp: c.Response()}
	err := w.Stream(c.Request().Context(), req, service.WatchSink{Event: sse.event, Flush: sse.flush, Heartbeat: sse.heartbeat})
	if err == nil || !sse.started {
		return err // before the first byte, the error is the answer
	}
	if c.Request().Context().Err() == nil { // the client is still there
		sse.fail(err)
	}
	return nil
}

// sseWriter writes a watch as server-sent events; the header goes out with
// the first event or the first flush.
type sseWriter struct {
	resp    *echo.Response
	started bool
}

func (s *sseWriter) flush() error {
	if !s.started {
		s.started = true
		h := s.resp.Header()
		h.Set(echo.HeaderContentType, "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		s.resp.WriteHeader(http.StatusOK)
	}
	s.resp.Flush()
	return nil
}

func (s *sseWriter) event(ev wire.WatchEvent) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	if !s.started {
		s.flush()
	}
	_, err = fmt.Fprintf(s.resp, "id: %s\nevent: change\ndata: %s\n\n", ev.Token, data)
	return err
}

func (s *sseWriter) heartbeat() error {
	_, err := fmt.Fprint(s.resp, ": heartbeat\n\n")
	return err
}

// fail ends a started stream with an "error" event carrying an API error code.
func (s *sseWriter) fail(err error) {
	_, body := httpError(err)
	data, _ := json.Marshal(wire.WatchError{Code: body.Code, Message: body.Message})
	fmt.Fprintf(s.resp, "event: error\ndata: %s\n\n", data)
	s.resp.Flush()
}
