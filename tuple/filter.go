package tuple

import (
	"fmt"
	"strings"
)

// Filter selects relationships. Empty fields match anything.
type Filter struct {
	ResourceType     string         `json:"resource_type,omitempty"`
	ResourceID       string         `json:"resource_id,omitempty"`
	ResourceIDPrefix string         `json:"resource_id_prefix,omitempty"`
	Relation         string         `json:"relation,omitempty"`
	Subject          *SubjectFilter `json:"subject,omitempty"`
}

// SubjectFilter selects subjects. Relation nil matches any subject relation;
// a pointer to "" (or to Ellipsis, "...", SpiceDB's spelling of it) matches
// only plain subjects (no relation).
type SubjectFilter struct {
	Type     string  `json:"type,omitempty"`
	ID       string  `json:"id,omitempty"`
	Relation *string `json:"relation,omitempty"`
}

// Normalize returns the filter with a subject relation of Ellipsis ("...")
// written as "" (plain subjects only), the form storage reads by. It never
// modifies f.
func (f Filter) Normalize() Filter {
	if s := f.Subject; s != nil && s.Relation != nil && *s.Relation == Ellipsis {
		c := *s
		c.Relation = new(string)
		f.Subject = &c
	}
	return f
}

// Validate checks the filter's names; it needs a resource type whenever it names
// a resource ID, prefix or relation, so reads stay on one key range.
func (f Filter) Validate() error {
	if f == (Filter{}) {
		return &Error{Part: "filter", Msg: "empty; name at least a resource_type or a subject"}
	}
	if f.ResourceType != "" {
		if err := ValidateTypeName(f.ResourceType); err != nil {
			return &Error{Part: "filter resource_type", Msg: err.Error()}
		}
	}
	if f.ResourceID != "" && f.ResourceIDPrefix != "" {
		return &Error{Part: "filter", Msg: "give resource_id or resource_id_prefix, not both"}
	}
	if f.ResourceID != "" {
		if err := ValidateID(f.ResourceID); err != nil {
			return &Error{Part: "filter resource_id", Msg: err.Error()}
		}
	}
	if f.ResourceIDPrefix != "" {
		// A prefix of a valid ID follows the same byte and length rules.
		if err := ValidateID(f.ResourceIDPrefix); err != nil {
			return &Error{Part: "filter resource_id_prefix", Msg: err.Error()}
		}
	}
	if (f.ResourceID != "" || f.ResourceIDPrefix != "" || f.Relation != "") && f.ResourceType == "" && f.Subject == nil {
		return &Error{Part: "filter", Msg: "resource_id, resource_id_prefix and relation need resource_type (or a subject filter)"}
	}
	if f.Relation != "" {
		if err := ValidateName(f.Relation); err != nil {
			return &Error{Part: "filter relation", Msg: err.Error()}
		}
	}
	if s := f.Subject; s != nil {
		if s.Type == "" {
			return &Error{Part: "filter subject", Msg: "a subject filter needs a type"}
		}
		if err := ValidateTypeName(s.Type); err != nil {
			return &Error{Part: "filter subject type", Msg: err.Error()}
		}
		if s.ID != "" && s.ID != Wildcard {
			if err := ValidateID(s.ID); err != nil {
				return &Error{Part: "filter subject id", Msg: err.Error()}
			}
		}
		if s.Relation != nil && *s.Relation != "" && *s.Relation != Ellipsis {
			if err := ValidateName(*s.Relation); err != nil {
				return &Error{Part: "filter subject relation", Msg: err.Error()}
			}
		}
	}
	return nil
}

// Matches reports whether r is selected by the filter.
func (f Filter) Matches(r Relationship) bool {
	if f.ResourceType != "" && r.Resource.Type != f.ResourceType {
		return false
	}
	if f.ResourceID != "" && r.Resource.ID != f.ResourceID {
		return false
	}
	if f.ResourceIDPrefix != "" && !strings.HasPrefix(r.Resource.ID, f.ResourceIDPrefix) {
		return false
	}
	if f.Relation != "" && r.Relation != f.Relation {
		return false
	}
	if s := f.Subject; s != nil {
		if r.Subject.Type != s.Type {
			return false
		}
		if s.ID != "" && r.Subject.ID != s.ID {
			return false
		}
		if s.Relation != nil && r.Subject.Relation != *s.Relation && (*s.Relation != Ellipsis || r.Subject.Relation != "") {
			return false
		}
	}
	return true
}

// String describes the filter for error messages.
func (f Filter) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("resource_type", f.ResourceType)
	add("resource_id", f.ResourceID)
	add("resource_id_prefix", f.ResourceIDPrefix)
	add("relation", f.Relation)
	if s := f.Subject; s != nil {
		add("subject_type", s.Type)
		add("subject_id", s.ID)
		if s.Relation != nil {
			parts = append(parts, fmt.Sprintf("subject_relation=%q", *s.Relation))
		}
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// Op is what a write does with one relationship.
type Op uint8

// The write operations.
const (
	OpCreate Op = iota + 1 // fails if the relationship exists
	OpTouch                // upsert
	OpDelete               // no error if absent
)

var opNames = map[Op]string{OpCreate: "create", OpTouch: "touch", OpDelete: "delete"}

func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// ParseOp parses "create", "touch" or "delete".
func ParseOp(s string) (Op, error) {
	for op, name := range opNames {
		if name == s {
			return op, nil
		}
	}
	return 0, fmt.Errorf("unknown op %q; use create, touch or delete", s)
}

// Update is one change in a write.
type Update struct {
	Op           Op
	Relationship Relationship
}

// PreconditionOp says whether a filter must or must not match.
type PreconditionOp uint8

// The precondition kinds.
const (
	MustMatch PreconditionOp = iota + 1
	MustNotMatch
)

func (p PreconditionOp) String() string {
	switch p {
	case MustMatch:
		return "must_match"
	case MustNotMatch:
		return "must_not_match"
	}
	return fmt.Sprintf("precondition(%d)", uint8(p))
}

// ParsePreconditionOp parses "must_match" or "must_not_match".
func ParsePreconditionOp(s string) (PreconditionOp, error) {
	switch s {
	case "must_match":
		return MustMatch, nil
	case "must_not_match":
		return MustNotMatch, nil
	}
	return 0, fmt.Errorf("unknown precondition op %q; use must_match or must_not_match", s)
}

// Precondition is a check made against the current state before a write applies.
type Precondition struct {
	Op     PreconditionOp
	Filter Filter
}
