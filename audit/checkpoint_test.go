package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got\n%s\nwant\n%s", name, got, want)
	}
}

func TestCheckpointSignVerify(t *testing.T) {
	l, _ := newTestLog(t, 13)
	signer := testSigner(t, "trellis-test", 1)
	cp, err := l.Checkpoint(signer)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 13 || !bytes.Equal(cp.Root, l.Root()) || cp.Revision != 13 || !cp.Time.Equal(t0.Add(12*time.Millisecond)) {
		t.Fatalf("got checkpoint %+v, want size 13, root %x, revision 13, time %s", cp, l.Root(), t0.Add(12*time.Millisecond))
	}
	if err := cp.Verify(signer.Public()); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	golden(t, "checkpoint.golden", cp.Marshal())

	parsed, err := ParseCheckpoint(cp.Marshal())
	if err != nil {
		t.Fatalf("ParseCheckpoint: %v", err)
	}
	if err := parsed.Verify(signer.Public()); err != nil {
		t.Fatalf("Verify parsed: %v", err)
	}
	if !bytes.Equal(parsed.Marshal(), cp.Marshal()) {
		t.Fatalf("round trip: got\n%s\nwant\n%s", parsed.Marshal(), cp.Marshal())
	}

	mods := []struct {
		name string
		f    func(*Checkpoint)
	}{
		{"origin", func(c *Checkpoint) { c.Origin = "evil/audit" }},
		{"size", func(c *Checkpoint) { c.Size-- }},
		{"root", func(c *Checkpoint) { c.Root = bytes.Clone(c.Root); c.Root[0] ^= 1 }},
		{"revision", func(c *Checkpoint) { c.Revision++ }},
		{"time", func(c *Checkpoint) { c.Time = c.Time.Add(time.Second) }},
		{"signature", func(c *Checkpoint) { c.Signature = bytes.Clone(c.Signature); c.Signature[5] ^= 1 }},
	}
	for _, m := range mods {
		t.Run("modified "+m.name, func(t *testing.T) {
			c := *cp
			m.f(&c)
			if err := c.Verify(signer.Public()); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("got %v, want ErrBadSignature", err)
			}
			// The same through the text form.
			p, err := ParseCheckpoint(c.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Verify(signer.Public()); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("parsed: got %v, want ErrBadSignature", err)
			}
		})
	}
	t.Run("wrong key", func(t *testing.T) {
		if err := cp.Verify(testSigner(t, "trellis-test", 2).Public()); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("got %v, want ErrWrongKey", err)
		}
	})
	t.Run("renamed key", func(t *testing.T) {
		c := *cp
		c.KeyName = "other-name"
		if err := c.Verify(signer.Public()); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("got %v, want ErrWrongKey", err)
		}
	})
}

func TestParseCheckpointErrors(t *testing.T) {
	l, _ := newTestLog(t, 3)
	good := string(mustCheckpoint(t, l).Marshal())
	tests := []struct {
		name, text, wantMsg string
	}{
		{"empty", "", "no blank line"},
		{"no signature", strings.SplitN(good, "\n\n", 2)[0] + "\n\n", "signature line"},
		{"two signatures", good + strings.SplitN(good, "\n\n", 2)[1], "exactly one signature"},
		{"bad size", strings.Replace(good, "\n3\n", "\n03\n", 1), "leading zeros"},
		{"bad root", strings.Replace(good, "\n3\n", "\n3\nxx", 1), "root line"},
		{"bad revision", strings.Replace(good, "revision 3", "rev 3", 1), "revision N"},
		{"bad time", strings.Replace(good, "time 2026", "time 26", 1), "time"},
		{"bad dash", strings.Replace(good, "\u2014 ", "- ", 1), "em dash"},
		{"short sig", strings.Replace(good, "trellis-test ", "trellis-test AAAA", 1), "signature is not base64"},
		{"extra body line", strings.Replace(good, "\n\n", "\nextra\n\n", 1), "want 5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCheckpoint([]byte(tc.text))
			if !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("got %v, want ErrBadCheckpoint mentioning %q", err, tc.wantMsg)
			}
		})
	}
}

