package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/trellis-authz/trellis/api"
)

// authConfig decides how callers authenticate. With no token file and no
// --insecure-no-auth, a token file in the data directory is used, created on
// first start with one admin token that is printed once.
func authConfig(o Config) (api.AuthConfig, error) {
	if o.InsecureNoAuth {
		if o.TokenFile != "" {
			return api.AuthConfig{}, errors.New("--insecure-no-auth and --token-file exclude each other; drop one")
		}
		return api.AuthConfig{Mode: api.AuthInsecureNoAuth}, nil
	}
	path := o.TokenFile
	if path == "" {
		path = filepath.Join(o.DataDir, "tokens.yaml")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			tok, hash := api.GenerateToken()
			entries := []api.TokenEntry{{Principal: "admin", Role: api.RoleAdmin, SHA256: hash}}
			if err := api.WriteTokenFile(path, entries); err != nil {
				return api.AuthConfig{}, fmt.Errorf("create token file: %w", err)
			}
			fmt.Fprintf(o.Out, "\nGenerated an admin token; it is shown only this once (its hash is in %s):\n\n    %s\n\nUse it as: Authorization: Bearer <token>, or export TRELLIS_TOKEN=<token> for the CLI.\n\n", path, tok)
		}
	}
	entries, err := api.LoadTokenFile(path)
	if err != nil {
		return api.AuthConfig{}, err
	}
	return api.AuthConfig{Mode: api.AuthTokens, Tokens: entries}, nil
}
