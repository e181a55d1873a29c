package api

import (
	"errors"
	"github.com/trellis-authz/trellis/service"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokenFileRoundTrip(t *testing.T) {
	tok, hash := GenerateToken()
	if HashToken(tok) != hash || len(hash) != 64 {
		t.Fatalf("GenerateToken: hash %q does not match the token", hash)
	}
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	entries := []TokenEntry{{Principal: "ci", Role: RoleWriter, SHA256: hash}}
	if err := WriteTokenFile(path, entries); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode: got %v, want 0600", fi.Mode().Perm())
	}
	got, err := LoadTokenFile(path)
	if err != nil || len(got) != 1 || got[0] != entries[0] {
		t.Fatalf("LoadTokenFile: got %+v, %v; want %+v", got, err, entries)
	}
	a := newAuthenticator(AuthConfig{Mode: AuthTokens, Tokens: got})
	p, err := a.authenticate("Bearer " + tok)
	if err != nil || p.Name != "ci" || p.Role != RoleWriter {
		t.Errorf("authenticate: got %+v, %v", p, err)
	}
	for _, h := range []string{"", "Bearer", "Basic " + tok, "Bearer " + tok + "x"} {
		if _, err := a.authenticate(h); !errors.Is(err, service.ErrUnauthenticated) {
			t.Errorf("authenticate(%q): got %v, want ErrUnauthenticated", h, err)
		}
	}
}

func TestLoadTokenFileErrors(t *testing.T) {
	cases := map[string]string{
		"bad role":     "tokens:\n  - principal: a\n    role: root\n    sha256: " + strings.Repeat("a", 64) + "\n",
		"bad hash":     "tokens:\n  - principal: a\n    role: admin\n    sha256: abc\n",
		"no principal": "tokens:\n  - role: admin\n    sha256: " + strings.Repeat("a", 64) + "\n",
		"unknown key":  "tokens:\n  - principal: a\n    role: admin\n    token: secret\n",
		"empty":        "tokens: []\n",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.yaml")
			if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			if got, err := LoadTokenFile(path); err == nil {
				t.Errorf("got %+v, want an error", got)
			}
		})
	}
}

func TestRoles(t *testing.T) {
	cases := []struct {
		have, need Role
		want       bool
	}{
		{RoleAdmin, RoleWriter, true}, {RoleWriter, RoleWriter, true}, {RoleReader, RoleWriter, false},
		{RoleWriter, RoleAdmin, false}, {RoleReader, RoleReader, true}, {Role("root"), RoleReader, false},
	}
	for _, c := range cases {
		if got := c.have.Allows(c.need); got != c.want {
			t.Errorf("%s.Allows(%s): got %v, want %v", c.have, c.need, got, c.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	base := DefaultConfig()
	base.Auth = AuthConfig{Mode: AuthInsecureNoAuth}
	if err := base.Validate(); err != nil {
		t.Fatalf("default config with insecure auth: %v", err)
	}
	cases := map[string]func(*Config){
		"MaxBodyBytes":       func(c *Config) { c.MaxBodyBytes = 10 },
		"MaxUpdatesPerWrite": func(c *Config) { c.MaxUpdatesPerWrite = 0 },
		"ImportBatchSize":    func(c *Config) { c.ImportBatchSize = 10_001 },
		"RequestTimeout":     func(c *Config) { c.RequestTimeout = 0 },
		"MaxStreams":         func(c *Config) { c.MaxStreams = -1 },
		"MaxWait":            func(c *Config) { c.MaxWait = 0 },
		"ClusterID":          func(c *Config) { c.ClusterID = "" },
		"Auth.Mode":          func(c *Config) { c.Auth = AuthConfig{} },
		"Auth.Tokens":        func(c *Config) { c.Auth = AuthConfig{Mode: AuthTokens} },
	}
	for field, mutate := range cases {
		c := base
		mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("breaking %s: got %v, want an error naming it", field, err)
		}
	}
}
