package client

import (
	"context"
	"net/http"

	"github.com/trellis-authz/trellis/wire"
)

// Suspend suspends a subject (docs/suspension.md); the answer's WrittenAt is
// the token from which every node denies it.
func (c *Client) Suspend(ctx context.Context, req wire.SuspendRequest) (*wire.SuspensionWriteResponse, error) {
	var out wire.SuspensionWriteResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/suspensions", req, &out)
}

// Unsuspend lifts a subject's suspension.
func (c *Client) Unsuspend(ctx context.Context, req wire.UnsuspendRequest) (*wire.SuspensionWriteResponse, error) {
	var out wire.SuspensionWriteResponse
	return &out, c.do(ctx, http.MethodPost, "/v1/suspensions/delete", req, &out)
}

// Suspensions lists the stored suspensions.
func (c *Client) Suspensions(ctx context.Context, cons *wire.Consistency) (*wire.SuspensionsResponse, error) {
	var out wire.SuspensionsResponse
	return &out, c.do(ctx, http.MethodGet, "/v1/suspensions"+consistencyQuery(cons, nil), nil, &out)
}
