// Package engine answers authorization queries over a relationship graph at
// one revision: Check (and CheckBulk), Expand, LookupResources and
// LookupSubjects. It reads the compiled schema (package schema) and the store
// through the small Reader interface it declares; it never imports storage.
//
// # Check
//
// A check asks whether subject S has relation-or-permission R on object O. It
// is evaluated top-down as a tree of sub-problems (O, R, S); S is the same in
// every sub-problem of a check.
//
//   - A relation is looked up directly: the exact relationship O#R@S, then the
//     wildcard O#R@T:* (when S is a plain object of type T and R allows T:*),
//     then every subject set O#R@X#r of a type R allows, each a sub-problem
//     (X, r, S) joined with the caveat of the relationship that named it.
//   - A permission evaluates its expression: union (+), intersection (&),
//     exclusion (-), references to other relations or permissions of O,
//     arrows and nil.
//   - An arrow rel->p (or rel.any(p)) is the union, over the objects X that
//     O#rel points at, of (X, p, S) joined with the link's caveat. Wildcard
//     links are skipped, and so are targets whose type has no p. rel.all(p)
//     holds when the set is not empty and every link holds: the intersection
//     over the links of (X, p, S) joined with the link's caveat. As in
//     SpiceDB, a link whose caveat is false fails the all (it does not drop
//     out of the set), and one whose caveat lacks context makes it
//     conditional.
//   - A subject set S = X#r has r on X itself (a set contains itself), so
//     asking about team:ml#member finds relationships that name exactly that
//     set, and arrows that lead to team:ml.
//
// Expired relationships (judged by Config.Clock) count as absent, whether or
// not the Reader hides them.
//
// # Nested-group index
//
// When the Reader also implements GroupIndex (storage.Snapshot does; ADR
// 0010), a relation that allows subject sets is checked for a plain subject
// without walking the groups below it: after the exact and wildcard reads,
// one read tells whether the set holds any subject set (if not, those reads
// decide) and whether the index keeps its closure (it does for sets that are
// members of some set, such as team#member; from a set nothing holds, such
// as dataset:d#reader, the walk takes the one step to the sets it holds).
// Then the subject's own relationships (and its type's wildcard's) are read
// once per query, and each is kept when its subject set lies inside the
// relation at some depth, which the index tells with one read. Each kept
// relationship contributes its caveat. The walk answers instead (counted by GroupIndexStats) when a kept
// set is reached only through caveated or expiring relationships and
// nothing allowed, when the relation's subject sets can reach a permission
// (its expression is not in the index) and nothing allowed, and for a
// subject named by more than 64 relationships. The answer is the walk's:
// TestGroupIndexDifferential compares them at every revision of random
// graphs. The index assumes stored subject sets are of types the schema
// allows (writes and schema changes are validated against it).
//
// A query keeps what it read of its subject (subjectreads.go): its
// relationships, once the index path needs them, answer later point reads
// naming it; after two groups asked about one by one, every group it is
// in at any depth is read at once, and a relation holding several teams is
// answered in one pass. An arrow whose target can hold only through plain
// relations the subject has no relationship of is denied without reading
// its links (impossible.go).
//
// # Three-valued logic
//
// Results are Allowed (A), Denied (D) or Conditional (C, a caveat lacks
// context). Caveats evaluate to A, D or C; a relationship's context
// overrides the request's for the same parameter. The operators are Kleene's:
//
//	union   | A C D     intersection | A C D     exclusion base-sub | sub A C D
//	--------+------     -------------+------     -------------------+------
//	A       | A A A     A            | A C D     base A             |   D C A
//	C       | A C C     C            | C C D     base C             |   D C C
//	D       | A C D     D            | D D D     base D             |   D D D
//
// A conditional result names the missing parameters of every conditional
// operand that could change it (sorted, unique). ExpiresAt is the earliest
// expiration on the path that decided the result: the answer may change then.
//
// # Concurrency and cancellation
//
// The operands of a union or intersection, the subject sets of a relation
// and the targets of an arrow are branches. Fewer than
// Config.ParallelBranches (4 by default) run in line, in order, stopping at
// the first decisive one: a goroutine costs more than the branches of a
// typical expression. Wider fan-outs run branches in extra goroutines
// while the query holds concurrency tokens (Config.Concurrency bounds them
// per check) and in line otherwise, so fan-out is bounded and never blocks
// waiting for a token. The first branch with a decisive result (A for a
// union, D for an intersection or .all()) settles the answer and cancels its
// siblings' context; the caller still waits for every goroutine it started.
// A decisive result wins over an error in a sibling; an error is returned
// only when nothing decided.
//
// # Depth and cycles
//
// Every step from one sub-problem to another adds one to the depth; beyond
// Config.MaxDepth the check fails with ErrDepthExceeded. Cycles in data never
// get that far: the evaluator carries the path of (object, relation) pairs it
// is inside, and a sub-problem met again on its own path is cut.
//
// A cycle through unions, intersections and arrows (nested groups, say) is
// cut as denied, since such a cycle cannot add a grant a shorter path lacks;
// results that depended on a cut are not cached, because they are only valid
// on that path.
//
// A cycle that enters the subtracted side of an exclusion (view = viewer -
// blocked, where blocked leads back to view) is different: the sub-problem
// would depend on its own complement, and cutting it as denied would turn
// into a wrong allow. Such a cut fails with ErrCycle (which wraps
// ErrDepthExceeded). Like any error it is an unknown value that a decisive
// sibling overrides: allowed wins a union, denied an intersection or
// .all(), and an allowed subtracted side denies an exclusion whatever its
// base. So a question whose answer does not depend on the cycle is still
// answered, and one that does (doc:a#view = not doc:b#view, doc:b#view =
// doc:a#view) fails whatever the order of evaluation. .all() negates
// nothing, so it needs no such rule. A definite answer never depends on evaluation order,
// concurrency or the cache; whether a question that touches such a cycle
// fails can, in rare cases, depend on the cache (a cached sub-result may
// decide it without walking the cycle), and then the answer it gets is the
// right one.
//
// # Caching
//
// Sub-problem results are cached by (object, relation, subject, digest of the
// request context) in a size-bounded two-generation map (Config.CacheEntries;
// 0 disables it). Without Config.Changes the revision is part of the key, so a
// result serves its own revision only. With a change index (how trellis serve
// runs) each result records the revision it was computed at and what its
// evaluation read, its own reads and those of every sub-problem below it: exact
// relationships, the subject sets of a relation, all subjects of a relation
// (arrows); it then serves any revision at which none of those changed since
// (see Changes). A result that used facts of a LookupResources reverse walk,
// or that read more than 256 things, serves its own revision only. The request context is first
// normalized (tuple.NormalizeContext: a whole number that fits an int64 is an
// int64, however it was written; other numbers are float64), so a caveat sees
// {"n":1} and {"n":1.0} alike; the digest is the SHA-256 of a type-tagged,
// length-prefixed encoding with sorted keys, so contexts a caveat can tell
// apart never share an entry and a caller cannot aim for a collision. A
// context nested deeper than 64 levels bypasses the cache. A result that
// depends on an expiring relationship is stored with its expiry and is a miss
// from then on. CheckBulk and the lookups additionally share sub-problems
// inside one call through a private memo, so a bulk over many resources that
// reach the same groups evaluates each group once, cache or not.
//
// # Explain
//
// With CheckRequest.Explain the result carries a Trace: one "check" node per
// sub-problem with its result, "relation" nodes listing the relationships
// that granted, "caveat" nodes with the caveat's name and expression, the
// operator nodes, and Cached set where the cache answered. An explained
// question evaluates its branches one after another, in schema order, so the
// same question at the same revision always gets the same trace.
//
// # Expand
//
// Expand returns the permission's expression tree with relations replaced by
// leaves listing their direct subjects (subject sets are listed, not
// followed) and arrows by "union" (or "all") nodes over their targets, each
// target carrying the link that led to it in Via.
//
// # Lookups
//
// LookupResources walks the reverse index from the subject: seeds are the
// relationships that name the subject (or its type's wildcard; a subject set
// seeds itself), and each fact "object o has r" implies others through a
// graph precomputed from the schema — permissions that use r, relations that
// allow o's type#r as a subject set, arrows whose computed relation is r.
// Intersections and exclusions are treated as unions there, so the walk
// yields a superset, and every candidate is confirmed with Check: results
// agree with Check by construction. The walk also speeds the confirmations
// up: a relation it reached only through uncaveated relationships certainly
// holds, and a relation without subject-set types that it did not reach
// certainly does not, so Check answers those without reading the store.
// Candidates are sorted by ID, so pages
// are stable; cursors carry a fingerprint of the query and the last ID.
// LookupSubjects walks forward from the resource through relations, subject
// sets and arrows (both sides of exclusions) and confirms each candidate the
// same way; a wildcard is reported as "*" with the subjects it does not
// cover in Excluded. The forward walk is breadth first over a queue and
// counts steps as Check does: a node first reached beyond Config.MaxDepth
// fails the lookup with ErrDepthExceeded. The reverse walk is a queue too,
// and Expand's recursion is bounded by MaxDepth, so no walk's recursion
// depth follows the data.
//
// # Suspensions
//
// A Reader that implements Suspensions (storage.Snapshot does) gives the
// suspended subjects at its revision (docs/suspension.md). Every query reads
// them first: a suspended request subject is denied at the root, before the
// cache, with a "suspended" explain node; a suspended subject set is empty
// at every depth, and while one is in force the query uses neither the cache
// nor the nested-group index nor the lookup walk's facts. LookupResources
// for a suspended subject returns nothing; LookupSubjects leaves suspended
// subjects out and adds them to a wildcard's Excluded; Expand leaves them
// out of leaves and marks a suspended set "suspended". SuspendedDenials
// counts the denials.
package engine
