package alerts

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"

	"github.com/trellis-authz/trellis/schema"
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

// Rule tells a webhook about the events it selects. A rule has exactly one
// kind: Match (relationship changes), Schema (schema changes), Decision
// (checks answered through a relation or caveat, or a burst of denials) or
// Audit (a node whose audit root disagrees with the leader's).
type Rule struct {
	Name     string         `json:"name"`
	Match    Match          `json:"match,omitzero"`
	Schema   bool           `json:"schema,omitempty"`
	Decision *DecisionMatch `json:"decision,omitempty"`
	Audit    bool           `json:"audit,omitempty"`
	// Action "suspend" (Decision.Denials rules only) suspends the subject
	// whose denials crossed the threshold, then delivers the alert.
	Action string `json:"action,omitempty"`
	// Log also writes each event to the delivering node's log.
	Log     bool    `json:"log,omitempty"`
	Webhook Webhook `json:"webhook"`
}

// Kinds of rule, as Rule.Kind names them.
const (
	KindRelationship = "relationship"
	KindSchema       = "schema"
	KindDecision     = "decision"
	KindDenials      = "denials"
	KindAudit        = "audit"
	// KindGap is not a rule's kind but an event's: the feed lost revisions
	// before their alerts went out, told to every rule that follows it.
	KindGap = "gap"
)

// FollowsFeed reports whether any rule of rs selects what the change feed
// carries (relationship changes, schema changes): the leader's loop then
// follows the feed from the replicated cursor, and the feed is held there.
func (rs RuleSet) FollowsFeed() bool {
	for _, r := range rs.Rules {
		if k := r.Kind(); k == KindRelationship || k == KindSchema {
			return true
		}
	}
	return false
}

// Kind names what the rule selects; "" when it selects nothing or more
// than one kind (Validate refuses both).
func (r Rule) Kind() string {
	var kinds []string
	if r.Match != (Match{}) {
		kinds = append(kinds, KindRelationship)
	}
	if r.Schema {
		kinds = append(kinds, KindSchema)
	}
	if r.Decision != nil {
		if r.Decision.Denials != nil {
			kinds = append(kinds, KindDenials)
		} else {
			kinds = append(kinds, KindDecision)
		}
	}
	if r.Audit {
		kinds = append(kinds, KindAudit)
	}
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
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
		if err := validateKind(at, r, sch); err != nil {
			return err
		}
		if err := validateWebhook(at+".webhook", r.Webhook); err != nil {
			return err
		}
	}
	return nil
}

// validateKind checks that r selects exactly one kind of event, and that
// kind's fields.
func validateKind(at string, r Rule, sch *schema.Schema) error {
	k := r.Kind()
	if k == "" {
		return errf(at, "a rule selects exactly one kind of event: give one of match (relationship changes), schema: true, decision, or audit: true")
	}
	if r.Action != "" && (r.Action != "suspend" || k != KindDenials) {
		return errf(at+".action", "unknown action %q; the only action is \"suspend\", on a decision rule with denials", r.Action)
	}
	switch k {
	case KindRelationship:
		return validateMatch(at+".match", r.Match, sch)
	case KindDecision, KindDenials:
		return validateDecision(at+".decision", *r.Decision, sch)
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
	return knownSubjectAndCaveat(sch, at, m.SubjectType, m.Caveat)
}

// knownSubjectAndCaveat checks a match's subject type and caveat name (either
// may be empty: any) against the schema.
func knownSubjectAndCaveat(sch *schema.Schema, at, subjectType, caveat string) error {
	if subjectType != "" && sch.Definitions[subjectType] == nil {
		return errf(at+".subject_type", "type %q is not in the schema", subjectType)
	}
	if caveat != "" && sch.Caveats[caveat] == nil {
		return errf(at+".caveat", "caveat %q is not in the schema", caveat)
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
