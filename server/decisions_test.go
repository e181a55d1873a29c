package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trellis-authz/trellis/audit"
)

// TestOpenDecisionLogRefusesBrokenChain: a node does not continue a chain
// that fails verification; the error names the bad record.
func TestOpenDecisionLogRefusesBrokenChain(t *testing.T) {
	file := filepath.Join(t.TempDir(), "d.ndjson")
	o := DecisionConfig{File: file, Sample: 1, AnchorInterval: time.Minute}
	d, err := openDecisionLog(o, "n1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := d.log.Record(audit.Decision{Time: time.Now(), Principal: "p", RequestID: strconv.Itoa(i),
			Resource: "doc:a", Permission: "view", Subject: "user:x", Result: "allowed", Token: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	if err := os.WriteFile(file, bytes.Replace(b, []byte(`"request_id":"2"`), []byte(`"request_id":"9"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = openDecisionLog(o, "n1")
	if err == nil || !strings.Contains(err.Error(), "record 2") {
		t.Fatalf("got %v, want a refusal naming record 2", err)
	}
	for _, bad := range []DecisionConfig{
		{File: file, Sample: 1.5, AnchorInterval: time.Minute},
		{File: file, Sample: 0.5},
	} {
		if err := bad.validate(); err == nil {
			t.Errorf("validate(%+v): got nil, want an error", bad)
		}
	}
}
