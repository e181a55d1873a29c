package compile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/tuple"
)

// TestExampleSchema compiles examples/ai-governance/schema.zed without a
// warning and checks that the relationships its comments describe are
// accepted, and their near misses rejected.
func TestExampleSchema(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "ai-governance", "schema.zed"))
	if err != nil {
		t.Fatal(err)
	}
	s, errs := compile.CompileText("schema.zed", string(src))
	if len(errs) > 0 {
		t.Fatalf("got problems, want none:\n%v", errs)
	}
	for _, perm := range []string{"dataset#read", "dataset#train", "field#read_raw", "field#read_masked", "model#run", "model#fine_tune", "model#deploy", "model#approve_deploy", "deployment#invoke"} {
		typ, name, _ := strings.Cut(perm, "#")
		if _, p, err := s.Permission(typ, name); err != nil || p == nil {
			t.Errorf("%s: got %v, want a permission", perm, err)
		}
	}
	tests := []struct {
		rel  string
		want error
	}{
		{"team:ml#member@team:research#member", nil},
		{"team:ml#member@service_account:trainer", nil},
		{`dataset:claims#reader@user:ana[purpose_is:{"allowed":["fraud-model"]}]`, nil},
		{"dataset:claims#reader@user:bob[expiration:2027-01-01T00:00:00Z]", nil},
		{"project:churn#ml_engineer@user:kim[expiration:2027-03-31T00:00:00Z]", nil},
		{`dataset:claims#emergency_reader@user:oncall[break_glass:{"incident":"INC-42"}][expiration:2026-11-23T00:00:00Z]`, nil},
		{`dataset:claims#emergency_reader@user:oncall[break_glass:{"incident":"INC-42"}]`, schema.ErrExpirationNotAllowed},
		{"dataset:claims#emergency_reader@user:oncall[expiration:2026-11-23T00:00:00Z]", schema.ErrCaveatNotAllowed},
		{"field:claims/region#public@user:*", nil},
		{"field:claims/ssn#unmasked_for@user:ana[on_corporate_network]", nil},
		{"model:fraud-v2#base@model:fraud-v1", nil},
		{"model:fraud-v2#trained_on@dataset:claims", nil},
		{"model:fraud-v2#runner@service_account:scorer[purpose_is]", nil},
		{"model:fraud-v2#runner@user:*", schema.ErrSubjectNotAllowed},
		{"model:fraud-v2#deploy@user:ana", schema.ErrNotRelation},
		{"deployment:fraud-api#caller@user:*", nil},
	}
	for _, tt := range tests {
		r, err := tuple.Parse(tt.rel)
		if err != nil {
			t.Fatalf("bad fixture %s: %v", tt.rel, err)
		}
		if err := s.ValidateRelationship(r); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.rel, err, tt.want)
		}
	}
	// The caveats do what the comments say.
	bg := s.Caveats["break_glass"].Program
	res, err := bg.Eval(context.Background(), map[string]any{"incident": "INC-42", "ticket": "INC-42", "reason": "fraud model down in prod"})
	if err != nil || !res.Value {
		t.Errorf("break_glass with the right ticket: got %+v, %v; want true", res, err)
	}
	res, err = bg.Eval(context.Background(), map[string]any{"incident": "INC-42", "ticket": "INC-7", "reason": "fraud model down in prod"})
	if err != nil || res.Value {
		t.Errorf("break_glass with another ticket: got %+v, %v; want false", res, err)
	}
	net := s.Caveats["on_corporate_network"].Program
	for ip, want := range map[string]bool{"10.20.30.40": true, "192.168.1.9": true, "8.8.8.8": false} {
		res, err := net.Eval(context.Background(), map[string]any{"client_ip": ip})
		if err != nil || res.Value != want {
			t.Errorf("on_corporate_network %s: got %+v, %v; want %v", ip, res, err, want)
		}
	}
}
