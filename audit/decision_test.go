package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func testDecision(i int) Decision {
	return Decision{
		Time:       t0.Add(time.Duration(i) * time.Second),
		Principal:  "svc:frontend",
		RequestID:  fmt.Sprintf("req-%d", i),
		Resource:   fmt.Sprintf("doc:%d", i),
		Permission: "view",
		Subject:    fmt.Sprintf("user:u%d", i%5),
		Result:     []string{"allowed", "denied"}[i%2],
		Token:      fmt.Sprintf("rev-%d", 100+i),
	}
}

func newChain(t *testing.T, n int) (*DecisionLog, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	d, err := NewDecisionLog(&buf, DecisionHead{}, DefaultDecisionConfig("n1"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		ok, err := d.Record(testDecision(i))
		if err != nil || !ok {
			t.Fatalf("Record %d: got %v, %v; want true, nil", i, ok, err)
		}
	}
	return d, &buf
}

func TestDecisionChainVerifies(t *testing.T) {
	d, buf := newChain(t, 12)
	anchor := d.Anchor()
	head, err := VerifyDecisions(bytes.NewReader(buf.Bytes()), &anchor)
	if err != nil {
		t.Fatalf("VerifyDecisions: %v", err)
	}
	if want := d.Head(); head.Count != 12 || !bytes.Equal(head.Hash, want.Hash) {
		t.Fatalf("got head %d %x, want 12 %x", head.Count, head.Hash, want.Hash)
	}

	// Restart: continue the chain from the verified head in the same file.
	d2, err := NewDecisionLog(buf, head, DefaultDecisionConfig("n1"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 12; i < 15; i++ {
		if _, err := d2.Record(testDecision(i)); err != nil {
			t.Fatal(err)
		}
	}
	// The older anchor still verifies against the longer chain.
	head, err = VerifyDecisions(bytes.NewReader(buf.Bytes()), &anchor)
	if err != nil || head.Count != 15 {
		t.Fatalf("continued chain: got %d, %v; want 15, nil", head.Count, err)
	}

	// The anchor is a valid log entry.
	l, s := newTestLog(t, 2)
	a := d2.Anchor()
	a.Revision, a.Time = 3, t0.Add(time.Hour)
	seq := appendCommit(t, l, s, a)
	got, err := l.Entry(seq)
	if err != nil || got.Kind != KindDecisionAnchor || got.ChangeCount != 15 || !bytes.Equal(got.ChangeDigest, head.Hash) {
		t.Fatalf("anchored entry: got %+v, %v", got, err)
	}
	if _, err := VerifyDecisions(bytes.NewReader(buf.Bytes()), &got); err != nil {
		t.Fatalf("verify against the logged anchor: %v", err)
	}
}

func TestDecisionChainTampering(t *testing.T) {
	d, buf := newChain(t, 10)
	anchor := d.Anchor()
	orig := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	edit := func(line string, f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name    string
		tamper  func([]string) []string
		anchor  bool
		wantSeq uint64
	}{
		{"edit result", func(ls []string) []string {
			ls[4] = edit(ls[4], func(m map[string]any) { m["result"] = "allowed" + "!" })
			return ls
		}, false, 4},
		{"edit hash too", func(ls []string) []string {
			// Changing a record and its hash breaks the next record's prev.
			ls[6] = edit(ls[6], func(m map[string]any) { m["subject"] = "user:mallory" })
			var m map[string]any
			json.Unmarshal([]byte(ls[6]), &m)
			dec := testDecision(6)
			dec.Subject = "user:mallory"
			var prev []byte
			fmt.Sscanf(m["prev"].(string), "%x", &prev)
			m["hash"] = fmt.Sprintf("%x", hashRecord(6, prev, &dec))
			b, _ := json.Marshal(m)
			ls[6] = string(b)
			return ls
		}, false, 7},
		{"delete", func(ls []string) []string { return append(ls[:3:3], ls[4:]...) }, false, 3},
		{"swap", func(ls []string) []string { ls[1], ls[2] = ls[2], ls[1]; return ls }, false, 1},
		{"duplicate", func(ls []string) []string { return append(ls[:6:6], append([]string{ls[5]}, ls[6:]...)...) }, false, 6},
		{"truncate against anchor", func(ls []string) []string { return ls[:7] }, true, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lines := tc.tamper(append([]string(nil), orig...))
			var a *Entry
			if tc.anchor {
				a = &anchor
			}
			_, err := VerifyDecisions(strings.NewReader(strings.Join(lines, "\n")+"\n"), a)
			var ve *VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, ErrTampered) {
				t.Fatalf("got %v, want a *VerifyError wrapping ErrTampered", err)
			}
			if ve.Seq != tc.wantSeq {
				t.Fatalf("got first bad record %d, want %d (%v)", ve.Seq, tc.wantSeq, err)
			}
		})
	}
	// A rewritten chain of the same length does not match the anchor.
	other, obuf := newChain(t, 9)
	if _, err := other.Record(Decision{Time: t0, RequestID: "req-9", Result: "denied"}); err != nil {
		t.Fatal(err)
	}
	_, err := VerifyDecisions(bytes.NewReader(obuf.Bytes()), &anchor)
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Seq != 9 {
		t.Fatalf("rewritten chain: got %v, want a VerifyError at record 9", err)
	}
}

func TestDecisionSampling(t *testing.T) {
	var buf bytes.Buffer
	cfg := DecisionConfig{Node: "n1", SampleRate: 0.25, SampleKey: []byte("test sampling key")}
	d, err := NewDecisionLog(&buf, DecisionHead{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	recorded := 0
	for i := range 2000 {
		dec := testDecision(i)
		ok, err := d.Record(dec)
		if err != nil {
			t.Fatal(err)
		}
		if ok != d.Sampled(dec.RequestID) {
			t.Fatalf("request %s: recorded %v but Sampled says %v", dec.RequestID, ok, !ok)
		}
		if ok {
			recorded++
		}
	}
	// Deterministic: a second log with the same rate and key picks the same
	// requests; logs with their own random keys pick different ones, so a
	// client cannot choose request ids that escape the log.
	d2, _ := NewDecisionLog(&bytes.Buffer{}, DecisionHead{}, cfg)
	r1, _ := NewDecisionLog(&bytes.Buffer{}, DecisionHead{}, DecisionConfig{Node: "n1", SampleRate: 0.25})
	r2, _ := NewDecisionLog(&bytes.Buffer{}, DecisionHead{}, DecisionConfig{Node: "n1", SampleRate: 0.25})
	differ := 0
	for i := range 2000 {
		id := testDecision(i).RequestID
		if d.Sampled(id) != d2.Sampled(id) {
			t.Fatalf("sampling of %s differs between logs with one key", id)
		}
		if r1.Sampled(id) != r2.Sampled(id) {
			differ++
		}
	}
	// Two independent 25% samples disagree on 37.5% of ids (750 of 2000).
	if differ < 500 {
		t.Errorf("logs with their own random keys disagree on %d of 2000 ids; want about 750 (is the key used?)", differ)
	}
	// 25% of 2000 is 500; the binomial standard deviation is ~19.
	if recorded < 400 || recorded > 600 {
		t.Fatalf("recorded %d of 2000 at rate 0.25, want about 500", recorded)
	}
	if head, err := VerifyDecisions(bytes.NewReader(buf.Bytes()), nil); err != nil || head.Count != uint64(recorded) {
		t.Fatalf("sampled chain: got %d, %v; want %d, nil", head.Count, err, recorded)
	}
	for _, rate := range []float64{-0.1, 1.5} {
		if err := (DecisionConfig{Node: "n1", SampleRate: rate}).Validate(); err == nil {
			t.Errorf("SampleRate %v accepted", rate)
		}
	}
	none, _ := NewDecisionLog(&bytes.Buffer{}, DecisionHead{}, DecisionConfig{Node: "n1", SampleRate: 0})
	if ok, _ := none.Record(testDecision(1)); ok {
		t.Error("rate 0 recorded a decision")
	}
}
