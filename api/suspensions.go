package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/trellis-authz/trellis/wire"
)

// suspensionRoutes are the endpoints of suspension (docs/suspension.md).
func (s *Server) suspensionRoutes() []Route {
	return []Route{
		{Method: http.MethodPost, Path: "/v1/suspensions", Summary: "Suspend a subject (user, service account or subject set): every evaluation on every node denies it everything from the returned token on, until unsuspended or until `until`", Role: RoleAdmin,
			Request: wire.SuspendRequest{}, Response: wire.SuspensionWriteResponse{}, Handler: handle(s, s.handleSuspend),
			Example: wire.SuspendRequest{Subject: "user:eve", Reason: "SEC-7 credentials leaked", Until: "2099-01-01T00:00:00Z"}},
		{Method: http.MethodPost, Path: "/v1/suspensions/delete", Summary: "Lift a subject's suspension (404 when it is not suspended)", Role: RoleAdmin,
			Request: wire.UnsuspendRequest{}, Response: wire.SuspensionWriteResponse{}, Handler: handle(s, s.handleUnsuspend),
			Example: wire.UnsuspendRequest{Subject: "user:eve", Reason: "SEC-7 credentials rotated"}},
		{Method: http.MethodGet, Path: "/v1/suspensions", Summary: "List the suspensions stored at a revision", Role: RoleReader,
			Response: wire.SuspensionsResponse{}, Handler: s.handleListSuspensions, Query: consistencyQuery, QueryExample: "consistency=fully_consistent"},
	}
}

func (s *Server) handleSuspend(c echo.Context, in wire.SuspendRequest) (wire.SuspensionWriteResponse, error) {
	return s.svc.Suspensions.Suspend(c.Request().Context(), caller(c), in)
}

func (s *Server) handleUnsuspend(c echo.Context, in wire.UnsuspendRequest) (wire.SuspensionWriteResponse, error) {
	return s.svc.Suspensions.Unsuspend(c.Request().Context(), caller(c), in)
}

func (s *Server) handleListSuspensions(c echo.Context) error {
	cons, err := consistencyFromQuery(c.QueryParams())
	if err != nil {
		return err
	}
	out, err := s.svc.Suspensions.List(c.Request().Context(), cons)
	if err != nil {
		return err
	}
	return ok(c, out)
}
