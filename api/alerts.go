package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/wire"
)

// alertsPut is the body of PUT /v1/alerts: the whole rule set and an
// optional reason for the audit entry.
type alertsPut struct {
	Rules  []alerts.Rule `json:"rules"`
	Reason string        `json:"reason,omitempty"`
}

// alertRoutes are the endpoints of alert rules (docs/alerts.md).
func (s *Server) alertRoutes() []Route {
	return []Route{
		{Method: http.MethodPut, Path: "/v1/alerts", Summary: "Replace the alert rule set (relationship-change rules with signed webhooks); audited as kind 'alerts', secrets never returned", Role: RoleAdmin,
			Request: alertsPut{}, Response: wire.SuspensionWriteResponse{}, Handler: handle(s, s.handlePutAlerts),
			Example: alertsPut{Reason: "on-call alerting", Rules: []alerts.Rule{{Name: "break-glass",
				Match:   alerts.Match{ResourceType: "dataset", Relation: "reader", Operation: "touch"},
				Webhook: alerts.Webhook{URL: "https://oncall.example.com/hook", Secret: "change-me"}}}}},
		{Method: http.MethodGet, Path: "/v1/alerts", Summary: "The alert rule set, every webhook secret shown as \"set\"", Role: RoleAdmin,
			Response: alerts.RuleSet{}, Handler: s.handleGetAlerts},
	}
}

func (s *Server) handlePutAlerts(c echo.Context, in alertsPut) (wire.SuspensionWriteResponse, error) {
	return s.svc.Alerts.Put(c.Request().Context(), caller(c), in.Reason, alerts.RuleSet{Rules: in.Rules})
}

func (s *Server) handleGetAlerts(c echo.Context) error {
	out, err := s.svc.Alerts.Get(c.Request().Context())
	if err != nil {
		return err
	}
	return ok(c, out)
}
