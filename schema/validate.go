package schema

import (
	"fmt"
	"github.com/trellis-authz/trellis/verdict"
	"strings"

	"github.com/trellis-authz/trellis/tuple"
)

// Errors returned by ValidateRelationship and the lookup helpers. They are
// wrapped with the details (what was written, what is allowed).
var (
	// ErrUnknownType is returned for an object type the schema does not define.
	ErrUnknownType = verdict.New("unknown object type")
	// ErrUnknownRelation is returned for a relation the definition does not have.
	ErrUnknownRelation = verdict.New("unknown relation")
	// ErrNotRelation is returned when a relationship names a permission: only
	// relations are stored.
	ErrNotRelation = verdict.New("permission cannot be written")
	// ErrUnknownPermission is returned for a relation or permission that does
	// not exist where one is checked.
	ErrUnknownPermission = verdict.New("unknown permission")
	// ErrSubjectNotAllowed is returned when the relation does not allow the
	// subject's type, wildcard or subject relation.
	ErrSubjectNotAllowed = verdict.New("subject not allowed")
	// ErrCaveatNotAllowed is returned when the caveat (or its absence) does not
	// match the relation's allowed subject types.
	ErrCaveatNotAllowed = verdict.New("caveat not allowed")
	// ErrExpirationNotAllowed is returned when the expiration (or its absence)
	// does not match the relation's allowed subject types.
	ErrExpirationNotAllowed = verdict.New("expiration not allowed")
	// ErrUnknownCaveat is returned for a caveat the schema does not define.
	ErrUnknownCaveat = verdict.New("unknown caveat")
	// ErrUnknownCaveatParameter is returned for context keys that are not
	// parameters of the caveat.
	ErrUnknownCaveatParameter = verdict.New("unknown caveat parameter")
)

// String formats the allowed subject type as written in a schema: "user",
// "user:*", "team#member", "user with purpose_is and expiration".
func (a AllowedSubject) String() string {
	var b strings.Builder
	b.WriteString(a.Type)
	if a.Wildcard {
		b.WriteString(":*")
	}
	if a.Relation != "" {
		b.WriteByte('#')
		b.WriteString(a.Relation)
	}
	switch {
	case a.Caveat != "" && a.Expiration:
		b.WriteString(" with " + a.Caveat + " and expiration")
	case a.Caveat != "":
		b.WriteString(" with " + a.Caveat)
	case a.Expiration:
		b.WriteString(" with expiration")
	}
	return b.String()
}

// Definition returns the definition of typ.
func (s *Schema) Definition(typ string) (*Definition, error) {
	d, ok := s.Definitions[typ]
	if !ok {
		return nil, fmt.Errorf("%w %q: the schema defines no such type", ErrUnknownType, typ)
	}
	return d, nil
}

// Relation returns relation name of typ; it fails when typ is undefined or
// name is a permission or nothing.
func (s *Schema) Relation(typ, name string) (*Relation, error) {
	d, err := s.Definition(typ)
	if err != nil {
		return nil, err
	}
	r, p, ok := d.Lookup(name)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w %s#%s: definition %q has no relation %q", ErrUnknownRelation, typ, name, typ, name)
	case p != nil:
		return nil, fmt.Errorf("%w: %s#%s is a permission; relationships can only be written to relations", ErrNotRelation, typ, name)
	}
	return r, nil
}

// Permission returns the relation or permission name of typ, whichever exists:
// both can be checked. Exactly one of the results is non-nil on success.
func (s *Schema) Permission(typ, name string) (*Relation, *Permission, error) {
	d, err := s.Definition(typ)
	if err != nil {
		return nil, nil, err
	}
	r, p, ok := d.Lookup(name)
	if !ok {
		return nil, nil, fmt.Errorf("%w %s#%s: definition %q has no relation or permission %q", ErrUnknownPermission, typ, name, typ, name)
	}
	return r, p, nil
}

// ValidateRelationship checks that r may be written under this schema: the
// resource type exists, the relation exists and is a relation, the subject's
// form (type, wildcard, subject relation) is allowed by one of the relation's
// allowed subject types, and that same entry has exactly r's caveat and
// expiration traits. Context keys must be parameters of the caveat. It does not
// check names and IDs (tuple.Relationship.Validate does).
func (s *Schema) ValidateRelationship(r tuple.Relationship) error {
	rel, err := s.Relation(r.Resource.Type, r.Relation)
	if err != nil {
		return err
	}
	where := r.Resource.Type + "#" + r.Relation
	sub := r.Subject
	form := AllowedSubject{Type: sub.Type, Wildcard: sub.IsWildcard(), Relation: sub.Relation}
	var sameForm []AllowedSubject
	for _, a := range rel.Allowed {
		if a.Type == form.Type && a.Wildcard == form.Wildcard && a.Relation == form.Relation {
			sameForm = append(sameForm, a)
		}
	}
	if len(sameForm) == 0 {
		return fmt.Errorf("%w: subject %s %q is not allowed on %s; allowed: %s",
			ErrSubjectNotAllowed, subjectKind(sub), form.String(), where, allowedList(rel.Allowed))
	}
	caveat := ""
	if r.Caveat != nil {
		caveat = r.Caveat.Name
	}
	expires := r.Expiration != nil
	var caveatOK bool
	for _, a := range sameForm {
		if a.Caveat == caveat {
			caveatOK = true
			if a.Expiration == expires {
				return s.validateContext(r, where)
			}
		}
	}
	if !caveatOK {
		if caveat == "" {
			return fmt.Errorf("%w: %s on %s needs a caveat; allowed for it: %s",
				ErrCaveatNotAllowed, form.String(), where, allowedList(sameForm))
		}
		return fmt.Errorf("%w: caveat %q is not allowed for %s on %s; allowed for it: %s",
			ErrCaveatNotAllowed, caveat, form.String(), where, allowedList(sameForm))
	}
	if expires {
		return fmt.Errorf("%w: %s on %s cannot expire; allowed for it: %s (add \"with expiration\" to the relation to allow it)",
			ErrExpirationNotAllowed, form.String(), where, allowedList(sameForm))
	}
	return fmt.Errorf("%w: %s on %s must have an expiration; allowed for it: %s",
		ErrExpirationNotAllowed, form.String(), where, allowedList(sameForm))
}

func (s *Schema) validateContext(r tuple.Relationship, where string) error {
	if r.Caveat == nil {
		return nil
	}
	cv, ok := s.Caveats[r.Caveat.Name]
	if !ok {
		return fmt.Errorf("%w %q on %s: the schema declares no such caveat", ErrUnknownCaveat, r.Caveat.Name, where)
	}
	return cv.CheckContext(r.Caveat.Context)
}

func subjectKind(s tuple.SubjectRef) string {
	switch {
	case s.IsWildcard():
		return "wildcard"
	case s.Relation != "":
		return "set"
	}
	return "type"
}

func allowedList(as []AllowedSubject) string {
	if len(as) == 0 {
		return "nothing"
	}
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", ")
}
