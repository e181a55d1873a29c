package alerts

import (
	"time"

	"github.com/trellis-authz/trellis/storage"
)

// Revision describes one committed revision of the change feed.
type Revision struct {
	Revision   uint64
	Kind       string // the command's kind: "write", "schema", ...
	SchemaHash string // for a schema change
	Token      string // the revision's consistency token
	Time       time.Time
	Principal  string
	Reason     string
	Audit      string // link to the revision's audit entry
	Changes    []storage.Change
}

// planRevision appends to plan what the rules of rs select in r: every
// relationship change a relationship rule matches, in change order, each
// with DeliveryID(rule, revision, change index), and a schema change for
// every schema rule (index 0).
func planRevision(rs RuleSet, r Revision, plan []planned) []planned {
	add := func(rule Rule, index int, ev Event) {
		plan = append(plan, planned{rule, DeliveryID(rule.Name, r.Revision, index), Payload{Rule: rule.Name, Audit: r.Audit, Event: ev}})
	}
	if r.Kind == "schema" {
		for _, rule := range rs.Rules {
			if rule.Schema {
				add(rule, 0, Event{Kind: KindSchema, SchemaHash: r.SchemaHash, Revision: r.Revision, Token: r.Token,
					Time: r.Time.UTC(), Principal: r.Principal, Reason: r.Reason})
			}
		}
	}
	for i, c := range r.Changes {
		for _, rule := range rs.Rules {
			if rule.Match != (Match{}) && rule.Match.Matches(c.Op, c.Relationship) {
				add(rule, i, NewEvent(c.Op, c.Relationship, r.Revision, r.Token, r.Time, r.Principal, r.Reason))
			}
		}
	}
	return plan
}
