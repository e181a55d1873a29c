package tuple

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestFilterValidate(t *testing.T) {
	tests := []struct {
		name string
		f    Filter
		part string // "" when valid
	}{
		{"empty", Filter{}, "filter"},
		{"type only", Filter{ResourceType: "doc"}, ""},
		{"type and id", Filter{ResourceType: "doc", ResourceID: "a"}, ""},
		{"type and prefix", Filter{ResourceType: "doc", ResourceIDPrefix: "a/"}, ""},
		{"type and relation", Filter{ResourceType: "doc", Relation: "reader"}, ""},
		{"bad type", Filter{ResourceType: "Doc"}, "filter resource_type"},
		{"id and prefix", Filter{ResourceType: "doc", ResourceID: "a", ResourceIDPrefix: "a"}, "filter"},
		{"bad id", Filter{ResourceType: "doc", ResourceID: "a b"}, "filter resource_id"},
		{"id without type", Filter{ResourceID: "a"}, "filter"},
		{"prefix without type", Filter{ResourceIDPrefix: "a"}, "filter"},
		{"prefix with NUL", Filter{ResourceType: "doc", ResourceIDPrefix: "a\x00"}, "filter resource_id_prefix"},
		{"prefix with colon", Filter{ResourceType: "doc", ResourceIDPrefix: "a:"}, "filter resource_id_prefix"},
		{"prefix too long", Filter{ResourceType: "doc", ResourceIDPrefix: strings.Repeat("a", MaxIDLen+1)}, "filter resource_id_prefix"},
		{"relation without type", Filter{Relation: "reader"}, "filter"},
		{"bad relation", Filter{ResourceType: "doc", Relation: "r"}, "filter relation"},
		{"subject only", Filter{Subject: &SubjectFilter{Type: "user"}}, ""},
		{"relation with subject", Filter{Relation: "reader", Subject: &SubjectFilter{Type: "user", ID: "ana"}}, ""},
		{"subject without type", Filter{Subject: &SubjectFilter{ID: "ana"}}, "filter subject"},
		{"bad subject type", Filter{Subject: &SubjectFilter{Type: "u"}}, "filter subject type"},
		{"subject wildcard", Filter{Subject: &SubjectFilter{Type: "user", ID: "*"}}, ""},
		{"bad subject id", Filter{Subject: &SubjectFilter{Type: "user", ID: "a:b"}}, "filter subject id"},
		{"subject relation", Filter{Subject: &SubjectFilter{Type: "team", Relation: ptr("member")}}, ""},
		{"plain subjects only", Filter{Subject: &SubjectFilter{Type: "team", Relation: ptr("")}}, ""},
		{"bad subject relation", Filter{Subject: &SubjectFilter{Type: "team", Relation: ptr("M")}}, "filter subject relation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Validate()
			if tt.part == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want an *Error about %q", err, tt.part)
			}
			if e.Part != tt.part {
				t.Errorf("got part %q, want %q (%v)", e.Part, tt.part, err)
			}
		})
	}
}

func TestFilterMatches(t *testing.T) {
	rels := []Relationship{
		MustParse("doc:a/1#reader@user:ana"),
		MustParse("doc:a/2#reader@team:ml#member"),
		MustParse("doc:b#writer@user:bob[cav]"),
		MustParse("folder:a/1#reader@user:*"),
	}
	tests := []struct {
		name string
		f    Filter
		want []int // indexes of rels that match
	}{
		{"type", Filter{ResourceType: "doc"}, []int{0, 1, 2}},
		{"id", Filter{ResourceType: "doc", ResourceID: "a/1"}, []int{0}},
		{"prefix", Filter{ResourceType: "doc", ResourceIDPrefix: "a/"}, []int{0, 1}},
		{"relation", Filter{ResourceType: "doc", Relation: "reader"}, []int{0, 1}},
		{"subject type", Filter{Subject: &SubjectFilter{Type: "user"}}, []int{0, 2, 3}},
		{"subject id", Filter{Subject: &SubjectFilter{Type: "user", ID: "bob"}}, []int{2}},
		{"subject wildcard id", Filter{Subject: &SubjectFilter{Type: "user", ID: "*"}}, []int{3}},
		{"subject relation", Filter{Subject: &SubjectFilter{Type: "team", Relation: ptr("member")}}, []int{1}},
		{"plain subjects", Filter{Subject: &SubjectFilter{Type: "team", Relation: ptr("")}}, nil},
		{"any subject relation", Filter{Subject: &SubjectFilter{Type: "team"}}, []int{1}},
		{"everything", Filter{ResourceType: "doc", ResourceID: "b", Relation: "writer", Subject: &SubjectFilter{Type: "user", ID: "bob", Relation: ptr("")}}, []int{2}},
		{"no match", Filter{ResourceType: "doc", Relation: "owner"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f.Validate(); err != nil {
				t.Fatalf("filter invalid: %v", err)
			}
			var got []int
			for i, r := range rels {
				if tt.f.Matches(r) {
					got = append(got, i)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got matches %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilterString(t *testing.T) {
	f := Filter{ResourceType: "doc", Relation: "reader", Subject: &SubjectFilter{Type: "team", Relation: ptr("")}}
	if got, want := f.String(), `{resource_type=doc relation=reader subject_type=team subject_relation=""}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
