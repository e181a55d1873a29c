package api_test

import (
	"fmt"
	"github.com/trellis-authz/trellis/service"
	"strings"

	"github.com/trellis-authz/trellis/api"
)

// Tokens are opaque to clients, versioned, and tied to one cluster.
func ExampleNewTokens() {
	tokens := service.NewTokens("prod-eu")
	tok := tokens.Encode(42)
	rev, err := tokens.Decode(tok)
	fmt.Println(strings.HasPrefix(tok, "t1."), rev, err)

	_, err = service.NewTokens("prod-us").Decode(tok)
	fmt.Println(err != nil)
	// Output:
	// true 42 <nil>
	// true
}

// A token file stores only hashes; the token itself is shown once.
func ExampleGenerateToken() {
	token, hash := api.GenerateToken()
	entry := api.TokenEntry{Principal: "ci-pipeline", Role: api.RoleWriter, SHA256: hash}
	fmt.Println(entry.Validate() == nil, api.HashToken(token) == hash, api.RoleWriter.Allows(api.RoleReader))
	// Output: true true true
}
