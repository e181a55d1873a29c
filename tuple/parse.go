package tuple

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/trellis-authz/trellis/verdict"
)

// Error is a syntax or validation error in a relationship, object or subject
// string. Part names the piece that is wrong ("resource type", "subject id",
// "caveat context", ...).
type Error struct {
	Input string // the whole string, when known
	Part  string
	Msg   string
}

// Is makes every Error a verdict: it is the caller's input that is wrong.
func (e *Error) Is(target error) bool { return target == verdict.Err }

func (e *Error) Error() string {
	if e.Input == "" {
		return fmt.Sprintf("invalid %s: %s", e.Part, e.Msg)
	}
	return fmt.Sprintf("invalid relationship %q: %s: %s", e.Input, e.Part, e.Msg)
}

func withInput(err error, input string) error {
	if e, ok := err.(*Error); ok && e.Input == "" {
		c := *e
		c.Input = input
		return &c
	}
	return err
}

// ParseObject parses "type:id".
func ParseObject(s string) (ObjectRef, error) {
	typ, id, ok := strings.Cut(s, ":")
	if !ok {
		return ObjectRef{}, &Error{Part: "object", Msg: fmt.Sprintf("%q has no ':'; write type:id, e.g. dataset:claims", s)}
	}
	o := ObjectRef{Type: typ, ID: id}
	if err := validateObject("object", o, false); err != nil {
		return ObjectRef{}, err
	}
	return o, nil
}

// ParseSubject parses "type:id", "type:*" or "type:id#relation". The
// explicit "no relation" form "type:id#..." (SpiceDB's ellipsis) is the plain
// subject "type:id": it parses to an empty Relation, so it is stored, compared
// and printed as "type:id".
func ParseSubject(s string) (SubjectRef, error) {
	obj, rel, hasRel := strings.Cut(s, "#")
	if rel == Ellipsis {
		rel, hasRel = "", false
	}
	typ, id, ok := strings.Cut(obj, ":")
	if !ok {
		return SubjectRef{}, &Error{Part: "subject", Msg: fmt.Sprintf("%q has no ':'; write type:id, type:* or type:id#relation, e.g. team:ml#member", s)}
	}
	if hasRel && rel == "" {
		return SubjectRef{}, &Error{Part: "subject relation", Msg: fmt.Sprintf("%q ends with '#'; name the relation after it or drop the '#'", s)}
	}
	sub := SubjectRef{Type: typ, ID: id, Relation: rel}
	if err := ValidateSubject(sub); err != nil {
		return SubjectRef{}, err
	}
	return sub, nil
}

// MustParse parses a relationship and panics on error; for tests and examples.
func MustParse(s string) Relationship {
	r, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return r
}

// Parse parses a relationship in the syntax of the package comment.
func Parse(s string) (Relationship, error) {
	r, err := parse(s)
	if err != nil {
		return Relationship{}, withInput(err, s)
	}
	return r, nil
}

func parse(s string) (Relationship, error) {
	if strings.TrimSpace(s) != s {
		return Relationship{}, &Error{Part: "relationship", Msg: "leading or trailing white space; remove it"}
	}
	head, traits := s, ""
	if i := strings.IndexByte(s, '['); i >= 0 {
		head, traits = s[:i], s[i:]
	}
	res, rest, ok := strings.Cut(head, "#")
	if !ok {
		return Relationship{}, &Error{Part: "relation", Msg: "missing '#relation' after the resource; write type:id#relation@subject"}
	}
	rel, sub, ok := strings.Cut(rest, "@")
	if !ok {
		return Relationship{}, &Error{Part: "subject", Msg: "missing '@subject' after the relation; write type:id#relation@subject"}
	}
	var r Relationship
	var err error
	if r.Resource, err = ParseObject(res); err != nil {
		return Relationship{}, retag(err, "object", "resource")
	}
	if err := ValidateName(rel); err != nil {
		return Relationship{}, &Error{Part: "relation", Msg: err.Error()}
	}
	r.Relation = rel
	if r.Subject, err = ParseSubject(sub); err != nil {
		return Relationship{}, err
	}
	if err := parseTraits(traits, &r); err != nil {
		return Relationship{}, err
	}
	return r, nil
}

func retag(err error, from, to string) error {
	if e, ok := err.(*Error); ok {
		c := *e
		c.Part = strings.Replace(c.Part, from, to, 1)
		return &c
	}
	return err
}

