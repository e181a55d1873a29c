// Command rag is the retrieval step of a RAG pipeline that shows each user
// only what Trellis lets them read: a vector search over a small in-memory
// index finds candidates, and a pep.Filter keeps those the user may read
// before anything reaches the prompt.
//
// Try it against a local cluster loaded with the example's schema and data:
//
//	trellis dev --insecure-no-auth --schema examples/rag/schema.zed --relationships examples/rag/relationships.txt &
//	go run ./examples/rag --trellis http://127.0.0.1:8181 --user user:ana --query 'chargeback merchant report'
//	go run ./examples/rag --trellis http://127.0.0.1:8181 --user user:ben --query 'chargeback merchant report'
//
// ana (fraud team) gets fraud notes; ben (churn team) gets none of them.
package main
