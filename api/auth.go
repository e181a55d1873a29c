package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"github.com/trellis-authz/trellis/service"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Role is what a principal may do.
type Role string

// The roles, from least to most privileged.
const (
	RoleReader Role = "reader" // checks, lookups, relationship and schema reads
	RoleWriter Role = "writer" // reader + relationship writes, deletes, imports
	RoleAdmin  Role = "admin"  // writer + schema changes and cluster operations
)

func (r Role) rank() int {
	switch r {
	case RoleReader:
		return 1
	case RoleWriter:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Allows reports whether r includes the rights of need.
func (r Role) Allows(need Role) bool { return r.rank() >= need.rank() && r.rank() > 0 }

// Auth modes.
const (
	AuthTokens         = "tokens"           // bearer tokens from a token file
	AuthInsecureNoAuth = "insecure-no-auth" // every caller is admin "anonymous"
)

// AnonymousPrincipal is the principal of every caller in insecure-no-auth mode.
const AnonymousPrincipal = "anonymous"

// AuthConfig chooses how callers are authenticated.
type AuthConfig struct {
	Mode   string       // AuthTokens or AuthInsecureNoAuth; there is no default
	Tokens []TokenEntry // for AuthTokens
}

// Validate checks the mode and every token entry.
func (a AuthConfig) Validate() error {
	switch a.Mode {
	case AuthInsecureNoAuth:
		return nil
	case AuthTokens:
		if len(a.Tokens) == 0 {
			return fmt.Errorf("api config: Auth.Mode is %q but Auth.Tokens is empty; load a token file or use %q explicitly", AuthTokens, AuthInsecureNoAuth)
		}
		seen := map[string]bool{}
		for i, t := range a.Tokens {
			if err := t.Validate(); err != nil {
				return fmt.Errorf("api config: Auth.Tokens[%d]: %w", i, err)
			}
			if seen[t.SHA256] {
				return fmt.Errorf("api config: Auth.Tokens[%d] (%s): the same token hash appears twice", i, t.Principal)
			}
			seen[t.SHA256] = true
		}
		return nil
	case "":
		return fmt.Errorf("api config: Auth.Mode is empty; use %q with a token file, or %q explicitly", AuthTokens, AuthInsecureNoAuth)
	}
	return fmt.Errorf("api config: Auth.Mode %q is unknown; use %q or %q", a.Mode, AuthTokens, AuthInsecureNoAuth)
}

// TokenEntry maps the SHA-256 of a bearer token to a principal and a role. The
// token itself is never stored.
type TokenEntry struct {
	Principal string `yaml:"principal" json:"principal"`
	Role      Role   `yaml:"role" json:"role"`
	SHA256    string `yaml:"sha256" json:"sha256"` // hex, lowercase, of the token
}

// Validate checks the entry.
func (t TokenEntry) Validate() error {
	if strings.TrimSpace(t.Principal) == "" {
		return fmt.Errorf("principal is empty")
	}
	if t.Role.rank() == 0 {
		return fmt.Errorf("principal %q: role %q is unknown; use reader, writer or admin", t.Principal, t.Role)
	}
	b, err := hex.DecodeString(t.SHA256)
	if err != nil || len(b) != sha256.Size {
		return fmt.Errorf("principal %q: sha256 must be 64 hex digits (the SHA-256 of the token)", t.Principal)
	}
	return nil
}

// TokenFile is the format of a token file (YAML; JSON is accepted too):
//
//	tokens:
//	  - principal: ci-pipeline
//	    role: writer
//	    sha256: 3f5a...   # hex SHA-256 of the bearer token
type TokenFile struct {
	Tokens []TokenEntry `yaml:"tokens" json:"tokens"`
}

// GenerateToken makes a new random bearer token and its hex SHA-256, which is
// what a token file stores.
func GenerateToken() (token, hash string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	token = "trl_" + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// HashToken returns the hex SHA-256 of a token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// LoadTokenFile reads and validates a token file.
func LoadTokenFile(path string) ([]TokenEntry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	var f TokenFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	cfg := AuthConfig{Mode: AuthTokens, Tokens: f.Tokens}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	return f.Tokens, nil
}

// WriteTokenFile writes entries to path as YAML, readable by the owner only.
func WriteTokenFile(path string, entries []TokenEntry) error {
	for i, e := range entries {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("token entry %d: %w", i, err)
		}
	}
	data, err := yaml.Marshal(TokenFile{Tokens: entries})
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// authenticator resolves bearer tokens.
type authenticator struct {
	insecure bool
	hashes   [][]byte
	entries  []TokenEntry
}

func newAuthenticator(cfg AuthConfig) *authenticator {
	a := &authenticator{insecure: cfg.Mode == AuthInsecureNoAuth}
	for _, t := range cfg.Tokens {
		h, _ := hex.DecodeString(t.SHA256)
		a.hashes = append(a.hashes, h)
		a.entries = append(a.entries, t)
	}
	return a
}

// principal is an authenticated caller.
type principal struct {
	Name string
	Role Role
}

// authenticate resolves an Authorization header value. It compares the token's
// hash with every entry in constant time, and does not stop at a match.
func (a *authenticator) authenticate(header string) (principal, error) {
	if a.insecure {
		return principal{Name: AnonymousPrincipal, Role: RoleAdmin}, nil
	}
	if header == "" {
		return principal{}, fail(service.ErrUnauthenticated, nil, "no Authorization header; send \"Authorization: Bearer TOKEN\"")
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(token) == "" {
		return principal{}, fail(service.ErrUnauthenticated, nil, "Authorization header is not \"Bearer TOKEN\"")
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	found := -1
	for i, h := range a.hashes {
		if subtle.ConstantTimeCompare(sum[:], h) == 1 {
			found = i
		}
	}
	if found < 0 {
		return principal{}, fail(service.ErrUnauthenticated, nil, "bearer token is not known to this server; check the token or ask an admin for one")
	}
	e := a.entries[found]
	return principal{Name: e.Principal, Role: e.Role}, nil
}
