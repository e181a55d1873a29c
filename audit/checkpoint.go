package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// sigPrefix starts a signature line of a signed note: an em dash and a space.
const sigPrefix = "\u2014 "

// algEd25519 is the signed-note signature algorithm byte for Ed25519.
const algEd25519 = 0x01

// Checkpoint is a signed statement of the log's size and root at a revision.
// Its text form is a signed note (see the package documentation).
type Checkpoint struct {
	Origin   string    `json:"origin"`
	Size     uint64    `json:"size"`
	Root     []byte    `json:"root"` // base64 in JSON, as in the note
	Revision uint64    `json:"revision"`
	Time     time.Time `json:"time"`
	// KeyName names the signing key; KeyID is the first four bytes of
	// SHA-256(KeyName || "\n" || 0x01 || public key), big-endian.
	KeyName   string `json:"key_name"`
	KeyID     uint32 `json:"key_id"`
	Signature []byte `json:"signature"` // Ed25519 over Body()
}

// Body returns the signed text: origin, size, base64 root, "revision N" and
// "time T" lines, each ending in a newline.
func (c *Checkpoint) Body() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%d\n%s\nrevision %d\ntime %s\n",
		c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root), c.Revision,
		c.Time.UTC().Format(time.RFC3339Nano))
	return []byte(b.String())
}

// Marshal returns the signed note: the body, a blank line and the signature
// line "— <key name> <base64(key id || signature)>".
func (c *Checkpoint) Marshal() []byte {
	sig := binary.BigEndian.AppendUint32(nil, c.KeyID)
	sig = append(sig, c.Signature...)
	b := c.Body()
	b = append(b, '\n')
	b = append(b, sigPrefix+c.KeyName+" "+base64.StdEncoding.EncodeToString(sig)+"\n"...)
	return b
}

// String returns the signed note text.
func (c *Checkpoint) String() string { return string(c.Marshal()) }

// ParseCheckpoint parses a signed note written by Marshal. It checks the form
// only; call Verify to check the signature.
func ParseCheckpoint(text []byte) (*Checkpoint, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadCheckpoint, fmt.Sprintf(format, args...))
	}
	if !utf8.Valid(text) {
		return nil, bad("not UTF-8")
	}
	body, sigs, ok := bytes.Cut(text, []byte("\n\n"))
	if !ok {
		return nil, bad("no blank line between the body and the signature")
	}
	lines := strings.Split(string(body), "\n")
	if len(lines) != 5 {
		return nil, bad("body has %d lines, want 5 (origin, size, root, revision, time)", len(lines))
	}
	c := &Checkpoint{Origin: lines[0]}
	if err := validateOrigin(c.Origin); err != nil {
		return nil, bad("origin: %v", err)
	}
	var err error
	if c.Size, err = parseDecimal(lines[1]); err != nil {
		return nil, bad("size line %q: %v", lines[1], err)
	}
	if c.Root, err = base64.StdEncoding.Strict().DecodeString(lines[2]); err != nil || len(c.Root) != sha256.Size {
		return nil, bad("root line %q: want base64 of %d bytes", lines[2], sha256.Size)
	}
	rev, ok := strings.CutPrefix(lines[3], "revision ")
	if !ok {
		return nil, bad("line 4 %q: want \"revision N\"", lines[3])
	}
	if c.Revision, err = parseDecimal(rev); err != nil {
		return nil, bad("revision %q: %v", rev, err)
	}
	ts, ok := strings.CutPrefix(lines[4], "time ")
	if !ok {
		return nil, bad("line 5 %q: want \"time RFC3339\"", lines[4])
	}
	if c.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil {
		return nil, bad("time %q: %v", ts, err)
	}
	c.Time = c.Time.UTC()
	if c.Time.Format(time.RFC3339Nano) != ts {
		return nil, bad("time %q is not canonical UTC RFC 3339", ts)
	}

	sigText, ok := strings.CutSuffix(string(sigs), "\n")
	if !ok || strings.Contains(sigText, "\n") {
		return nil, bad("want exactly one signature line ending in a newline")
	}
	rest, ok := strings.CutPrefix(sigText, sigPrefix)
	if !ok {
		return nil, bad("signature line must start with an em dash and a space")
	}
	name, b64, ok := strings.Cut(rest, " ")
	if !ok {
		return nil, bad("signature line needs a key name and a signature")
	}
	if err := validateKeyName(name); err != nil {
		return nil, bad("%v", err)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(raw) != 4+ed25519.SignatureSize {
		return nil, bad("signature is not base64 of a 4-byte key id and a %d-byte Ed25519 signature", ed25519.SignatureSize)
	}
	c.KeyName = name
	c.KeyID = binary.BigEndian.Uint32(raw)
	c.Signature = raw[4:]
	if !bytes.Equal(c.Marshal(), text) {
		return nil, bad("not in canonical form")
	}
	return c, nil
}

