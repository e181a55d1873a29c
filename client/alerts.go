package client

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/trellis-authz/trellis/wire"
)

// PutAlerts replaces the alert rule set (docs/alerts.md). rules is the JSON
// array of rules; it is passed as is (the client has no rule types of its
// own), and the server validates it.
func (c *Client) PutAlerts(ctx context.Context, rules json.RawMessage, reason string) (*wire.SuspensionWriteResponse, error) {
	body := struct {
		Rules  json.RawMessage `json:"rules"`
		Reason string          `json:"reason,omitempty"`
	}{rules, reason}
	var out wire.SuspensionWriteResponse
	return &out, c.do(ctx, http.MethodPut, "/v1/alerts", body, &out)
}

// Alerts returns the stored rule set as JSON (secrets shown as "set").
func (c *Client) Alerts(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	return out, c.do(ctx, http.MethodGet, "/v1/alerts", nil, &out)
}
