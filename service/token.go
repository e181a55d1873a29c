package service

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
)

// tokenPrefix versions the token format. A later format gets "t2.".
const tokenPrefix = "t1."

// clusterTag is the 4-byte prefix of SHA-256(cluster id) carried in a token, so a
// token from another cluster is recognized instead of silently misread.
type clusterTag [4]byte

func tagFor(clusterID string) clusterTag {
	sum := sha256.Sum256([]byte(clusterID))
	var t clusterTag
	copy(t[:], sum[:4])
	return t
}

// Tokens encodes and decodes consistency tokens ("zookies") for one cluster.
//
// Format: "t1." + base64url(no padding) of uvarint(revision) followed by the
// first 4 bytes of SHA-256(cluster id).
//
// Until Bind ties it to the cluster's random UUID, the tag comes from the
// cluster's name (--cluster-id), which two deployments may share; after it,
// from the UUID, so a token of another deployment is refused. Copies of a
// Tokens share the binding.
type Tokens struct {
	tag *atomic.Pointer[clusterTag]
}

// NewTokens returns the codec for the cluster called clusterID.
func NewTokens(clusterID string) Tokens {
	t := Tokens{tag: new(atomic.Pointer[clusterTag])}
	tag := tagFor(clusterID)
	t.tag.Store(&tag)
	return t
}

// Bind ties the codec to the cluster's UUID (consensus.Node.ClusterUUID),
// chosen by its first leader: from then on tokens carry and are checked
// against it.
func (t Tokens) Bind(uuid string) {
	tag := tagFor("uuid:" + uuid)
	t.tag.Store(&tag)
}

// Encode returns the token for revision rev.
func (t Tokens) Encode(rev uint64) string {
	tag := t.tag.Load()
	buf := make([]byte, 0, binary.MaxVarintLen64+len(tag))
	buf = binary.AppendUvarint(buf, rev)
	buf = append(buf, tag[:]...)
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(buf)
}

// Decode returns the revision a token stands for. Its errors wrap
// ErrInvalidToken and say what is wrong.
func (t Tokens) Decode(s string) (uint64, error) {
	if s == "" {
		return 0, fail(ErrInvalidToken, nil, "consistency token is empty; pass a token returned as written_at, checked_at or read_at")
	}
	body, ok := strings.CutPrefix(s, tokenPrefix)
	if !ok {
		return 0, fail(ErrInvalidToken, map[string]any{"token": truncate(s, 64)},
			"consistency token %q does not start with %q; pass a token exactly as the server returned it", truncate(s, 64), tokenPrefix)
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return 0, fail(ErrInvalidToken, map[string]any{"token": truncate(s, 64)},
			"consistency token %q is not valid base64url: %v", truncate(s, 64), err)
	}
	rev, n := binary.Uvarint(raw)
	want := t.tag.Load()
	if n <= 0 || len(raw)-n != len(want) {
		return 0, fail(ErrInvalidToken, map[string]any{"token": truncate(s, 64)},
			"consistency token %q is truncated or corrupt; pass a token exactly as the server returned it", truncate(s, 64))
	}
	var tag clusterTag
	copy(tag[:], raw[n:])
	if tag != *want {
		return 0, fail(ErrInvalidToken, map[string]any{"token": truncate(s, 64)},
			"consistency token %q was issued by another cluster; tokens are only meaningful on the cluster that returned them", truncate(s, 64))
	}
	return rev, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("...(%d bytes)", len(s))
}
