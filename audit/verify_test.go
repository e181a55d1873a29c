package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func testSigner(t testing.TB, name string, seed byte) *Signer {
	t.Helper()
	s, err := NewSigner(name, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func exportLines(t *testing.T, l *Log) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := l.Export(&buf, l.Size()); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
}

// editLine decodes an export line, lets f change it and re-encodes it. When
// rehash is set the leaf hash is recomputed, as a careful forger would.
func editLine(t *testing.T, line string, rehash bool, f func(*entryJSON)) string {
	t.Helper()
	var j entryJSON
	if err := json.Unmarshal([]byte(line), &j); err != nil {
		t.Fatal(err)
	}
	f(&j)
	if rehash {
		e, err := j.toEntry()
		if err != nil {
			t.Fatal(err)
		}
		h, err := e.LeafHash()
		if err != nil {
			t.Fatal(err)
		}
		j.LeafHash = hex.EncodeToString(h)
	}
	b, err := json.Marshal(&j)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func join(lines []string) string { return strings.Join(lines, "\n") + "\n" }

func TestVerifyIntact(t *testing.T) {
	l, _ := newTestLog(t, 20)
	signer := testSigner(t, "trellis-test", 1)
	cp, err := l.Checkpoint(signer)
	if err != nil {
		t.Fatal(err)
	}
	lines := exportLines(t, l)
	if len(lines) != 20 {
		t.Fatalf("got %d export lines, want 20", len(lines))
	}
	rep, err := Verify(strings.NewReader(join(lines)), cp, signer.Public())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Size != 20 || !bytes.Equal(rep.Root, l.Root()) || !rep.CheckpointVerified || !rep.SignatureVerified || rep.LastRevision != 20 {
		t.Fatalf("got report %+v, want size 20, root %x, both verified, last revision 20", rep, l.Root())
	}
	// Without a checkpoint it still recomputes the root.
	rep, err = Verify(strings.NewReader(join(lines)), nil, nil)
	if err != nil || !bytes.Equal(rep.Root, l.Root()) || rep.CheckpointVerified {
		t.Fatalf("got %+v, %v; want root %x, checkpoint not verified", rep, err, l.Root())
	}
	// Empty export against an empty log's checkpoint.
	empty, _ := newTestLog(t, 0)
	ecp, _ := empty.Checkpoint(signer)
	if _, err := Verify(strings.NewReader(""), ecp, signer.Public()); err != nil {
		t.Fatalf("empty export: %v", err)
	}
}

func TestVerifyOlderCheckpointLongerExport(t *testing.T) {
	l, s := newTestLog(t, 10)
	signer := testSigner(t, "trellis-test", 1)
	old, _ := l.Checkpoint(signer)
	for i := 10; i < 25; i++ {
		appendCommit(t, l, s, testEntry(i))
	}
	rep, err := Verify(strings.NewReader(join(exportLines(t, l))), old, signer.Public())
	if err != nil {
		t.Fatalf("Verify with an older checkpoint: %v", err)
	}
	if rep.Size != 25 || !rep.CheckpointVerified {
		t.Fatalf("got %+v, want size 25 and checkpoint verified", rep)
	}
}

func TestVerifyTampering(t *testing.T) {
	const n = 20
	l, _ := newTestLog(t, n)
	signer := testSigner(t, "trellis-test", 1)
	cp, _ := l.Checkpoint(signer)
	orig := exportLines(t, l)

	tests := []struct {
		name       string
		tamper     func(lines []string) []string
		checkpoint bool
		wantSeq    uint64
		wantHasSeq bool
	}{
		{"edit reason", func(ls []string) []string {
			ls[7] = editLine(t, ls[7], false, func(j *entryJSON) { j.Reason = "nothing to see" })
			return ls
		}, false, 7, true},
		{"edit principal", func(ls []string) []string {
			ls[0] = editLine(t, ls[0], false, func(j *entryJSON) { j.Principal = "user:mallory" })
			return ls
		}, true, 0, true},
		{"edit change count", func(ls []string) []string {
			ls[19] = editLine(t, ls[19], false, func(j *entryJSON) { j.ChangeCount = 0 })
			return ls
		}, true, 19, true},
		{"edit two entries", func(ls []string) []string {
			ls[12] = editLine(t, ls[12], false, func(j *entryJSON) { j.Kind = KindSchema })
			ls[4] = editLine(t, ls[4], false, func(j *entryJSON) { j.Time = j.Time.Add(1) })
			return ls
		}, false, 4, true},
		{"edit leaf hash only", func(ls []string) []string {
			ls[9] = editLine(t, ls[9], false, func(j *entryJSON) { j.LeafHash = strings.Repeat("00", 32) })
			return ls
		}, false, 9, true},
		{"edit and rehash against checkpoint", func(ls []string) []string {
			ls[6] = editLine(t, ls[6], true, func(j *entryJSON) { j.Reason = "forged" })
			return ls
		}, true, 0, false},
		{"delete", func(ls []string) []string {
			return append(ls[:5:5], ls[6:]...)
		}, false, 5, true},
		{"delete and renumber", func(ls []string) []string {
			out := append([]string(nil), ls[:5]...)
			for i, line := range ls[6:] {
				out = append(out, editLine(t, line, false, func(j *entryJSON) { j.Seq = uint64(5 + i) }))
			}
			return out
		}, false, 5, true},
		{"delete last against checkpoint", func(ls []string) []string {
			return ls[:n-1]
		}, true, n - 1, true},
		{"swap", func(ls []string) []string {
			ls[3], ls[11] = ls[11], ls[3]
			return ls
		}, false, 3, true},
		{"swap adjacent", func(ls []string) []string {
			ls[14], ls[15] = ls[15], ls[14]
			return ls
		}, false, 14, true},
		{"truncate against checkpoint", func(ls []string) []string {
			return ls[:12]
		}, true, 12, true},
		{"truncate to nothing against checkpoint", func(ls []string) []string {
			return ls[:0]
		}, true, 0, true},
		{"duplicate", func(ls []string) []string {
			out := append([]string(nil), ls[:9]...)
			out = append(out, ls[8])
			return append(out, ls[9:]...)
		}, false, 9, true},
		{"duplicate last", func(ls []string) []string {
			return append(ls, ls[n-1])
		}, false, n, true},
		{"garbage line", func(ls []string) []string {
			ls[2] = `{"seq":2,"bogus":true}`
			return ls
		}, false, 2, true},
		{"not json", func(ls []string) []string {
			ls[16] = "hello"
			return ls
		}, false, 16, true},
		{"blank line inside", func(ls []string) []string {
			out := append([]string(nil), ls[:10]...)
			out = append(out, "")
			return append(out, ls[10:]...)
		}, false, 10, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lines := tc.tamper(append([]string(nil), orig...))
			var c *Checkpoint
			var pub ed25519.PublicKey
			if tc.checkpoint {
				c, pub = cp, signer.Public()
			}
			_, err := Verify(strings.NewReader(join(lines)), c, pub)
			if err == nil {
				t.Fatal("Verify passed a tampered export")
			}
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("got %v, want ErrTampered", err)
			}
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("got %T, want *VerifyError", err)
			}
			if ve.HasSeq != tc.wantHasSeq || (tc.wantHasSeq && ve.Seq != tc.wantSeq) {
				t.Fatalf("got first bad sequence %d (has %v), want %d (has %v); error: %v",
					ve.Seq, ve.HasSeq, tc.wantSeq, tc.wantHasSeq, err)
			}
		})
	}
}

