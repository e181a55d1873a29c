package server

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/api"
)

func roles(entries []api.TokenEntry) map[api.Role]int {
	out := map[api.Role]int{}
	for _, e := range entries {
		out[e.Role]++
	}
	return out
}

// Both orders of the README leave an admin: a first start creates the token
// file with one; a token file that `trellis token create --role reader`
// made before the first start with auth gets one added, printed once.
func TestAdminBootstrap(t *testing.T) {
	for _, order := range []string{"serve first", "reader token first"} {
		t.Run(order, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "tokens.yaml")
			if order == "reader token first" {
				_, hash := api.GenerateToken()
				if err := api.WriteTokenFile(path, []api.TokenEntry{{Principal: "admin", Role: api.RoleReader, SHA256: hash}}); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			cfg := DefaultConfig()
			cfg.DataDir, cfg.Out = dir, &out
			auth, err := authConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if roles(auth.Tokens)[api.RoleAdmin] != 1 || !strings.Contains(out.String(), "Generated an admin token") {
				t.Fatalf("got tokens %v and output %q; want one admin, announced", roles(auth.Tokens), out.String())
			}
			stored, err := api.LoadTokenFile(path)
			if err != nil || roles(stored)[api.RoleAdmin] != 1 || len(stored) != len(auth.Tokens) {
				t.Fatalf("token file holds %v (%v); want the admin kept", roles(stored), err)
			}
			if order == "reader token first" && stored[1].Principal != "admin-2" {
				t.Errorf("the generated admin is %q; want admin-2, since admin is taken", stored[1].Principal)
			}
			out.Reset()
			if _, err := authConfig(cfg); err != nil || out.Len() != 0 {
				t.Fatalf("second start: %v, printed %q; want nothing new", err, out.String())
			}
		})
	}
}

func TestTokenFileWithoutAdminIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ops-tokens.yaml")
	_, hash := api.GenerateToken()
	if err := api.WriteTokenFile(path, []api.TokenEntry{{Principal: "svc", Role: api.RoleWriter, SHA256: hash}}); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.TokenFile = path
	_, err := authConfig(cfg)
	if err == nil || !strings.Contains(err.Error(), "no admin token") || !strings.Contains(err.Error(), "trellis token create") {
		t.Fatalf("got %v, want a refusal saying how to add an admin", err)
	}
}
