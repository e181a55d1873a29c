package schema_test

import (
	"errors"
	"testing"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/schema/compile"
	"github.com/trellis-authz/trellis/tuple"
)

const validateSchema = `use expiration
definition user {}
definition group {}
definition team {
  relation member: user | team#member
}
caveat purpose_is(purpose string, allowed list<string>) {
  purpose in allowed
}
definition dataset {
  relation reader: user | user:* | team#member | user with purpose_is
  relation temp: user with expiration | team#member with purpose_is and expiration
  permission read = reader + temp
}
`

func TestValidateRelationship(t *testing.T) {
	s, errs := compile.CompileText("v.zed", validateSchema)
	if errs.Err() != nil {
		t.Fatal(errs)
	}
	tests := []struct {
		rel   string
		err   error  // nil: valid
		msgRx string // part of the message
	}{
		{rel: "dataset:claims#reader@user:ana"},
		{rel: "dataset:claims#reader@user:*"},
		{rel: "dataset:claims#reader@team:ml#member"},
		{rel: `dataset:claims#reader@user:ana[purpose_is:{"allowed":["eval"]}]`},
		{rel: "dataset:claims#reader@user:ana[purpose_is]"},
		{rel: "dataset:claims#temp@user:bob[expiration:2027-01-01T00:00:00Z]"},
		{rel: "dataset:claims#temp@team:ml#member[purpose_is][expiration:2027-01-01T00:00:00Z]"},
		{rel: "model:gpt#reader@user:ana", err: schema.ErrUnknownType, msgRx: `unknown object type "model"`},
		{rel: "dataset:claims#writer@user:ana", err: schema.ErrUnknownRelation, msgRx: `dataset#writer: definition "dataset" has no relation "writer"`},
		{rel: "dataset:claims#read@user:ana", err: schema.ErrNotRelation, msgRx: `dataset#read is a permission`},
		{rel: "dataset:claims#reader@group:eng", err: schema.ErrSubjectNotAllowed,
			msgRx: `subject type "group" is not allowed on dataset#reader; allowed: user, user:\*, team#member, user with purpose_is`},
		{rel: "dataset:claims#reader@team:ml", err: schema.ErrSubjectNotAllowed, msgRx: `subject type "team" is not allowed`},
		{rel: "dataset:claims#reader@team:ml#admin", err: schema.ErrSubjectNotAllowed, msgRx: `subject set "team#admin" is not allowed`},
		{rel: "dataset:claims#temp@user:*[expiration:2027-01-01T00:00:00Z]", err: schema.ErrSubjectNotAllowed, msgRx: `subject wildcard "user:\*" is not allowed on dataset#temp`},
		{rel: "dataset:claims#reader@team:ml#member[purpose_is]", err: schema.ErrCaveatNotAllowed, msgRx: `caveat "purpose_is" is not allowed for team#member on dataset#reader; allowed for it: team#member`},
		{rel: "dataset:claims#temp@team:ml#member[expiration:2027-01-01T00:00:00Z]", err: schema.ErrCaveatNotAllowed, msgRx: `team#member on dataset#temp needs a caveat; allowed for it: team#member with purpose_is and expiration`},
		{rel: "dataset:claims#reader@user:ana[expiration:2027-01-01T00:00:00Z]", err: schema.ErrExpirationNotAllowed, msgRx: `user on dataset#reader cannot expire`},
		{rel: "dataset:claims#temp@user:bob", err: schema.ErrExpirationNotAllowed, msgRx: `user on dataset#temp must have an expiration`},
		{rel: "dataset:claims#temp@team:ml#member[purpose_is]", err: schema.ErrExpirationNotAllowed, msgRx: `must have an expiration`},
		{rel: `dataset:claims#reader@user:ana[purpose_is:{"purpos":"eval"}]`, err: schema.ErrUnknownCaveatParameter, msgRx: `caveat "purpose_is" has no parameter "purpos"; its parameters are: purpose, allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			r, err := tuple.Parse(tt.rel)
			if err != nil {
				t.Fatalf("bad fixture: %v", err)
			}
			err = s.ValidateRelationship(r)
			if tt.err == nil {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			if !errors.Is(err, tt.err) {
				t.Fatalf("got %v, want %v", err, tt.err)
			}
			if !regexpMatch(t, tt.msgRx, err.Error()) {
				t.Fatalf("got %q, want /%s/", err, tt.msgRx)
			}
		})
	}
}

func TestAllowedSubjectString(t *testing.T) {
	tests := []struct {
		a    schema.AllowedSubject
		want string
	}{
		{schema.AllowedSubject{Type: "user"}, "user"},
		{schema.AllowedSubject{Type: "user", Wildcard: true}, "user:*"},
		{schema.AllowedSubject{Type: "team", Relation: "member"}, "team#member"},
		{schema.AllowedSubject{Type: "user", Caveat: "cav"}, "user with cav"},
		{schema.AllowedSubject{Type: "user", Expiration: true}, "user with expiration"},
		{schema.AllowedSubject{Type: "user", Caveat: "cav", Expiration: true}, "user with cav and expiration"},
	}
	for _, tt := range tests {
		if got := tt.a.String(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestPermissionLookup(t *testing.T) {
	s, _ := compile.CompileText("v.zed", validateSchema)
	if r, p, err := s.Permission("dataset", "read"); err != nil || r != nil || p == nil {
		t.Errorf("got %v %v %v, want the read permission", r, p, err)
	}
	if r, p, err := s.Permission("dataset", "reader"); err != nil || r == nil || p != nil {
		t.Errorf("got %v %v %v, want the reader relation", r, p, err)
	}
	if _, _, err := s.Permission("dataset", "nope"); !errors.Is(err, schema.ErrUnknownPermission) {
		t.Errorf("got %v, want ErrUnknownPermission", err)
	}
}

func regexpMatch(t *testing.T, rx, s string) bool {
	t.Helper()
	ok, err := regexpMatchString(rx, s)
	if err != nil {
		t.Fatalf("bad regexp %q: %v", rx, err)
	}
	return ok
}