func TestVerifyTruncatedWithoutCheckpoint(t *testing.T) {
	// Without a checkpoint a prefix is a valid smaller log: only a signed
	// checkpoint fixes the size. This documents the limit of Verify.
	l, _ := newTestLog(t, 20)
	lines := exportLines(t, l)
	rep, err := Verify(strings.NewReader(join(lines[:12])), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := l.RootAt(12)
	if rep.Size != 12 || !bytes.Equal(rep.Root, want) {
		t.Fatalf("got size %d root %x, want 12 %x", rep.Size, rep.Root, want)
	}
}

func TestVerifyCheckpointProblems(t *testing.T) {
	l, _ := newTestLog(t, 8)
	signer := testSigner(t, "trellis-test", 1)
	cp, _ := l.Checkpoint(signer)
	export := join(exportLines(t, l))

	other := testSigner(t, "trellis-test", 2)
	if _, err := Verify(strings.NewReader(export), cp, other.Public()); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: got %v, want ErrWrongKey", err)
	}
	forged := *cp
	forged.Size = 7
	if _, err := Verify(strings.NewReader(export), &forged, signer.Public()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("edited checkpoint: got %v, want ErrBadSignature", err)
	}
	// An unsigned check (no key) of a checkpoint whose revision was changed:
	// the root still matches, the revision does not.
	rev := *cp
	rev.Revision++
	_, err := Verify(strings.NewReader(export), &rev, nil)
	var ve *VerifyError
	if !errors.As(err, &ve) || !ve.HasSeq || ve.Seq != 7 {
		t.Fatalf("changed revision: got %v, want a VerifyError at sequence 7", err)
	}
	if _, err := Verify(strings.NewReader(export), nil, signer.Public()); err == nil {
		t.Fatal("a key without a checkpoint was accepted")
	}
}

func FuzzVerify(f *testing.F) {
	l, _ := newTestLog(f, 3)
	var buf bytes.Buffer
	if err := l.Export(&buf, 3); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("{}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := Verify(bytes.NewReader(b), nil, nil)
		if err != nil {
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *VerifyError", err)
			}
			return
		}
		// Whatever passes re-verifies to the same root.
		rep2, err := Verify(bytes.NewReader(b), nil, nil)
		if err != nil || !bytes.Equal(rep.Root, rep2.Root) {
			t.Fatalf("second verify: %v", err)
		}
	})
}
