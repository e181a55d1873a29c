package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/console"
	"github.com/trellis-authz/trellis/wire"
)

// ConsolePath is where every node serves the web console (package console).
const ConsolePath = "/console/"

// mountConsole serves the web console's embedded files under ConsolePath and
// adds GET /v1/whoami, which the console asks for the caller's role.
//
// The console's files are public (they hold no data; every call they make
// carries the user's bearer token), so they are served before routing, by an
// echo Pre middleware: they are not API routes and are not in the OpenAPI
// document. They still pass through requestMiddleware (request id,
// admission, the request log and metrics, under the route "/console/*").
func (s *Server) mountConsole() {
	s.Handle(Route{Method: http.MethodGet, Path: "/v1/whoami", Summary: "The principal and role of the caller's token (the web console asks it to show only the controls the role may use)",
		Role: RoleReader, Response: wire.WhoAmIResponse{}, Handler: s.handleWhoAmI})
	files := console.Handler(ConsolePath)
	serve := s.requestMiddleware(func(c echo.Context) error {
		if m := c.Request().Method; m != http.MethodGet && m != http.MethodHead {
			return echo.ErrMethodNotAllowed
		}
		files.ServeHTTP(c.Response(), c.Request())
		return nil
	})
	s.e.Pre(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p := c.Request().URL.Path
			switch {
			case p == strings.TrimSuffix(ConsolePath, "/"):
				return c.Redirect(http.StatusMovedPermanently, ConsolePath)
			case strings.HasPrefix(p, ConsolePath):
				c.SetPath(ConsolePath + "*")
				return serve(c)
			}
			return next(c)
		}
	})
}

func (s *Server) handleWhoAmI(c echo.Context) error {
	p := principalOf(c)
	return ok(c, wire.WhoAmIResponse{Principal: p.Name, Role: string(p.Role)})
}