func mustCheckpoint(t *testing.T, l *Log) *Checkpoint {
	t.Helper()
	c, err := l.Checkpoint(testSigner(t, "trellis-test", 1))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCheckpointConsistency(t *testing.T) {
	l, s := newTestLog(t, 10)
	signer := testSigner(t, "trellis-test", 1)
	old, _ := l.Checkpoint(signer)
	for i := 10; i < 33; i++ {
		appendCommit(t, l, s, testEntry(i))
	}
	cur, _ := l.Checkpoint(signer)
	p, err := l.ConsistencyProof(old.Size, cur.Size)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Checkpoint{old, cur} {
		if err := c.Verify(signer.Public()); err != nil {
			t.Fatal(err)
		}
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, cur.Size, p, old.Root, cur.Root); err != nil {
		t.Fatalf("older checkpoint not consistent with newer: %v", err)
	}
	// A log that rewrote history is not consistent with the old checkpoint.
	forked, fs := newTestLog(t, 9)
	e := testEntry(9)
	e.Reason = "rewritten"
	appendCommit(t, forked, fs, e)
	for i := 10; i < 33; i++ {
		appendCommit(t, forked, fs, testEntry(i))
	}
	fp, _ := forked.ConsistencyProof(old.Size, cur.Size)
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, cur.Size, fp, old.Root, forked.Root()); err == nil {
		t.Fatal("a rewritten log was proven consistent with the old checkpoint")
	}
}

func TestEntryEncodingGolden(t *testing.T) {
	e := testEntry(5)
	e.Seq = 5
	raw, err := e.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := e.LeafHash()
	js, _ := e.MarshalJSON()
	var b strings.Builder
	b.WriteString("canonical: " + hex.EncodeToString(raw) + "\n")
	b.WriteString("leaf_hash: " + hex.EncodeToString(leaf) + "\n")
	b.WriteString("json: " + string(js) + "\n")
	golden(t, "entry.golden", []byte(b.String()))

	back, err := UnmarshalEntry(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !entriesEqual(back, e) {
		t.Fatalf("binary round trip: got %+v, want %+v", back, e)
	}
	var fromJSON Entry
	if err := fromJSON.UnmarshalJSON(js); err != nil {
		t.Fatal(err)
	}
	if !entriesEqual(fromJSON, e) {
		t.Fatalf("JSON round trip: got %+v, want %+v", fromJSON, e)
	}
}

func TestDigestChanges(t *testing.T) {
	a := DigestChanges([]string{"touch doc:1#viewer@user:a", "delete doc:2#viewer@user:b"})
	b := DigestChanges([]string{"delete doc:2#viewer@user:b", "touch doc:1#viewer@user:a"})
	c := DigestChanges([]string{"touch doc:1#viewer@user:adelete doc:2#viewer@user:b"})
	if bytes.Equal(a, b) {
		t.Error("order does not change the digest")
	}
	if bytes.Equal(a, c) {
		t.Error("change boundaries do not change the digest")
	}
	if got := hex.EncodeToString(DigestChanges(nil)); got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("empty digest: got %s, want SHA-256 of the empty string", got)
	}
}

func FuzzUnmarshalEntry(f *testing.F) {
	for i := range 4 {
		e := testEntry(i)
		raw, _ := e.MarshalBinary()
		f.Add(raw)
	}
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := UnmarshalEntry(b)
		if err != nil {
			return
		}
		again, err := e.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded entry does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("not canonical: %x re-encodes as %x", b, again)
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	l, s := newTestLog(f, 0)
	signer := testSigner(f, "trellis-test", 1)
	for i := range 3 {
		c, _ := l.Checkpoint(signer)
		f.Add(c.Marshal())
		appendCommit(f, l, s, testEntry(i))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCheckpoint(b)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Marshal(), b) {
			t.Fatalf("parsed checkpoint re-marshals differently:\n%q\n%q", b, c.Marshal())
		}
	})
}

func TestCheckpointJSON(t *testing.T) {
	l, _ := newTestLog(t, 6)
	signer := testSigner(t, "trellis-test", 1)
	cp, _ := l.Checkpoint(signer)
	b, err := json.Marshal(cp)
	if err != nil {
		t.Fatal(err)
	}
	var back Checkpoint
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	if !bytes.Equal(back.Marshal(), cp.Marshal()) {
		t.Fatalf("JSON round trip: got\n%s\nwant\n%s", back.Marshal(), cp.Marshal())
	}
	if err := back.Verify(signer.Public()); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	m["size"] = 5
	b2, _ := json.Marshal(m)
	if err := json.Unmarshal(b2, &back); !errors.Is(err, ErrBadCheckpoint) {
		t.Fatalf("fields disagreeing with the note: got %v, want ErrBadCheckpoint", err)
	}
}
