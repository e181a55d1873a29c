package alertbench

import "github.com/trellis-authz/trellis/alerts"

// Options vary the rule set for the experiments of RESULTS.md; the zero
// value is the benchmark's set.
type Options struct {
	// Wide makes the matching relationship rules select ~13% of the write
	// mix instead of ~3% (every reader change in o3, reader deletes in o7's
	// projects p0–p3).
	Wide bool
	// NoTrace replaces the 5 through/caveat decision rules (each check they
	// select is re-answered with its explain trace) by 5 relationship rules
	// that match none of the writes: still 50 rules.
	NoTrace bool
	// Quiet keeps 5 through/caveat decision rules on the same checks (every
	// dataset read, the service accounts' model runs, the allowed
	// deployment approvals, field read_raw: each such check is evaluated
	// with the rules' watch) but names relations and caveats that never
	// decide them (a subtracted relation, a caveat no runner grant has), so
	// they deliver nothing: the cost of watching without the cost of
	// posting ~3,000 alerts a second.
	Quiet bool
}

// Rules is the 50-rule set of the benchmark, on the workload's schema
// (workload.SchemaText), every webhook at base (a receiver's URL) with a
// path per team. Of the workload's traffic:
//
//   - 38 relationship rules. Three match writes of the write pool
//     (dataset:oO-pP-dD#reader@user:oO-wN, touched then deleted): reader
//     changes in organization o3's projects p0 and p1 (~2.5% of writes),
//     reader deletes in o7's project p0 (~0.6%), and one user (o5-w17,
//     0.1%). The other 35 select changes the benchmark does not make, most
//     on the same type and relation with other ids, subjects, caveats or
//     operations, so every write is compared with all of them.
//   - 5 decision rules with through or caveat: two select every dataset
//     read check (each one is queued and re-answered with its explain trace
//     to be confirmed), one the service accounts' model runs, one the
//     allowed deployment approvals, one field read_raw (not in the traffic).
//   - 5 denials thresholds: service accounts > 20 denials a minute (crossed
//     by the traffic, which repeats its queries: one delivery per denied
//     service account a minute), the others above what the traffic reaches.
//   - 1 schema rule and 1 audit rule (the leader proposes its audit root
//     every 5 s while one exists).
func Rules(base, secret string, opt Options) alerts.RuleSet {
	hook := func(team string) alerts.Webhook { return alerts.Webhook{URL: base + "/" + team, Secret: secret} }
	var rs []alerts.Rule
	match := func(name, team string, m alerts.Match) {
		rs = append(rs, alerts.Rule{Name: name, Match: m, Webhook: hook(team)})
	}
	decision := func(name, team string, d alerts.DecisionMatch) {
		rs = append(rs, alerts.Rule{Name: name, Decision: &d, Webhook: hook(team)})
	}
	denials := func(name string, d alerts.DecisionMatch, count int, window string) {
		d.Denials = &alerts.Denials{Count: count, Window: window}
		decision(name, "security", d)
	}

	// Relationship rules that the write pool matches.
	o3, o7 := "o3-p[01]-*", "o7-p0-*"
	if opt.Wide {
		o3, o7 = "o3-*", "o7-p[0-3]-*"
	}
	match("o3-dataset-readers", "privacy", alerts.Match{ResourceType: "dataset", Relation: "reader", ResourceIDPattern: o3})
	match("o7-reader-removed", "privacy", alerts.Match{ResourceType: "dataset", Relation: "reader", Operation: "delete", ResourceIDPattern: o7})
	match("watched-user", "security", alerts.Match{SubjectType: "user", SubjectID: "o5-w17"})

	// Relationship rules on the written type and relation that match none of
	// its writes.
	for _, p := range []struct{ name, pattern string }{
		{"restricted-datasets", "*-restricted"}, {"prod-datasets", "prod-*"}, {"pii-datasets", "*-pii"},
		{"phi-datasets", "*phi*"}, {"o1x-datasets", "o1?-*"}, {"legacy-datasets", "legacy-*"},
		{"d99-datasets", "o*-p*-d99"}, {"p9-datasets", "o?-p9-*"},
	} {
		match(p.name, "privacy", alerts.Match{ResourceType: "dataset", Relation: "reader", ResourceIDPattern: p.pattern})
	}
	match("sa-dataset-readers", "security", alerts.Match{ResourceType: "dataset", Relation: "reader", SubjectType: "service_account"})
	match("team-dataset-readers", "privacy", alerts.Match{ResourceType: "dataset", Relation: "reader", SubjectType: "team"})
	match("purpose-grants", "privacy", alerts.Match{ResourceType: "dataset", Relation: "reader", Caveat: "purpose_is"})
	match("purpose-grant-revoked", "privacy", alerts.Match{ResourceType: "dataset", Relation: "reader", SubjectType: "user", Caveat: "purpose_is", Operation: "delete"})
	match("ghost-user", "security", alerts.Match{ResourceType: "dataset", Relation: "reader", SubjectID: "o3-w999"})

	// Relationship rules on other types and relations.
	for _, m := range []struct {
		name, team string
		m          alerts.Match
	}{
		{"stewards", "privacy", alerts.Match{ResourceType: "dataset", Relation: "steward"}},
		{"blocked", "security", alerts.Match{ResourceType: "dataset", Relation: "blocked"}},
		{"ssn-fields", "privacy", alerts.Match{ResourceType: "field", ResourceIDPattern: "*_ssn"}},
		{"raw-field-readers", "privacy", alerts.Match{ResourceType: "field", Relation: "raw_reader"}},
		{"masked-sa-readers", "privacy", alerts.Match{ResourceType: "field", Relation: "masked_reader", SubjectType: "service_account"}},
		{"model-runners", "ml", alerts.Match{ResourceType: "model", Relation: "runner", SubjectType: "service_account"}},
		{"model-owners", "ml", alerts.Match{ResourceType: "model", Relation: "owner"}},
		{"model-restrictions", "ml", alerts.Match{ResourceType: "model", Relation: "restricted"}},
		{"fine-tunes", "ml", alerts.Match{ResourceType: "model", Relation: "base"}},
		{"ml-owners", "ml", alerts.Match{ResourceType: "deployment", Relation: "ml_owner"}},
		{"risk-approvers", "security", alerts.Match{ResourceType: "deployment", Relation: "risk_approver"}},
		{"org-admins", "security", alerts.Match{ResourceType: "organization", Relation: "admin"}},
		{"org-sa-members", "security", alerts.Match{ResourceType: "organization", Relation: "member", SubjectType: "service_account"}},
		{"suspensions", "security", alerts.Match{ResourceType: "organization", Relation: "suspended"}},
		{"team-sa-members", "security", alerts.Match{ResourceType: "team", Relation: "member", SubjectType: "service_account"}},
		{"team-nesting", "platform", alerts.Match{ResourceType: "team", Relation: "member", SubjectType: "team"}},
		{"project-admins", "platform", alerts.Match{ResourceType: "project", Relation: "admin"}},
		{"project-sa-members", "security", alerts.Match{ResourceType: "project", Relation: "member", SubjectType: "service_account"}},
		{"sa-owners", "security", alerts.Match{ResourceType: "service_account", Relation: "owner"}},
		{"any-blocked", "security", alerts.Match{Relation: "blocked"}},
		{"any-purpose-grant", "privacy", alerts.Match{Caveat: "purpose_is"}},
		{"any-sa-grant", "security", alerts.Match{SubjectType: "service_account", Operation: "touch"}},
	} {
		match(m.name, m.team, m.m)
	}

	// Decision rules: a check answered through a relation or a caveat.
	if opt.Quiet {
		decision("blocked-read", "privacy", alerts.DecisionMatch{ResourceType: "dataset", Permission: "read", Through: "blocked"})
		decision("barred-read", "privacy", alerts.DecisionMatch{ResourceType: "dataset", Permission: "read", Through: "suspended"})
		decision("sa-purpose-run", "ml", alerts.DecisionMatch{ResourceType: "model", Permission: "run", SubjectType: "service_account", Caveat: "purpose_is"})
		decision("restricted-approval", "security", alerts.DecisionMatch{ResourceType: "deployment", Permission: "approve", Result: "allowed", Through: "restricted"})
		decision("raw-field-read", "privacy", alerts.DecisionMatch{ResourceType: "field", Permission: "read_raw", Through: "raw_reader"})
	} else if opt.NoTrace {
		for _, t := range []string{"deployment", "model", "project", "team", "organization"} {
			match("no-trace-"+t, "platform", alerts.Match{ResourceType: t, SubjectID: "o3-w999"})
		}
	} else {
		decision("steward-read", "privacy", alerts.DecisionMatch{ResourceType: "dataset", Permission: "read", Through: "steward"})
		decision("purpose-grant-used", "privacy", alerts.DecisionMatch{ResourceType: "dataset", Permission: "read", Caveat: "purpose_is"})
		decision("sa-model-run", "ml", alerts.DecisionMatch{ResourceType: "model", Permission: "run", SubjectType: "service_account", Through: "runner"})
		decision("risk-approval-used", "security", alerts.DecisionMatch{ResourceType: "deployment", Permission: "approve", Result: "allowed", Through: "risk_approver"})
		decision("raw-field-read", "privacy", alerts.DecisionMatch{ResourceType: "field", Permission: "read_raw", Through: "raw_reader"})
	}

	// Denials thresholds.
	denials("sa-denials", alerts.DecisionMatch{SubjectType: "service_account"}, 20, "1m")
	denials("user-denial-burst", alerts.DecisionMatch{SubjectType: "user"}, 5000, "10s")
	denials("dataset-denials", alerts.DecisionMatch{ResourceType: "dataset", Permission: "read"}, 100000, "1m")
	denials("deployment-denials", alerts.DecisionMatch{ResourceType: "deployment", Permission: "approve"}, 50000, "1m")
	denials("model-denials", alerts.DecisionMatch{ResourceType: "model"}, 50000, "30s")

	rs = append(rs,
		alerts.Rule{Name: "schema-changes", Schema: true, Webhook: hook("platform")},
		alerts.Rule{Name: "audit-disagreement", Audit: true, Webhook: hook("security")})
	return alerts.RuleSet{Rules: rs}
}
