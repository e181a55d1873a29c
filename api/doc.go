// Package api is the REST transport of Trellis (JSON over HTTP, echo):
// checks, expansions, lookups, relationship reads and writes, streamed
// import and export, the schema, watch, audit, cluster, health, metrics and
// the OpenAPI document. Each handler decodes the request into a package wire
// type, calls one method of package service (which validates it, resolves
// its consistency and calls the engine or consensus) and encodes the answer;
// the API adds authentication, the request deadline, body limits, admission
// (in-flight and stream slots), forwarding of writes to the leader, and the
// one mapping of errors to HTTP statuses.
//
// # Wiring
//
// Package server does this for a real node:
//
//	svc, err := service.New(cfg.Config, service.Deps{
//		Engine:    eng,                                        // *engine.Engine
//		Revisions: node,                                       // *consensus.Node
//		Snapshots: service.SnapshotsOf[*storage.Snapshot](store),
//		Writer:    service.ConsensusWriter(node),
//	})
//	srv, err := api.New(cfg, svc, api.NodeStatsFunc(node))
//	api.RegisterAudit(srv, service.NewAudit(auditLog, signer))
//	api.RegisterWatch(srv, service.NewWatch(store, srv.Services().Reads))
//	api.RegisterDecisions(srv, service.NewDecisionRecords(decisionLog.Feed(), nodeID)) // nil feed: no --decision-log
//	httpServer.Handler = srv.Handler()
//
// Later endpoints register with Server.Handle, which applies
// authentication, the deadline and the body limit, and adds them to the
// OpenAPI document. Another API's HTTP routes (SpiceDB's gateway, package
// spicedb) are mounted with Server.MountGateway; that package's gRPC
// transport shares this one's authentication, admission and error table
// (Authenticate, Admit, Penalize, ErrorBody) so every transport answers
// alike.
//
// # Consistency tokens
//
// A token ("zookie") is "t1." followed by the unpadded base64url encoding of
// the revision as a uvarint and the first 4 bytes of SHA-256 of the
// cluster's identity: the random UUID its first leader chose and replicated
// (before a node learns it, its --cluster-id name). It is opaque to clients.
// A token that does not decode, or that another deployment issued (even one
// with the same --cluster-id), is a 400 invalid_token. Every read answers with the token of the
// revision it read (checked_at, read_at, or the Trellis-Read-At header of an
// export); every write answers written_at.
//
// Reads take "consistency": "minimize_latency" (the default: this node's
// applied revision, quantized: reads share one revision for
// Config.Quantization, 100 ms by default, so they share the engine's cache),
// {"at_least_as_fresh": T} (wait, up to the
// request deadline, until this node has applied T, then read at its latest;
// 504 deadline_exceeded if it does not get there), {"at_exact_snapshot": T}
// (read exactly at T; 410 snapshot_expired below the garbage-collection
// horizon; a T ahead of the node waits as above) or "fully_consistent" (the
// leader's read index, then wait for it; 503 when there is no leader or
// quorum). GET routes take the same as query parameters: consistency=...,
// at_least_as_fresh=T or at_exact_snapshot=T.
//
// # Errors
//
// Every error answer is
//
//	{"error": {"code": "snake_case", "message": "what went wrong and how to fix it",
//	           "details": {...}, "request_id": "uuid"}}
//
// and the request id is also in the X-Request-Id response header (an incoming
// X-Request-Id that is a UUID is kept). The codes:
//
//	status  code                      when
//	400     invalid_json              the body is not JSON of the endpoint's shape (unknown field, wrong type, trailing data)
//	400     invalid_argument          a field breaks a rule (details.field names it): syntax of objects, subjects,
//	                                  relationships, filters, ops, limits, idempotency keys, duplicate updates
//	400     invalid_token             a consistency token does not decode or is from another cluster
//	400     token_from_the_future     a token names a revision the cluster has not committed (answered at once, no wait)
//	400     invalid_cursor            a page cursor is malformed or from another query
//	400     invalid_schema            the schema does not compile (details.errors: line, column, message)
//	400     subject_not_allowed       the relation does not allow that subject type, wildcard, caveat or expiration
//	400     schema_violation          the state machine's own schema check refused a relationship
//	400     invalid_context           caveat context is not an object, too large (4 KiB), or of the wrong parameter types
//	400     too_many_updates          more updates (and preconditions) than MaxUpdatesPerWrite, or bulk items over MaxBulkItems
//	400     limit_exceeded            a delete by filter matched more than its limit (nothing deleted)
//	400     depth_exceeded            a check needed more nested steps than the engine allows
//	400     caveat_evaluation_failed  a caveat failed to evaluate (cost limit, runtime error)
//	401     unauthenticated           no, malformed or unknown bearer token
//	403     permission_denied         the principal's role is not allowed on this route
//	404     unknown_type              a type (or caveat) is not in the schema
//	404     unknown_relation          a relation or permission is not in the schema
//	404     schema_not_found          no schema is stored yet
//	404     not_found                 no such route
//	404     decision_log_disabled     the node keeps no decision log (GET /v1/decisions...; start it with --decision-log FILE)
//	405     method_not_allowed        the route exists with another method
//	409     already_exists            a create named an existing relationship
//	409     member_conflict           a new member's id exists with other addresses, or its address is another member's
//	409     would_lose_quorum         removing the member would leave the voters without a reachable majority
//	409     unsafe_schema_change      a schema change drops a type, relation or allowed subject still in use (details.in_use)
//	409     idempotency_key_reused    an idempotency key was used before for a different request
//	410     snapshot_expired          at_exact_snapshot below the garbage-collection horizon
//	410     decisions_missed          a decision stream asked for (or fell behind to) records the node no longer keeps in memory
//	412     precondition_failed       a write's precondition did not hold (nothing written)
//	413     body_too_large            the body is over MaxBodyBytes (import: MaxImportBytes)
//	429     overloaded                more than MaxInFlight requests (or MaxStreams streams) at once
//	503     unavailable               no leader or quorum, node closed or halted
//	503     no_leader                 a follower knows no reachable leader to forward a write to (nothing was done; retry)
//	503     outcome_unknown           leadership was lost during a write: retry with the same idempotency_key
//	503     not_ready                 (readyz) no leader or no schema; a read while the node loads its --schema (Retry-After)
//	503     member_not_caught_up      a new member joined as a non-voter but has not caught up yet (add it again to promote it)
//	503     storage_failed            the leader could not write its raft log (a failing disk): outcome unknown, retry with the same idempotency_key
//	507     disk_full                 the leader's data directory is short of free space; nothing was written (Retry-After)
//	504     deadline_exceeded         the request deadline passed (waiting for a revision, a read index or a commit)
//	499     canceled                  the client closed the request before the answer (logged, rarely seen)
//	500     internal                  a server fault; never caused by input. Quote the request_id.
//
// # Authentication and roles
//
// Every /v1 route needs "Authorization: Bearer TOKEN". Tokens come from a token
// file (YAML, or JSON) that stores only their SHA-256:
//
//	tokens:
//	  - principal: ci-pipeline
//	    role: writer
//	    sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//
// GenerateToken makes a token and its hash; LoadTokenFile and WriteTokenFile
// read and write the file. A presented token is hashed and compared with every
// entry in constant time (crypto/subtle). Roles: reader (checks, expand,
// lookups, relationship reads and export, schema read and diff), writer
// (reader, plus relationship writes, deletes and imports) and admin (writer,
// plus schema changes and, later, cluster operations). The principal goes
// with every write into the replicated command, for the audit log. The mode
// "insecure-no-auth" must be chosen explicitly: every caller is then the admin
// principal "anonymous". /healthz, /readyz, /metrics and /openapi.json need no
// token.
//
// # Limits
//
// Config bounds the body (MaxBodyBytes, 4 MiB; imports stream and are bounded
// by MaxImportBytes), updates per write (1000), bulk items, page size, one
// relationship string (MaxRelationshipLen), caveat context (4 KiB), concurrent
// requests (MaxInFlight, 429), concurrent long-lived streams in a pool of
// their own (MaxStreams, 256, so watch and export streams cannot starve
// checks; 429), admin calls in a pool of their own (MaxAdminInFlight, 64),
// one principal's concurrent requests (MaxInFlightPerPrincipal, 256; 429)
// and, when set, its rate (RatePerPrincipal; 429 with Retry-After). Health,
// metrics and the OpenAPI document take no slot. Every request has a
// deadline (RequestTimeout, 10 s; 504), and waiting for a requested revision
// is bounded (MaxWait, 30 s; 504, also on streams) and only happens for a
// revision the cluster has committed: a token naming one it has not is a 400
// token_from_the_future at once.
//
// A delete by filter is one atomic write when it fits in one store
// transaction; a larger one is applied in atomic chunks of 2,000 (the answer
// has "chunks"), so a read between chunks sees part of it; retrying it is
// safe.
// Import and export are streamed and exempt from the deadline; each import
// chunk (ImportBatchSize relationships, one raft command, written with touch)
// has its own. An import is atomic per chunk, not as a whole: a bad line fails
// the request with details.imported and details.line, and earlier chunks stay
// written; with an idempotency_key, each chunk's key is derived from it, so
// retrying the whole import is safe. Chunks apply in line order; on the
// leader two are in flight at once, so when a chunk fails to commit, the one
// after it may already be written (details.applied_after_failure counts its
// relationships; importing again from details.line is safe, every line is a
// touch).
package api
