package client

import (
	"context"
	"net/http"

	"github.com/trellis-authz/trellis/wire"
)

// WhoAmI returns the principal and role of the client's token (GET /v1/whoami).
func (c *Client) WhoAmI(ctx context.Context) (*wire.WhoAmIResponse, error) {
	var out wire.WhoAmIResponse
	if err := c.do(ctx, http.MethodGet, "/v1/whoami", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
