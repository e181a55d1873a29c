// Command inference-gateway is a model-serving stand-in guarded by Trellis
// through package pep: before a prediction runs, the caller must have "run"
// on the model and "read" on the dataset the prediction uses, for the
// purpose it declares. It uses the AI-governance example
// (examples/ai-governance/schema.zed).
//
// Try it against a local cluster:
//
//	trellis dev --insecure-no-auth &
//	go run ./examples/inference-gateway --trellis http://127.0.0.1:8181 &
//	curl -X POST -H 'X-Caller: user:ana' -H 'X-Purpose: fraud-model' \
//	  'http://127.0.0.1:9000/models/fraud_ft/predict?dataset=claims' -d '{"amount": 420}'
//
// A denial is a 403 with a JSON error (permission_denied, missing_context
// naming the caveat parameters the request lacked, or decision_failed when
// Trellis could not be asked) and the decision id in the
// Trellis-Decision-Id header.
package main