// parseTraits parses the bracketed suffixes: at most one caveat, then at most
// one expiration.
func parseTraits(s string, r *Relationship) error {
	for s != "" {
		if s[0] != '[' {
			return &Error{Part: "traits", Msg: fmt.Sprintf("unexpected %q after the subject; expected [caveat] or [expiration:TIME]", s)}
		}
		body := s[1:]
		if strings.HasPrefix(body, "expiration:") {
			end := strings.IndexByte(body, ']')
			if end < 0 {
				return &Error{Part: "expiration", Msg: "missing ']' after the expiration time"}
			}
			if r.Expiration != nil {
				return &Error{Part: "expiration", Msg: "given twice; a relationship has at most one expiration"}
			}
			ts := body[len("expiration:"):end]
			t, err := time.Parse(time.RFC3339Nano, ts)
			if err != nil {
				return &Error{Part: "expiration", Msg: fmt.Sprintf("%q is not an RFC 3339 time such as 2027-01-01T00:00:00Z", ts)}
			}
			t = t.UTC()
			if t.Year() < 0 || t.Year() > 9999 {
				// RFC 3339 has four-digit years; such a time could not be
				// written back out.
				return &Error{Part: "expiration", Msg: fmt.Sprintf("%q is outside the years 0000 to 9999 in UTC", ts)}
			}
			r.Expiration = &t
			s = body[end+1:]
			continue
		}
		if r.Caveat != nil {
			return &Error{Part: "caveat", Msg: "given twice; a relationship has at most one caveat"}
		}
		if r.Expiration != nil {
			return &Error{Part: "caveat", Msg: "the caveat must come before the expiration"}
		}
		nameEnd := strings.IndexAny(body, ":]")
		if nameEnd < 0 {
			return &Error{Part: "caveat", Msg: "missing ']' after the caveat name"}
		}
		name := body[:nameEnd]
		if err := ValidateCaveatName(name); err != nil {
			return &Error{Part: "caveat", Msg: err.Error()}
		}
		cav := &Caveat{Name: name}
		rest := body[nameEnd:]
		if rest[0] == ':' {
			ctx, n, err := decodeContext(rest[1:])
			if err != nil {
				return err
			}
			cav.Context = ctx
			rest = rest[1+n:]
			if rest == "" || rest[0] != ']' {
				return &Error{Part: "caveat context", Msg: "missing ']' after the context JSON"}
			}
		}
		r.Caveat = cav
		s = rest[1:]
	}
	return nil
}

// decodeContext decodes one JSON object at the start of s and returns it with
// the number of bytes it took.
func decodeContext(s string) (map[string]any, int, error) {
	if s == "" || s[0] != '{' {
		return nil, 0, &Error{Part: "caveat context", Msg: "expected a JSON object after ':', e.g. [purpose_is:{\"purpose\":\"eval\"}]"}
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var ctx map[string]any
	if err := dec.Decode(&ctx); err != nil {
		return nil, 0, &Error{Part: "caveat context", Msg: "not valid JSON: " + err.Error()}
	}
	if err := checkNumbers(ctx); err != nil {
		return nil, 0, err
	}
	return NormalizeContext(ctx), int(dec.InputOffset()), nil
}

// ParseContext decodes a JSON object of caveat context. Integers are kept
// exact; every number gets its Go type by NormalizeContext's rule (a whole
// number that fits an int64 is an int64, however it is written).
func ParseContext(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var ctx map[string]any
	if err := dec.Decode(&ctx); err != nil {
		return nil, &Error{Part: "caveat context", Msg: "not a JSON object: " + err.Error()}
	}
	if dec.More() {
		return nil, &Error{Part: "caveat context", Msg: "unexpected data after the JSON object"}
	}
	if err := checkNumbers(ctx); err != nil {
		return nil, err
	}
	return NormalizeContext(ctx), nil
}

// checkNumbers rejects JSON numbers that do not fit a float64 (such as 1e400):
// they would become infinities that cannot be encoded back to JSON.
func checkNumbers(v any) error {
	switch x := v.(type) {
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return nil
		}
		if _, err := x.Float64(); err != nil {
			return &Error{Part: "caveat context", Msg: fmt.Sprintf("number %s is out of range", x)}
		}
	case map[string]any:
		for _, e := range x {
			if err := checkNumbers(e); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			if err := checkNumbers(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// NormalizeContext gives every number in ctx one Go type, recursively, so
// contexts compare, encode and evaluate the same way however they were
// decoded or built. The rule goes by value, not by spelling, because JSON
// has a single number type: a number whose value is a whole number that fits
// an int64 becomes int64 (1, 1.0, 1e3 and float64(1) alike); any other number
// becomes float64 (2.5, 1e20, 12345678901234567890). A caveat parameter of
// type any therefore sees 1.0 as an int, and FormatContext, which writes an
// int64 without a fraction and a float64 as Go's JSON encoder does, reads back
// to the same types. Other integer types become int64 and float32 becomes
// float64 by the same rule.
func NormalizeContext(ctx map[string]any) map[string]any {
	if ctx == nil {
		return nil
	}
	out := make(map[string]any, len(ctx))
	for k, v := range ctx {
		out[k] = normalizeValue(v)
	}
	return out
}

// normalizeFloat applies NormalizeContext's rule to one float.
func normalizeFloat(f float64) any {
	// -2^63 and 2^63 are exact as float64; int64 covers [-2^63, 2^63).
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return int64(f)
	}
	return f
}

func normalizeValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return normalizeFloat(f)
	case float64:
		return normalizeFloat(x)
	case float32:
		return normalizeFloat(float64(x))
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return float64(x)
		}
		return int64(x)
	case map[string]any:
		return NormalizeContext(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeValue(e)
		}
		return out
	}
	return v
}
