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
	resp := c.Response()
	started := false
	start := func() {
		if !started {
			started = true
			h := resp.Header()
			h.Set(echo.HeaderContentType, "text/event-stream")
			h.Set("Cache-Control", "no-cache")
			h.Set("X-Accel-Buffering", "no")
			resp.WriteHeader(http.StatusOK)
		}
		resp.Flush()
	}
	err := w.Stream(c.Request().Context(), req, service.WatchSink{
		Event: func(ev wire.WatchEvent) error {
			data, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			start()
			_, err = fmt.Fprintf(resp, "id: %s\nevent: change\ndata: %s\n\n", ev.Token, data)
			return err
		},
		Flush:     func() error { start(); return nil },
		Heartbeat: func() error { _, err := fmt.Fprint(resp, ": heartbeat\n\n"); return err },
	})
	if err == nil || !started {
		return err
	}
	if c.Request().Context().Err() != nil {
		return nil // the client went away
	}
	_, body := httpError(err)
	data, _ := json.Marshal(wire.WatchError{Code: body.Code, Message: body.Message})
	fmt.Fprintf(resp, "event: error\ndata: %s\n\n", data)
	resp.Flush()
	return nil
}
