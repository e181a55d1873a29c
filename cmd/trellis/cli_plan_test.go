package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/trellis-authz/trellis/wire"
)

// TestCLIPlan runs trellis plan against the ai-governance example: ana sees
// claims_region raw (public) and claims_ssn raw only from the corporate
// network, so without a client_ip that tier is conditional.
func TestCLIPlan(t *testing.T) {
	n := sharedNode(t)
	sel := []string{"plan", "--subject", "user:ana", "--permissions", "read_raw,read_masked", "--resources-of", "field#dataset@dataset:claims"}
	with := func(extra ...string) []string { return append(slices.Clone(sel), extra...) }
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no context", sel,
			"field:claims_region  read_raw\nfield:claims_ssn     read_raw  conditional (missing context client_ip)\n"},
		{"corporate network", with("--context", `{"client_ip":"10.1.2.3"}`),
			"field:claims_region  read_raw\nfield:claims_ssn     read_raw\n"},
		{"outside falls to masked", with("--context", `{"client_ip":"8.8.8.8"}`),
			"field:claims_region  read_raw\nfield:claims_ssn     read_masked\n"},
		{"blocked reader gets nothing", []string{"plan", "--subject", "user:ben", "--permissions", "read_raw,read_masked", "--resources", "field:claims_ssn,field:claims_region"},
			"field:claims_ssn     -\nfield:claims_region  -\n"},
		{"one page of one", with("--limit", "1"),
			"field:claims_region  read_raw\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := n.as(t, n.reader, tc.args...)
			wantExit(t, r, 0)
			if r.out != tc.want {
				t.Errorf("got\n%s\nwant\n%s", r.out, tc.want)
			}
			if !strings.Contains(r.errOut, "checked at t1.") {
				t.Errorf("got stderr %q, want the summary with the token", r.errOut)
			}
		})
	}

	r := n.cli(t, with("--json")...)
	wantExit(t, r, 0)
	var res wire.PlanResponse
	if err := json.Unmarshal([]byte(r.out), &res); err != nil || len(res.Plan) != 2 || res.CheckedAt == "" ||
		res.Plan[1].Resource != "field:claims_ssn" || !res.Plan[1].Conditional || len(res.Plan[1].MissingContext) != 1 {
		t.Errorf("got %q (%v), want JSON with claims_ssn conditional on client_ip", r.out, err)
	}
}

// TestCLIPlanErrors: flag mistakes are usage errors (2), caught before any
// request; what only the server can judge is an error (1) naming the fix.
func TestCLIPlanErrors(t *testing.T) {
	n := sharedNode(t)
	usage := []struct {
		name string
		args []string
		want string
	}{
		{"no subject", []string{"--permissions", "read_raw", "--resources", "field:a"}, "--subject is required"},
		{"no permissions", []string{"--subject", "user:ana", "--resources", "field:a"}, "--permissions is required"},
		{"no resources", []string{"--subject", "user:ana", "--permissions", "read_raw"}, "--resources-of"},
		{"both", []string{"--subject", "user:ana", "--permissions", "read_raw", "--resources", "field:a", "--resources-of", "field#dataset@dataset:claims"}, "not both"},
		{"bad selector", []string{"--subject", "user:ana", "--permissions", "read_raw", "--resources-of", "field@dataset:claims"}, "TYPE#RELATION@OBJECT"},
		{"bad resource", []string{"--subject", "user:ana", "--permissions", "read_raw", "--resources", "field"}, "--resources"},
		{"limit with a list", []string{"--subject", "user:ana", "--permissions", "read_raw", "--resources", "field:a", "--limit", "3"}, "--limit"},
		{"bad context", []string{"--subject", "user:ana", "--permissions", "read_raw", "--resources", "field:a", "--context", "nope"}, "--context"},
	}
	for _, tc := range usage {
		t.Run(tc.name, func(t *testing.T) {
			r := n.cli(t, append([]string{"plan"}, tc.args...)...)
			wantExit(t, r, 2)
			if !strings.Contains(r.errOut, tc.want) {
				t.Errorf("got stderr %q, want it to mention %q", r.errOut, tc.want)
			}
		})
	}
	r := n.cli(t, "plan", "--subject", "user:ana", "--permissions", "read_raw,read_hashed", "--resources-of", "field#dataset@dataset:claims")
	wantExit(t, r, 1)
	if !strings.Contains(r.errOut, "read_hashed") || !strings.Contains(r.errOut, "read_masked") {
		t.Errorf("got stderr %q, want the unknown tier named with the ones field has", r.errOut)
	}
}
