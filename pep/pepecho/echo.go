package pepecho

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/trellis-authz/trellis/pep"
)

// Middleware returns echo middleware that asks c about every request;
// mapReq turns the request into a question. The allowed handler finds the
// decision with pep.DecisionFrom(c.Request().Context()).
func Middleware(c *pep.Client, mapReq func(echo.Context) (pep.Question, error)) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(ec echo.Context) error {
			q, err := mapReq(ec)
			r := ec.Request()
			d, allowed, err := c.Enforce(r.Context(), q, err)
			if allowed {
				ec.SetRequest(r.WithContext(pep.WithDecision(r.Context(), d)))
				return next(ec)
			}
			ec.Response().Header().Set(pep.DecisionIDHeader, d.DecisionID)
			return ec.JSON(http.StatusForbidden, pep.Denial(d, err))
		}
	}
}
