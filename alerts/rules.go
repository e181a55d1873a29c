package alerts

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"

	"github.com/trellis-authz/trellis/schema"
	"github.com/trellis-authz/trellis/tuple"
)

// Limits on a rule set.
const (
	MaxRules     = 200
	MaxBodyBytes = 256 << 10
	maxName      = 128
	maxSecret    = 1024
)

// SecretSet replaces a webhook secret in everything shown to a caller or
// written to the audit log.
const SecretSet = "set"

// RuleSet is the whole set of alert rules, as PUT /v1/alerts takes it.
type RuleSet struct {
	Rules []Rule `json:"rules"`
}

// Rule tells a webhook about every relationship change its Match selects.
type Rule struct {
	Name    string  `json:"name"`
	Match   Match   `json:"match"`
	Webhook Webhook `json:"webhook"`
}

// Match selects relationship changes; an empty field matches anything.
// Operation is touch, create or delete; the change feed records a create as
// a touch, so create matches touches.
type Match struct {
	ResourceType      string `json:"resource_type,omitempty"`
	Relation          string `json:"relation,omitempty"`
	SubjectType       string `json:"subject_type,omitempty"`
	SubjectID         string `json:"subject_id,omitempty"`
	Caveat            string `json:"caveat,omitempty"`
	Operation         string `json:"operation,omitempty"`
	ResourceIDPattern string `json:"resource_id_pattern,omitempty"`
}

// Webhook is where a rule's deliveries go, and the HMAC key that signs them.
type Webhook struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

// Error is a rule set refused: Field says where (rules[2].match.relation),
// Msg what is wrong and how to fix it.
type Error struct {
	Field string
	Msg   string
}

func (e *Error) Error() string { return e.Field + ": " + e.Msg }

func errf(field, format string, args ...any) error {
	return &Error{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks every rule of rs against sch (nil: names are not checked
// against a schema). The first problem is returned as an *Error.
func Validate(rs RuleSet, sch *schema.Schema) error {
	if len(rs.Rules) > MaxRules {
		return errf("rules", "%d rules; the limit is %d", len(rs.Rules), MaxRules)
	}
	if b, _ := json.Marshal(rs); len(b) > MaxBodyBytes {
		return errf("rules", "the rule set is %d bytes of JSON; the limit is %d", len(b), MaxBodyBytes)
	}
	seen := map[string]bool{}
	for i, r := range rs.Rules {
		at := fmt.Sprintf("rules[%d]", i)
		if r.Name == "" || len(r.Name) > maxName {
			return errf(at+".name", "a rule needs a name of 1 to %d bytes", maxName)
		}
		if seen[r.Name] {
			return errf(at+".name", "rule name %q is used twice; names must be unique", r.Name)
		}
		seen[r.Name] = true
		if err := validateMatch(at+".match", r.Match, sch); err != nil {
			return err
		}
		if err := validateWebhook(at+".webhook", r.Webhook); err != nil {
			return err
		}
	}
	return nil
}

func validateMatch(at string, m Match, sch *schema.Schema) error {
	switch m.Operation {
	case "", "touch", "create", "delete":
	default:
		return errf(at+".operation", "unknown operation %q; use touch, create or delete, or leave it out for any", m.Operation)
	}
	if m.ResourceIDPattern != "" {
		if _, err := path.Match(m.ResourceIDPattern, ""); err != nil {
			return errf(at+".resource_id_pattern", "malformed glob %q (%v); use * and ? such as *_ssn", m.ResourceIDPattern, err)
		}
	}
	if m == (Match{}) {
		return errf(at, "the match is empty and would select every change; give at least one field")
	}
	if sch == nil {
		return nil
	}
	if m.ResourceType != "" {
		d, ok := sch.Definitions[m.ResourceType]
		if !ok {
			return errf(at+".resource_type", "type %q is not in the schema", m.ResourceType)
		}
		if m.Relation != "" && d.Relations[m.Relation] == nil {
			return errf(at+".relation", "type %q has no relation %q", m.ResourceType, m.Relation)
		}
	} else if m.Relation != "" && !anyRelation(sch, m.Relation) {
		return errf(at+".relation", "no type of the schema has a relation %q", m.Relation)
	}
	if m.SubjectType != "" && sch.Definitions[m.SubjectType] == nil {
		return errf(at+".subject_type", "type %q is not in the schema", m.SubjectType)
	}
	if m.Caveat != "" && sch.Caveats[m.Caveat] == nil {
		return errf(at+".caveat", "caveat %q is not in the schema", m.Caveat)
	}
	return nil
}

func anyRelation(sch *schema.Schema, rel string) bool {
	for _, d := range sch.Definitions {
		if d.Relations[rel] != nil {
			return true
		}
	}
	return false
}

func validateWebhook(at string, w Webhook) error {
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errf(at+".url", "%q is not an http:// or https:// URL with a host", w.URL)
	}
	if w.Secret == "" || w.Secret == SecretSet {
		return errf(at+".secret", "a webhook needs a secret (the HMAC key of Trellis-Signature), other than %q", SecretSet)
	}
	if len(w.Secret) > maxSecret {
		return errf(at+".secret", "secret is %d bytes; the limit is %d", len(w.Secret), maxSecret)
	}
	return nil
}

// Redacted returns rs with every secret replaced by SecretSet: what GET
// /v1/alerts returns and what the audit entry records.
func Redacted(rs RuleSet) RuleSet {
	out := RuleSet{Rules: make([]Rule, len(rs.Rules))}
	for i, r := range rs.Rules {
		r.Webhook.Secret = SecretSet
		out.Rules[i] = r
	}
	return out
}

// Matches reports whether the change (op, rel) is selected by m.
func (m Match) Matches(op tuple.Op, rel tuple.Relationship) bool {
	switch m.Operation {
	case "delete":
		if op != tuple.OpDelete {
			return false
		}
	case "touch", "create":
		if op == tuple.OpDelete {
			return false
		}
	}
	if m.ResourceType != "" && m.ResourceType != rel.Resource.Type ||
		m.Relation != "" && m.Relation != rel.Relation ||
		m.SubjectType != "" && m.SubjectType != rel.Subject.Type ||
		m.SubjectID != "" && m.SubjectID != rel.Subject.ID {
		return false
	}
	if m.Caveat != "" && (rel.Caveat == nil || rel.Caveat.Name != m.Caveat) {
		return false
	}
	if m.ResourceIDPattern != "" {
		ok, _ := path.Match(m.ResourceIDPattern, rel.Resource.ID)
		if !ok {
			return false
		}
	}
	return true
}
