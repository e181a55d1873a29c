package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/trellis-authz/trellis/api"
)

// authConfig decides how callers authenticate. With no token file and no
// --insecure-no-auth, a token file in the data directory is used; when it
// is missing, or holds no admin (say `trellis token create --role reader`
// made it), an admin token is added and printed once, so the node always has
// someone who can change the schema. A --token-file without an admin is
// refused: that file is the operator's to edit.
func authConfig(o Config) (api.AuthConfig, error) {
	if o.InsecureNoAuth {
		if o.TokenFile != "" {
			return api.AuthConfig{}, errors.New("--insecure-no-auth and --token-file exclude each other; drop one")
		}
		return api.AuthConfig{Mode: api.AuthInsecureNoAuth}, nil
	}
	path, managed := o.TokenFile, o.TokenFile == ""
	if managed {
		path = filepath.Join(o.DataDir, "tokens.yaml")
	}
	var entries []api.TokenEntry
	if _, err := os.Stat(path); !managed || !errors.Is(err, os.ErrNotExist) {
		if entries, err = api.LoadTokenFile(path); err != nil {
			return api.AuthConfig{}, err
		}
	}
	if !hasAdmin(entries) {
		if !managed {
			return api.AuthConfig{}, fmt.Errorf("--token-file %s has no admin token, so nobody could change the schema or membership; add one (trellis token create --file %s --principal admin --role admin) and start again", path, path)
		}
		tok, hash := api.GenerateToken()
		entries = append(entries, api.TokenEntry{Principal: adminPrincipal(entries), Role: api.RoleAdmin, SHA256: hash})
		if err := api.WriteTokenFile(path, entries); err != nil {
			return api.AuthConfig{}, fmt.Errorf("write token file: %w", err)
		}
		fmt.Fprintf(o.Out, "\nGenerated an admin token; it is shown only this once (its hash is in %s):\n\n    %s\n\nUse it as: Authorization: Bearer <token>, or export TRELLIS_TOKEN=<token> for the CLI.\n\n", path, tok)
	}
	return api.AuthConfig{Mode: api.AuthTokens, Tokens: entries}, nil
}

func hasAdmin(entries []api.TokenEntry) bool {
	for _, e := range entries {
		if e.Role == api.RoleAdmin {
			return true
		}
	}
	return false
}

// adminPrincipal names the generated admin "admin", or "admin-2", ... when
// that name is taken.
func adminPrincipal(entries []api.TokenEntry) string {
	taken := map[string]bool{}
	for _, e := range entries {
		taken[e.Principal] = true
	}
	name := "admin"
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("admin-%d", i)
	}
	return name
}
