// Package pepecho is the echo (github.com/labstack/echo/v4) middleware of
// the Trellis policy enforcement point: the same rule as pep.Middleware —
// every request is mapped to a question and decided by a pep.Client; only an
// allow reaches the handler; a denial, a conditional answer or any error is
// a 403 with the decision id in the Trellis-Decision-Id header and the body
// of pep.Denial. It lives apart from package pep so that a service on plain
// net/http does not link echo.
package pepecho
