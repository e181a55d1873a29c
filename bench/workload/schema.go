package workload

// SchemaText is the schema of the generated workload, in the SpiceDB schema
// language (docs/SCHEMA.md). The evaluator in eval.go implements exactly
// these permissions; change both together.
const SchemaText = `use expiration

/** purpose_is lets a grant hold only for the purposes it lists. */
caveat purpose_is(purpose string, allowed list<string>) {
  purpose in allowed
}

/** A person. */
definition user {}

/** A non-human identity used by pipelines and serving jobs. */
definition service_account {
  relation owner: user
}

definition organization {
  relation admin: user
  relation member: user | service_account | team#member
  /** Suspended identities lose access to every dataset of the organization. */
  relation suspended: user | service_account
  permission administer = admin
}

/** Teams nest: a team's members include the members of its member teams. */
definition team {
  relation org: organization
  relation member: user | service_account | team#member
}

definition project {
  relation org: organization
  relation admin: user | team#member
  relation member: user | service_account | team#member
  permission manage = admin + org->administer
  permission view = member + manage
  permission barred = org->suspended
}

definition dataset {
  relation project: project
  relation steward: user
  relation reader: user | service_account | team#member | user with purpose_is | team#member with purpose_is | user with expiration | service_account with expiration
  relation blocked: user | service_account
  permission read = (reader + steward + project->manage) - (blocked + project->barred)
  permission curate = steward & project->view
}

/** A column of a dataset; raw readers see it in clear, masked readers masked. */
definition field {
  relation dataset: dataset
  relation raw_reader: user | team#member | user with expiration
  relation masked_reader: user | service_account | team#member
  permission read_raw = raw_reader & dataset->read
  permission read_masked = (masked_reader + raw_reader) & dataset->read
}

/** A model; a fine-tuned model names its base and inherits its restrictions. */
definition model {
  relation project: project
  relation base: model
  relation owner: user | team#member
  relation runner: user | service_account | team#member | service_account with expiration
  relation restricted: user | service_account
  permission restricted_lineage = restricted + base->restricted_lineage
  permission run = (runner + owner + project->manage) - restricted_lineage
}

/** Approving a deployment needs an ML owner who is also a risk approver. */
definition deployment {
  relation model: model
  relation ml_owner: user | team#member
  relation risk_approver: user | team#member
  permission approve = (ml_owner + model->owner) & risk_approver
}
`
