// Package consensus replicates Trellis writes with hashicorp/raft: the log and
// stable store are hashicorp/raft-wal segment files (DataDir/raft-wal; a
// directory made before the WAL keeps raft-boltdb's DataDir/raft.db, see
// Config.LogStore), snapshots are raft file
// snapshots (DataDir/snapshots), the transport is TCP (TLS when Config.TLS is
// set). Every write goes through raft, even on a single node (a one-voter
// cluster), so there is one code path and one meaning of "revision".
//
// # Commands
//
// A log entry is one type byte followed by the JSON encoding of a struct:
//
//	1 noop     {"meta"}                                   barrier; changes nothing
//	2 write    {"meta","updates":[{"op","rel"}],"preconditions":[{"op","filter"}]}
//	3 delete   {"meta","filter","limit","preconditions"}
//	4 import   {"meta","rels":[...]}                      touch each relationship
//	5 schema   {"meta","text"}
//	6 member   {"meta","id","raft_addr","api_addr","remove"}  a member's API address
//	7 anchor   {"meta","node","size","head"}              a decision-chain head
//	8 cluster  {"meta","id"}                              the cluster's random id (first one wins)
//
// meta is {"principal","reason","request_id","idempotency_key","time"}.
// Relationships travel in their canonical string form (tuple.Relationship
// String: caveat context with sorted keys, expiration in RFC 3339 UTC), ops and
// precondition kinds by name. Type numbers are stable: never renumber, only add.
// Decoding and applying dispatch through tables keyed by the type byte.
//
// Unknown types: an entry whose type byte this binary does not know is fatal.
// The state machine halts (it applies nothing more and its store's applied
// revision stays before the entry, so a newer binary replays it), the node
// shuts raft down and State reports "Halted". Skipping the entry would let this
// replica diverge from those that understand it. A known type whose body does
// not decode is instead rejected, the same way on every replica.
//
// # Determinism
//
// Apply reads nothing but the entry and the store: no wall clock (the leader
// stamps Meta.Time in Node.Write; the store judges expirations at that time,
// and the idempotency window is measured with it), no randomness, no map
// iteration (schema checks walk the schema's declaration-order slices). The
// schema compiler must be deterministic too. Outcomes are: applied; rejected
// (a verdict on the request — precondition failed, already exists, limit
// exceeded, schema violation, unsafe schema change, invalid schema, no schema,
// idempotency key reused — identical on every replica); or fatal (the store
// failed, or an unknown type), which halts the state machine.
//
// # Revisions and applied indexes
//
// A revision is the raft log index of the entry that last went through the
// store: the store commits each batch at commitTs = log index and records the
// applied revision in the same transaction. Noop commands advance it too
// (storage.MarkApplied); batches the store rejects advance it (the store's
// rule); rejections decided before the store (schema checks, idempotency) and
// raft-internal entries do not. On restart raft replays entries and the applier
// skips every entry at or below the store's applied revision, so nothing
// applies twice.
//
// The node also tracks, in memory, the last raft index its state machine has
// seen: commands (applied, rejected or skipped) and membership changes (the FSM
// is a raft.ConfigurationStore). WaitApplied(ctx, i) waits on that index with a
// broadcast channel, not by polling; readers then read at AppliedRevision,
// which includes every write at or below i. Raft's own no-op and barrier
// entries never reach the FSM, so the node never uses raft.Barrier: it commits
// a noop command instead.
//
// # Linearizable reads (read index)
//
// On the leader, ReadIndex (1) makes sure a noop command of the current term
// has applied — a new leader's commit index may lag the previous term's until
// then, and from then on every committed index is one the FSM sees — (2) takes
// the commit index, (3) confirms with a quorum that it still leads
// (VerifyLeader), and returns the index. The caller waits for it with
// WaitApplied and reads at AppliedRevision. A leader without quorum fails at
// step 3 (ErrNotLeader) instead of answering stale; a follower returns
// ErrNotLeader and the API asks the leader for the index over HTTP, then waits
// locally.
//
// # Idempotency
//
// A command with an idempotency key (a UUID) stores, in the same transaction
// as its batch (Batch.Finish), the extra key consensus/idem/<key> holding the
// request's hash (SHA-256 of the encoded command without time and request id),
// the leader time and the answer. A later command with the key, within
// Config.IdempotencyWindow (default 24h) of that time, returns the first
// answer with Replayed set and writes nothing; with a different hash it fails
// with ErrIdempotencyKeyReused. After the window the key may be reused.
// Rejected requests store nothing, so their retry is evaluated afresh.
//
// # Snapshots
//
// FSM.Snapshot captures the store's applied revision and the raft index;
// Persist streams
//
//	"TRELLIS-SNAPSHOT v1\n" | be64(raft index) | be64(store revision) | storage.BackupAt(revision)
//
// where v1 is the store's on-disk format version (storage.FormatVersion),
// while applies continue (the backup is an MVCC read). Restore refuses a
// snapshot of a newer format before it touches the store
// (storage.CheckFormatVersion, ADR 0008); otherwise it loads the backup
// with storage.Restore, then reloads the schema cache, the member map and the
// audit hook (AuditReloader) from the store — unless the store has already
// applied the snapshot's revision (a restart: raft offers the newest local
// snapshot, which the store already contains). Stats reports fsm_restores and
// fsm_restores_skipped.
//
// # Membership
//
// Raft knows raft addresses only. Member commands record each member's API
// address in the store (extra keys consensus/member/<id>), so every node can
// forward HTTP requests to the leader (LeaderAPIAddr). A new leader records its
// own and the configured peers' addresses; RemoveServer removes both.
//
// AddMember works the way etcd adds a learner: it refuses an ID that is a
// member with other addresses, and a raft or API address another member has
// (ErrMemberConflict, nothing changed); it adds the node as a non-voter,
// records its API address, then asks it with raft heartbeats (whose answers
// carry the follower's last log index) until it holds every entry the leader
// had when it joined, and only then promotes it to voter. A node that does
// not catch up in time stays a non-voter (ErrMemberNotCaughtUp): it counts
// for no quorum, so an unreachable address cannot cost the cluster its
// leader, and it can be removed or added again. RemoveServer refuses to
// remove a voter when the voters left would not have a reachable majority
// (ErrWouldLoseQuorum).
//
// # Cluster id
//
// A new leader whose store has no cluster id proposes a random UUID (command
// 8); the first one applied is stored (extra key consensus/cluster-id) and
// later ones change nothing, so every member, joiners included (through the
// log or a snapshot), ends with the same id. ClusterUUID returns it ("" until
// applied), WaitClusterUUID waits for it. It identifies the deployment;
// Config names nothing about it (the operator's --cluster-id is a label).
package consensus
