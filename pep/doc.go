// Package pep is the policy enforcement point of Trellis: the library a
// service links to decide, at every request, whether a subject may do
// something — fast (a local cache), current (the cache follows the watch
// stream) and failing closed.
//
// It depends on the wire types, package tuple, the schema parser
// (schema/syntax, standard library only), the Prometheus client and
// OpenTelemetry's trace API. The echo middleware and the gRPC interceptors
// are in the sub-packages pepecho and pepgrpc, so that a service links only
// the framework it uses.
//
// # Deciding
//
// Client.Decide(ctx, Question) answers from the cache when it may, and
// otherwise asks Trellis (POST /v1/check) with a decision id of its own (a
// UUID sent as X-Request-Id, so it is the request id of Trellis's decision
// log), a timeout (Config.Timeout), a span (trellis.check) and the caller's
// W3C trace context in the request headers (Config.Propagator).
// Middleware (net/http), pepecho.Middleware and the pepgrpc interceptors map
// a request to a question with a function the service gives, and let only an
// allow through.
//
// # Failing closed
//
//   - Allowed is true only for an "allowed" answer of Trellis, fresh or
//     cached. Every error is returned with a denial: a malformed question
//     (nothing is asked), a timeout, a transport error, an error status, an
//     answer that is not exactly one Trellis gives (an unknown result, no
//     checked_at, a conditional answer without missing parameters, a body
//     that does not decode or exceeds 1 MiB).
//   - A conditional answer is a denial; Decision.Missing names the context
//     parameters Trellis lacked, and the middleware says so (code
//     missing_context).
//   - A middleware answers every non-allow, errors of its mapping function
//     included, with 403 (gRPC: PermissionDenied) carrying the decision id
//     (header Trellis-Decision-Id, gRPC metadata trellis-decision-id).
//   - Nothing but a well-formed answer of a check is cached, and the cache
//     answers only while its watch stream is up (below).
//
// # The cache and why it is correct
//
// An entry is the answer to one question: resource, permission, subject and
// context (canonicalized, so that contexts that are the same JSON are the
// same key), with the revision r it was checked at (its checked_at). It is
// served until the earliest of: an eviction, Config.MaxStaleness after it was
// cached, and the answer's expires_at (the first expiring grant on its path).
//
// The claim: a served entry answered at revision r is not contradicted by
// any change the watch stream has delivered. That is, its staleness is at
// most the watch's delivery lag (milliseconds; see bench/RESULTS.md), and
// never the length of an outage.
//
//   - Evictions. The watch stream (GET /v1/watch, all types) delivers every
//     revision with relationship changes, in order. For a change to a
//     relationship of relation T#R, every cached question whose permission
//     can reach T#R is evicted: reachability is computed from the schema
//     text, conservatively (a permission reaches what its expression names; an
//     arrow rel->p reaches rel and p on every type rel allows; a relation
//     reaches each subject set T#m it allows; whatever the operator, since a
//     change under an exclusion can flip an answer either way). A change to a
//     relation the schema does not know, or a schema this package cannot
//     read, evicts everything.
//   - No stale insertions. An answer checked at r is cached only when r is at
//     least the floor, the revision of the last event whose evictions have
//     started; the watch raises the floor before evicting, and insertion
//     checks it under the lock of the entry's group, which eviction takes too.
//     So an answer older than an applied change never enters, and every
//     change after r is still to be delivered and will evict it. Uncached
//     checks ask {"at_least_as_fresh": newest token known}, so their answers
//     are at least as new as the floor and usually cacheable.
//   - Outages. When the stream fails (an error, the server closing it, no
//     byte for Config.WatchSilence — Trellis heartbeats every 15 s), the
//     cache stops answering at once and every decision asks Trellis, with
//     fully_consistent (the PEP cannot know what changed). The watch
//     resubscribes from its last token (Last-Event-ID), so the changes it
//     missed are replayed and evict what they affect. Before resubscribing
//     it reads the schema fully consistently; that read's revision is the
//     catch-up target: entries checked before it are not served until the
//     replay has passed it (entries checked at or after it may be, like any
//     entry in normal operation). When the feed no longer holds the last
//     token (410), the cache is emptied and the watch starts from the read.
//   - Token hand-off. WithAtLeastAsFresh(ctx, token) — typically the
//     written_at of the service's own write — makes the cache answer only
//     when the watch has applied every event up to that revision (seen, raised
//     after the evictions); otherwise the decision asks Trellis with
//     at_least_as_fresh. A token the PEP cannot read, or of another cluster,
//     always goes to Trellis.
//   - Schema changes are not in the watch stream. The schema is read every
//     Config.SchemaInterval, and at once when the stream skips revisions (a
//     schema write is a revision without relationship changes) or names a
//     relation the schema lacks. A new schema empties the cache, and only
//     answers checked at or after the read that found it are cached. So a
//     schema change reaches the cache within SchemaInterval (not the watch's
//     lag); if no schema read succeeds for three intervals, the cache stops
//     answering.
//   - Time. Expiring relationships produce no event. An allow is kept no
//     longer than its expires_at; a denial that an expiring exclusion would
//     turn into an allow is kept at most MaxStaleness (a stale denial, the
//     closed side).
//
// Cached decisions share their Decision (Missing included) and carry the
// decision id of the check whose answer they reuse; Cached tells them apart.
// The cached path takes no lock but a group's read lock and allocates
// nothing.
//
// # Plans and retrieval filtering
//
// ApplyPlan applies a POST /v1/plan answer to a record (the first tier kept,
// lower tiers through the caller's mask, everything else dropped). Filter
// keeps, of a list of candidate documents, those a subject may read (RAG,
// vector search): it lists the allowed set with LookupResources when it is
// known to be small and checks the candidates with a bulk check otherwise,
// all at one token; conditional answers and every error yield nothing
// (Filter.Apply documents the rule).
//
// # Metrics
//
// On Config.Registerer: trellis_pep_decisions_total{result},
// trellis_pep_cache_hits_total, trellis_pep_cache_misses_total{reason},
// trellis_pep_cache_evictions_total{reason},
// trellis_pep_decision_duration_seconds{source}, trellis_pep_watch_connected
// and trellis_pep_cache_entries.
package pep