func parseDecimal(s string) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("want a decimal number without leading zeros")
	}
	return strconv.ParseUint(s, 10, 64)
}

func validateKeyName(name string) error {
	if name == "" || strings.ContainsFunc(name, func(r rune) bool { return unicode.IsSpace(r) || r == '+' }) {
		return fmt.Errorf("key name %q must be non-empty with no spaces or '+'", name)
	}
	return nil
}

// KeyID returns the signed-note key id of an Ed25519 key with this name.
func KeyID(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algEd25519})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// Verify checks the checkpoint's signature against pub: the key id must be
// that of (KeyName, pub) and the signature must verify over Body().
func (c *Checkpoint) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key has %d bytes, want %d", ErrWrongKey, len(pub), ed25519.PublicKeySize)
	}
	if id := KeyID(c.KeyName, pub); id != c.KeyID {
		return fmt.Errorf("%w: key id %08x is not %08x of key %q with the given public key", ErrWrongKey, c.KeyID, id, c.KeyName)
	}
	if !ed25519.Verify(pub, c.Body(), c.Signature) {
		return fmt.Errorf("%w: origin %q size %d", ErrBadSignature, c.Origin, c.Size)
	}
	return nil
}

// Signer signs checkpoints with a named Ed25519 key.
type Signer struct {
	name string
	key  ed25519.PrivateKey
	id   uint32
}

// NewSigner returns a signer for key, named name (no spaces or '+').
func NewSigner(name string, key ed25519.PrivateKey) (*Signer, error) {
	if err := validateKeyName(name); err != nil {
		return nil, fmt.Errorf("audit signer: %w", err)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("audit signer: private key has %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	pub := key.Public().(ed25519.PublicKey)
	return &Signer{name: name, key: key, id: KeyID(name, pub)}, nil
}

// Name returns the key name.
func (s *Signer) Name() string { return s.name }

// Public returns the public key.
func (s *Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Sign fills in c's key name, key id and signature.
func (s *Signer) Sign(c *Checkpoint) {
	c.KeyName, c.KeyID = s.name, s.id
	c.Signature = ed25519.Sign(s.key, c.Body())
}

// Checkpoint returns a checkpoint of the committed log signed by signer. Its
// revision and time are those of the newest entry (zero for an empty log), so
// every replica produces the same body for the same size.
func (l *Log) Checkpoint(signer *Signer) (*Checkpoint, error) {
	if signer == nil {
		return nil, errors.New("audit: checkpoint needs a signer")
	}
	l.mu.Lock()
	st := l.committed
	root := bytes.Clone(st.rootHash())
	l.mu.Unlock()
	c := &Checkpoint{
		Origin: l.cfg.Origin, Size: st.size(), Root: root,
		Revision: st.revision, Time: st.time.UTC(),
	}
	signer.Sign(c)
	return c, nil
}

// checkpointJSON is the API form: the fields, plus the signed note text.
type checkpointJSON struct {
	Origin    string    `json:"origin"`
	Size      uint64    `json:"size"`
	Root      []byte    `json:"root"`
	Revision  uint64    `json:"revision"`
	Time      time.Time `json:"time"`
	KeyName   string    `json:"key_name"`
	KeyID     uint32    `json:"key_id"`
	Signature []byte    `json:"signature"`
	Note      string    `json:"note"`
}

// MarshalJSON renders the checkpoint's fields (root and signature in base64)
// and its signed note text under "note".
func (c Checkpoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(checkpointJSON{
		Origin: c.Origin, Size: c.Size, Root: c.Root, Revision: c.Revision, Time: c.Time.UTC(),
		KeyName: c.KeyName, KeyID: c.KeyID, Signature: c.Signature, Note: c.String(),
	})
}

// UnmarshalJSON parses the form MarshalJSON writes. The "note" is
// authoritative: the checkpoint is parsed from it, and the other fields must
// agree with it.
func (c *Checkpoint) UnmarshalJSON(b []byte) error {
	var j checkpointJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	p, err := ParseCheckpoint([]byte(j.Note))
	if err != nil {
		return err
	}
	if j.Origin != p.Origin || j.Size != p.Size || !bytes.Equal(j.Root, p.Root) || j.Revision != p.Revision ||
		!j.Time.Equal(p.Time) || j.KeyName != p.KeyName || j.KeyID != p.KeyID || !bytes.Equal(j.Signature, p.Signature) {
		return fmt.Errorf("%w: JSON fields disagree with the note", ErrBadCheckpoint)
	}
	*c = *p
	return nil
}
