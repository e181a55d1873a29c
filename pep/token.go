package pep

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"strings"
)

// Trellis consistency tokens are "t1." + base64url(uvarint(revision) +
// 4-byte cluster tag). The PEP reads the revision to compare a token with
// what its watch has seen; a token it cannot read (another format, another
// cluster) is never taken as seen, so it always bypasses the cache and goes
// to Trellis, which judges it.

const tokenPrefix = "t1."

// revToken is a token with the revision and cluster tag it stands for.
type revToken struct {
	token string
	rev   uint64
	tag   [4]byte
	ok    bool // the token was readable
}

func parseToken(s string) revToken {
	t := revToken{token: s}
	body, found := strings.CutPrefix(s, tokenPrefix)
	if !found || len(body) > 32 {
		return t
	}
	var buf [24]byte
	n, err := base64.RawURLEncoding.Decode(buf[:], []byte(body))
	if err != nil {
		return t
	}
	rev, m := binary.Uvarint(buf[:n])
	if m <= 0 || n-m != len(t.tag) {
		return t
	}
	copy(t.tag[:], buf[m:n])
	t.rev, t.ok = rev, true
	return t
}

type freshKey struct{}

// WithAtLeastAsFresh returns a context under which every decision reflects
// at least the revision of token (a written_at a service got from its own
// write, or any checked_at or read_at). A cached answer is used only when
// the cache has already applied the watch events up to that revision;
// otherwise the decision asks Trellis with {"at_least_as_fresh": token}.
// An empty token returns ctx unchanged.
func WithAtLeastAsFresh(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	t := parseToken(token)
	return context.WithValue(ctx, freshKey{}, &t)
}

func freshness(ctx context.Context) *revToken {
	t, _ := ctx.Value(freshKey{}).(*revToken)
	return t
}
