// Command training-job is a training-job stand-in that asks Trellis, through
// package pep, for "train" on every dataset it is about to learn from, and
// keeps the job's reason with each decision. It uses the AI-governance
// example (examples/ai-governance/schema.zed), where
//
//	permission train = (trainer + steward) - denied
//
// and machine trainers are purpose-bound (caveat purpose_is).
//
// Where the reason goes. A Trellis check has no reason field: reasons are
// part of writes (the audit log's "reason"), and the decision log (trellis
// serve --decision-log FILE) records for each check who asked, what, the
// answer, the token and the request id. The PEP sends its decision id as the
// request id, so the job writes its own decision record — one JSON line per
// dataset with the job, its reason, the purpose, the answer and the decision
// id — and the decision id joins each line to Trellis's hash-chained record
// of the same check. The job asks with the cache off, so every decision is a
// check of its own in the decision log (a cached answer would carry the id
// of an earlier check).
//
// Try it against a local cluster:
//
//	trellis dev --insecure-no-auth &
//	go run ./examples/training-job --trellis http://127.0.0.1:8181 \
//	  --subject service_account:trainer_bot --purpose fraud-model \
//	  --reason 'weekly retrain of the fraud model, ticket ML-1207' --datasets claims
package main
