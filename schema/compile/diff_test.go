package compile_test

import (
	"testing"

	"github.com/trellis-authz/trellis/schema/compile"
)

const diffBase = `use expiration
definition user {}
definition team {
  relation member: user
}
definition doc {
  relation reader: user | team#member
  relation owner: user
  permission view = reader + owner
  permission edit = owner
}
caveat purpose_is(purpose string, allowed list<string>) {
  purpose in allowed
}
`

func TestDiff(t *testing.T) {
	tests := []struct {
		name         string
		new          string
		kind         compile.ChangeKind
		path         string
		breaking     bool
		accessChange bool
	}{
		{"definition added", diffBase + "definition folder {}\n", compile.DefinitionAdded, "folder", false, false},
		{"definition removed", replace(diffBase, "definition team {\n  relation member: user\n}\n", "", "relation reader: user | team#member", "relation reader: user"), compile.DefinitionRemoved, "team", true, false},
		{"relation added", replace(diffBase, "relation owner: user\n", "relation owner: user\n  relation auditor: user\n"), compile.RelationAdded, "doc#auditor", false, false},
		{"relation removed", replace(diffBase, "permission view = reader + owner", "permission view = owner", "  relation reader: user | team#member\n", ""), compile.RelationRemoved, "doc#reader", true, false},
		{"subject type added", replace(diffBase, "relation owner: user", "relation owner: user | team#member"), compile.SubjectTypeAdded, "doc#owner", false, true},
		{"subject type removed", replace(diffBase, "relation reader: user | team#member", "relation reader: user"), compile.SubjectTypeRemoved, "doc#reader", true, false},
		{"caveat trait added", replace(diffBase, "relation owner: user", "relation owner: user with expiration"), compile.SubjectTypeAdded, "doc#owner", false, true},
		{"permission added", replace(diffBase, "permission edit = owner", "permission edit = owner\n  permission admin = owner"), compile.PermissionAdded, "doc#admin", false, false},
		{"permission removed", replace(diffBase, "  permission edit = owner\n", ""), compile.PermissionRemoved, "doc#edit", true, false},
		{"permission changed", replace(diffBase, "permission view = reader + owner", "permission view = reader"), compile.PermissionChanged, "doc#view", false, true},
		{"caveat added", diffBase + "caveat is_ok(flag bool) { flag }\n", compile.CaveatAdded, "caveat is_ok", false, false},
		{"caveat removed", replace(diffBase, "caveat purpose_is(purpose string, allowed list<string>) {\n  purpose in allowed\n}\n", ""), compile.CaveatRemoved, "caveat purpose_is", true, false},
		{"caveat expression changed", replace(diffBase, "purpose in allowed", "!(purpose in allowed)"), compile.CaveatExpressionChanged, "caveat purpose_is", false, true},
		{"caveat parameter added", replace(diffBase, "allowed list<string>) {\n  purpose in allowed", "allowed list<string>, extra bool) {\n  purpose in allowed"), compile.CaveatParameterAdded, "caveat purpose_is(extra)", false, true},
		{"caveat parameter removed", replace(diffBase, "purpose string, allowed list<string>) {\n  purpose in allowed", "purpose string) {\n  purpose == \"eval\""), compile.CaveatParameterRemoved, "caveat purpose_is(allowed)", true, false},
		{"caveat parameter retyped", replace(diffBase, "allowed list<string>", "allowed map<string>"), compile.CaveatParameterTypeChanged, "caveat purpose_is(allowed)", true, false},
		{"expiration disabled", replace(diffBase, "use expiration\n", ""), compile.ExpirationDisabled, "use expiration", true, false},
	}
	old := mustCompile(t, diffBase)
	if got := compile.Diff(old, old); len(got) != 0 {
		t.Fatalf("got %d changes between a schema and itself, want 0: %v", len(got), got)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changes := compile.Diff(old, mustCompile(t, tt.new))
			var found *compile.Change
			for i, c := range changes {
				if c.Kind == tt.kind && c.Path == tt.path {
					found = &changes[i]
				}
			}
			if found == nil {
				t.Fatalf("got %v, want a %s change at %s", changes, tt.kind, tt.path)
			}
			if found.Breaking != tt.breaking || found.AccessChange != tt.accessChange {
				t.Errorf("got breaking=%v access=%v, want %v %v", found.Breaking, found.AccessChange, tt.breaking, tt.accessChange)
			}
			if found.Description == "" {
				t.Errorf("got an empty description")
			}
		})
	}
}

func TestDiffPermissionText(t *testing.T) {
	old := mustCompile(t, diffBase)
	changes := compile.Diff(old, mustCompile(t, replace(diffBase, "permission view = reader + owner", "permission view = (reader - owner) + edit")))
	if len(changes) != 1 {
		t.Fatalf("got %v, want one change", changes)
	}
	want := `permission doc#view changed from "reader + owner" to "(reader - owner) + edit"`
	if changes[0].Description != want {
		t.Errorf("got %q, want %q", changes[0].Description, want)
	}
}

// replace applies old/new pairs in order and fails loudly if one is absent.
func replace(s string, pairs ...string) string {
	for i := 0; i+1 < len(pairs); i += 2 {
		if !contains(s, pairs[i]) {
			panic("test fixture: " + pairs[i] + " not found")
		}
		s = replaceOnce(s, pairs[i], pairs[i+1])
	}
	return s
}

func TestDiffExpirationEnabledAndNil(t *testing.T) {
	without := mustCompile(t, replace(diffBase, "use expiration\n", ""))
	with := mustCompile(t, diffBase)
	changes := compile.Diff(without, with)
	if len(changes) != 1 || changes[0].Kind != compile.ExpirationEnabled || changes[0].Breaking {
		t.Errorf("got %v, want one non-breaking %s", changes, compile.ExpirationEnabled)
	}
	// A nil schema is empty: everything is added, or removed.
	added := compile.Diff(nil, with)
	removed := compile.Diff(with, nil)
	if len(added) != len(removed) || len(added) != 1+3+1 { // use, 3 definitions, 1 caveat
		t.Fatalf("got %d added and %d removed, want 5 each:\n%v\n%v", len(added), len(removed), added, removed)
	}
	for _, c := range removed {
		if !c.Breaking {
			t.Errorf("got non-breaking %v, want every removal breaking", c)
		}
	}
	if got := removed[1].String(); got != "BREAKING definition removed user: definition user was removed; its relationships can no longer be written or checked" {
		t.Errorf("got %q", got)
	}
}
