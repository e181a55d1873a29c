package client

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/trellis-authz/trellis/wire"
)

// The client has no alert rule types of its own (it has no dependencies
// beyond wire): rules and letters travel as JSON, and the server validates
// them (docs/alerts.md).

// PutAlerts replaces the alert rule set. rules is the JSON array of rules.
// The server pings every webhook first unless skipWebhookCheck.
func (c *Client) PutAlerts(ctx context.Context, rules json.RawMessage, reason string, skipWebhookCheck bool) (*wire.SuspensionWriteResponse, error) {
	body := struct {
		Rules            json.RawMessage `json:"rules"`
		Reason           string          `json:"reason,omitempty"`
		SkipWebhookCheck bool            `json:"skip_webhook_check,omitempty"`
	}{rules, reason, skipWebhookCheck}
	var out wire.SuspensionWriteResponse
	return &out, c.do(ctx, http.MethodPut, "/v1/alerts", body, &out)
}

// Alerts returns the stored rule set as JSON (secrets shown as "set").
func (c *Client) Alerts(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	return out, c.do(ctx, http.MethodGet, "/v1/alerts", nil, &out)
}

// TestAlerts validates rules (nil: the stored ones) and has the server ping
// each rule's webhook; it returns {"results":[{"rule","url","ok","error"}]}.
func (c *Client) TestAlerts(ctx context.Context, rules json.RawMessage) (json.RawMessage, error) {
	body := struct {
		Rules json.RawMessage `json:"rules,omitempty"`
	}{rules}
	var out json.RawMessage
	return out, c.do(ctx, http.MethodPost, "/v1/alerts/test", body, &out)
}

// AlertLetters returns the dead letters as JSON: {"letters":[...]}.
func (c *Client) AlertLetters(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	return out, c.do(ctx, http.MethodGet, "/v1/alerts/failed", nil, &out)
}

// RetryAlertLetter delivers a dead letter again; delivered, it leaves the list.
func (c *Client) RetryAlertLetter(ctx context.Context, id string) (json.RawMessage, error) {
	var out json.RawMessage
	return out, c.do(ctx, http.MethodPost, "/v1/alerts/failed/retry", map[string]string{"id": id}, &out)
}

// DropAlertLetter removes a dead letter without delivering it.
func (c *Client) DropAlertLetter(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/v1/alerts/failed/drop", map[string]string{"id": id}, nil)
}
