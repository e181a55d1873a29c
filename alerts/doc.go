// Package alerts holds the first subset of issue 18's alert rules: rules
// over relationship changes, their validation against the schema in force,
// matching a change against a rule, and delivery of a signed JSON body to a
// webhook with bounded exponential backoff and jitter (docs/alerts.md).
//
// It depends on tuple and schema only. Storing rules in the cluster (raft
// command types 10 and 11, consensus/alerts.go), following the change feed
// on the leader and the replicated delivery cursor (server/alerts.go) live
// in the layers that own them.
package alerts
