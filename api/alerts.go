package api

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/trellis-authz/trellis/alerts"
	"github.com/trellis-authz/trellis/service"
	"github.com/trellis-authz/trellis/wire"
)

// alertsPut is the body of PUT /v1/alerts: the whole rule set, an optional
// reason for the audit entry, and whether to skip pinging the webhooks.
type alertsPut struct {
	Rules            []alerts.Rule `json:"rules"`
	Reason           string        `json:"reason,omitempty"`
	SkipWebhookCheck bool          `json:"skip_webhook_check,omitempty"`
}

// alertLetterRef names a dead letter.
type alertLetterRef struct {
	ID string `json:"id"`
}

// alertLetters is the answer of GET /v1/alerts/failed.
type alertLetters struct {
	Letters []alerts.Letter `json:"letters"`
}

// alertsTest is the body of POST /v1/alerts/test: rules to validate and
// ping without storing them; none: the stored rules.
type alertsTest struct {
	Rules []alerts.Rule `json:"rules,omitempty"`
}

// alertPings is the answer of POST /v1/alerts/test.
type alertPings struct {
	Results []service.PingResult `json:"results"`
}

type alertsHandlers struct{ s *Server }

// alertRoutes are the endpoints of alert rules (docs/alerts.md).
func (s *Server) alertRoutes() []Route {
	h := alertsHandlers{s}
	return []Route{
		{Method: http.MethodPut, Path: "/v1/alerts", Summary: "Replace the alert rule set (relationship, schema, decision and audit rules with signed webhooks; each webhook is pinged first unless skip_webhook_check); audited as kind 'alerts', secrets never returned", Role: RoleAdmin,
			Request: alertsPut{}, Response: wire.SuspensionWriteResponse{}, Handler: handle(s, h.put),
			Example: alertsPut{Reason: "on-call alerting", SkipWebhookCheck: true, Rules: []alerts.Rule{{Name: "new-readers",
				Match:   alerts.Match{ResourceType: "dataset", Relation: "reader", Operation: "touch"},
				Webhook: alerts.Webhook{URL: "https://oncall.example.com/hook", Secret: "change-me"}}}}},
		{Method: http.MethodGet, Path: "/v1/alerts", Summary: "The alert rule set, every webhook secret shown as \"set\"", Role: RoleAdmin,
			Response: alerts.RuleSet{}, Handler: h.get},
		{Method: http.MethodPost, Path: "/v1/alerts/test", Summary: "Validate the given rules (none: the stored ones) and send a signed ping to each rule's webhook; says which answered, stores nothing", Role: RoleAdmin,
			Request: alertsTest{}, Response: alertPings{}, Handler: handle(s, h.test),
			Example: alertsTest{Rules: []alerts.Rule{{Name: "schema-changes", Schema: true,
				Webhook: alerts.Webhook{URL: "http://127.0.0.1:1/hook", Secret: "change-me"}}}}},
		{Method: http.MethodGet, Path: "/v1/alerts/failed", Summary: "Dead letters: deliveries whose attempts ran out (the replicated list, and this node's own decision alerts marked local)", Role: RoleAdmin,
			Response: alertLetters{}, Handler: h.failed},
		{Method: http.MethodPost, Path: "/v1/alerts/failed/retry", Summary: "Deliver a dead letter again, with its delivery id; delivered, it leaves the list (502 webhook_failed if the webhook still refuses)", Role: RoleAdmin,
			Request: alertLetterRef{}, Response: alerts.Letter{}, Handler: handle(s, h.retry),
			Example: alertLetterRef{ID: "5f1c0d7e9a2b4c6d8e0f1a2b3c4d5e6f"}, ExampleStatus: http.StatusNotFound},
		{Method: http.MethodPost, Path: "/v1/alerts/failed/drop", Summary: "Remove a dead letter without delivering it", Role: RoleAdmin,
			Request: alertLetterRef{}, Response: alertLetterRef{}, Handler: handle(s, h.drop),
			Example: alertLetterRef{ID: "5f1c0d7e9a2b4c6d8e0f1a2b3c4d5e6f"}, ExampleStatus: http.StatusNotFound},
	}
}

func (h alertsHandlers) put(c echo.Context, in alertsPut) (wire.SuspensionWriteResponse, error) {
	return h.s.svc.Alerts.Put(c.Request().Context(), caller(c), in.Reason, alerts.RuleSet{Rules: in.Rules}, in.SkipWebhookCheck)
}

func (h alertsHandlers) get(c echo.Context) error {
	out, err := h.s.svc.Alerts.Get(c.Request().Context())
	if err != nil {
		return err
	}
	return ok(c, out)
}

func (h alertsHandlers) test(c echo.Context, in alertsTest) (alertPings, error) {
	out, err := h.s.svc.Alerts.Test(c.Request().Context(), alerts.RuleSet{Rules: in.Rules})
	return alertPings{Results: out}, err
}

func (h alertsHandlers) failed(c echo.Context) error {
	out, err := h.s.svc.Alerts.Failed(c.Request().Context())
	if err != nil {
		return err
	}
	return ok(c, alertLetters{Letters: out})
}

func (h alertsHandlers) retry(c echo.Context, in alertLetterRef) (alerts.Letter, error) {
	return h.s.svc.Alerts.Retry(c.Request().Context(), caller(c), in.ID)
}

func (h alertsHandlers) drop(c echo.Context, in alertLetterRef) (alertLetterRef, error) {
	return in, h.s.svc.Alerts.Drop(c.Request().Context(), caller(c), in.ID)
}
