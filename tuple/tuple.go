package tuple

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// ObjectRef names one object: "dataset:claims".
type ObjectRef struct {
	Type string
	ID   string
}

// String formats the reference as "type:id".
func (o ObjectRef) String() string { return o.Type + ":" + o.ID }

// SubjectRef names a subject: an object ("user:ana"), every object of a type
// ("user:*"), or a subject set ("team:ml#member").
type SubjectRef struct {
	Type     string
	ID       string
	Relation string // empty for a plain object
}

// String formats the subject as "type:id" or "type:id#relation".
func (s SubjectRef) String() string {
	if s.Relation == "" {
		return s.Type + ":" + s.ID
	}
	return s.Type + ":" + s.ID + "#" + s.Relation
}

// Object returns the subject's object, without its relation.
func (s SubjectRef) Object() ObjectRef { return ObjectRef{Type: s.Type, ID: s.ID} }

// IsWildcard reports whether the subject is "type:*".
func (s SubjectRef) IsWildcard() bool { return s.ID == Wildcard }

// Caveat is a caveat reference on a relationship, with the context stored with it.
type Caveat struct {
	Name    string
	Context map[string]any // decoded JSON; nil when none was given
}

// Relationship is one stored fact: resource#relation@subject, optionally caveated
// and expiring.
type Relationship struct {
	Resource   ObjectRef
	Relation   string
	Subject    SubjectRef
	Caveat     *Caveat    // nil when the relationship is unconditional
	Expiration *time.Time // nil when it never expires; always UTC
}

// Key returns the relationship without caveat and expiration, formatted: the
// identity under which it is stored. Two relationships with the same Key are the
// same relationship.
func (r Relationship) Key() string {
	return r.Resource.String() + "#" + r.Relation + "@" + r.Subject.String()
}

// Ident is a relationship's identity, what Key formats, as a comparable
// value: a map keyed by it finds duplicates without building a string per
// relationship.
type Ident struct {
	Resource ObjectRef
	Relation string
	Subject  SubjectRef
}

// Ident returns the relationship's identity: two relationships with the same
// Ident are the same relationship.
func (r Relationship) Ident() Ident { return Ident{r.Resource, r.Relation, r.Subject} }

// String formats the relationship in canonical form: caveat context with sorted
// keys, expiration in RFC 3339 UTC.
func (r Relationship) String() string { return string(r.Append(nil)) }

// Append appends the relationship's canonical form (String) to b.
func (r Relationship) Append(b []byte) []byte {
	b = append(b, r.Resource.Type...)
	b = append(b, ':')
	b = append(b, r.Resource.ID...)
	b = append(b, '#')
	b = append(b, r.Relation...)
	b = append(b, '@')
	b = append(b, r.Subject.Type...)
	b = append(b, ':')
	b = append(b, r.Subject.ID...)
	if r.Subject.Relation != "" {
		b = append(b, '#')
		b = append(b, r.Subject.Relation...)
	}
	if r.Caveat != nil {
		b = append(b, '[')
		b = append(b, r.Caveat.Name...)
		if len(r.Caveat.Context) > 0 {
			b = append(b, ':')
			b = append(b, FormatContext(r.Caveat.Context)...)
		}
		b = append(b, ']')
	}
	if r.Expiration != nil {
		b = append(b, "[expiration:"...)
		b = r.Expiration.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, ']')
	}
	return b
}

// Equal reports whether two relationships are identical, including caveat,
// context and expiration.
func (r Relationship) Equal(o Relationship) bool {
	if r.Key() != o.Key() {
		return false
	}
	if (r.Expiration == nil) != (o.Expiration == nil) || (r.Expiration != nil && !r.Expiration.Equal(*o.Expiration)) {
		return false
	}
	if (r.Caveat == nil) != (o.Caveat == nil) {
		return false
	}
	if r.Caveat == nil {
		return true
	}
	return r.Caveat.Name == o.Caveat.Name && FormatContext(r.Caveat.Context) == FormatContext(o.Caveat.Context)
}

// ExpiredAt reports whether the relationship has expired at now. A relationship
// expires at the instant of its expiration: from then on it counts as absent.
func (r Relationship) ExpiredAt(now time.Time) bool {
	return r.Expiration != nil && !now.Before(*r.Expiration)
}

// Validate checks every name and ID of the relationship and the shape of its
// caveat. It does not consult a schema.
func (r Relationship) Validate() error {
	if err := validateObject("resource", r.Resource, false); err != nil {
		return err
	}
	if err := ValidateName(r.Relation); err != nil {
		return &Error{Part: "relation", Msg: err.Error()}
	}
	if err := ValidateSubject(r.Subject); err != nil {
		return err
	}
	if r.Caveat != nil {
		if err := ValidateCaveatName(r.Caveat.Name); err != nil {
			return &Error{Part: "caveat", Msg: err.Error()}
		}
	}
	return nil
}

// ValidateSubject checks a subject's type, ID (or wildcard) and relation.
func ValidateSubject(s SubjectRef) error {
	if err := validateObject("subject", s.Object(), true); err != nil {
		return err
	}
	if s.Relation != "" {
		if s.IsWildcard() {
			return &Error{Part: "subject relation", Msg: fmt.Sprintf("a wildcard subject %q cannot have a relation; write %s:* alone", s.String(), s.Type)}
		}
		if s.Relation == Ellipsis {
			return &Error{Part: "subject relation", Msg: fmt.Sprintf("%q is the plain subject %s:%s; give it with an empty relation (ParseSubject does this)", s.String(), s.Type, s.ID)}
		}
		if err := ValidateName(s.Relation); err != nil {
			return &Error{Part: "subject relation", Msg: err.Error()}
		}
	}
	return nil
}

func validateObject(part string, o ObjectRef, allowWildcard bool) error {
	if err := ValidateTypeName(o.Type); err != nil {
		return &Error{Part: part + " type", Msg: err.Error()}
	}
	if allowWildcard && o.ID == Wildcard {
		return nil
	}
	if err := ValidateID(o.ID); err != nil {
		if o.ID == Wildcard {
			return &Error{Part: part + " id", Msg: "the wildcard * is only allowed as a subject"}
		}
		return &Error{Part: part + " id", Msg: err.Error()}
	}
	return nil
}

// FormatContext renders caveat context as compact JSON with sorted keys (the
// canonical form used in strings, keys and digests).
func FormatContext(ctx map[string]any) string {
	if len(ctx) == 0 {
		return "{}"
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ctx); err != nil {
		// Context comes from JSON, so it always encodes; say so loudly if not.
		return fmt.Sprintf("{\"!error\":%q}", err.Error())
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// SortedContextKeys returns the context's keys in order, for deterministic output.
func SortedContextKeys(ctx map[string]any) []string {
	return slices.Sorted(maps.Keys(ctx))
}
