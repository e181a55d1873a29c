package main

import (
	"strings"
	"testing"
)

// TestCLISuspend: suspend prints a token and the subject shows in
// suspensions; without --reason it is a usage error; unsuspend lifts it, and
// a second unsuspend fails naming the problem; a reader may list but not
// suspend.
func TestCLISuspend(t *testing.T) {
	n := freshNode(t)
	r := n.cli(t, "suspend", "service_account:etl", "--reason", "SEC-7 key leaked", "--until", "2099-01-01T00:00:00Z")
	wantExit(t, r, 0)
	printedToken(t, r.out)
	r = n.as(t, n.reader, "suspensions")
	wantExit(t, r, 0)
	if !strings.Contains(r.out, "service_account:etl") || !strings.Contains(r.out, "active") || !strings.Contains(r.out, "SEC-7 key leaked") || !strings.Contains(r.out, "2099-01-01T00:00:00Z") {
		t.Errorf("suspensions:\n%s", r)
	}
	r = n.as(t, n.reader, "suspend", "user:eve", "--reason", "x")
	wantExit(t, r, 1)
	r = n.cli(t, "suspend", "user:eve")
	wantExit(t, r, 2)
	if !strings.Contains(r.errOut, "--reason is required") {
		t.Errorf("suspend without a reason:\n%s", r)
	}
	r = n.cli(t, "unsuspend", "service_account:etl", "--reason", "SEC-7 rotated")
	wantExit(t, r, 0)
	printedToken(t, r.out)
	r = n.cli(t, "unsuspend", "service_account:etl", "--reason", "again")
	wantExit(t, r, 1)
	if !strings.Contains(r.errOut, "no suspension to lift") {
		t.Errorf("second unsuspend:\n%s", r)
	}
	r = n.cli(t, "suspensions", "--json", "--consistency", "fully_consistent")
	wantExit(t, r, 0)
	if !strings.Contains(r.out, `"suspensions": []`) && !strings.Contains(r.out, `"suspensions":[]`) {
		t.Errorf("suspensions after unsuspend:\n%s", r)
	}
}
