// Package client is the Go client for the Trellis REST API. It has a method
// per endpoint, using the JSON types of package wire, and returns *Error for
// every error answer.
//
//	c := client.New("https://trellis.internal:8443", client.WithToken(token))
//	res, err := c.Check(ctx, wire.CheckRequest{Resource: "dataset:claims", Permission: "read", Subject: "user:ana"})
package client
