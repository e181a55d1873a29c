// Package audit is Trellis's tamper-evident audit log: an append-only list of
// entries, one per applied write, delete, import chunk, schema change or
// decision-chain anchor, kept as the leaves of an RFC 6962 Merkle tree. It
// signs checkpoints, serves inclusion and consistency proofs, exports the log
// and verifies an export offline. This comment is the specification an
// auditor checks an export against.
//
// # Entries
//
// Sequence numbers start at 0 and are contiguous: an entry's sequence number
// is its leaf index in the tree. Every field is chosen by the raft leader and
// carried in the replicated command (the time is the leader's, never a
// replica's clock), so every replica appends byte-identical entries and
// computes the same root.
//
// The canonical encoding of an entry, which is what gets hashed, is:
//
//	byte    version        0x01
//	uint64  seq            big-endian
//	uint64  revision       big-endian
//	int64   time           Unix nanoseconds (UTC), big-endian two's complement
//	string  kind           "write" | "delete" | "import" | "schema" | "decision_anchor"
//	string  principal      authenticated caller
//	string  reason         the client's stated reason
//	string  request_id
//	string  idempotency_key
//	uint64  change_count   big-endian
//	bytes   change_digest  (0 to 64 bytes; SHA-256 for changes)
//
// where string and bytes are a big-endian uint32 length followed by that
// many bytes (strings are UTF-8, at most 4096 bytes). Nothing else is
// encoded and no byte may follow; decoding rejects anything Entry.MarshalBinary
// would not produce, so an entry has exactly one encoding. Times must lie in
// the years 1678..2261.
//
// change_digest is DigestChanges: SHA-256 over the request's canonical
// change strings in order, each followed by "\n" (for example
// "touch dataset:x#reader@user:a\n"). The changes themselves stay in the
// store's change feed at the entry's revision; recomputing the digest from
// the feed checks that the feed was not edited either.
//
// # Tree
//
// The leaf hash of an entry is SHA-256(0x00 || canonical encoding), and an
// interior node is SHA-256(0x01 || left || right): the Merkle Tree Hash of
// RFC 6962 section 2.1 (rfc6962.DefaultHasher of transparency-dev/merkle).
// The root of an empty log is SHA-256 of the empty string. Inclusion and
// consistency proofs are those of RFC 6962 section 2.1.1 and 2.1.2, and verify
// with proof.VerifyInclusion and proof.VerifyConsistency.
//
// # Checkpoints
//
// A checkpoint is a signed note in the format of transparency-log
// checkpoints, with two extension lines:
//
//	<origin>\n
//	<size, decimal>\n
//	<root hash, standard base64>\n
//	revision <revision of entry size-1, decimal>\n
//	time <time of entry size-1, RFC 3339 UTC with up to 9 fraction digits>\n
//	\n
//	— <key name> <base64(key id || signature)>\n
//
// The signature line starts with U+2014 (em dash) and a space. The key id is
// the first 4 bytes of SHA-256(key name || "\n" || 0x01 || Ed25519 public
// key), as in signed notes; the signature is Ed25519 over the body (the five
// lines before the blank line, each with its newline). For an empty log the
// revision is 0 and the time is 0001-01-01T00:00:00Z. Revision and time come
// from the newest entry, so all replicas produce the same body for a size.
//
// # Export and verification
//
// An export (Log.Export) is NDJSON: one entry per line in sequence order,
//
//	{"seq":0,"revision":1,"time":"2026-11-22T10:00:00.123456789Z","kind":"write",
//	 "principal":"user:p0","reason":"...","request_id":"...","idempotency_key":"...",
//	 "change_count":1,"change_digest":"<hex>","leaf_hash":"<hex>"}
//
// Verify checks it in one pass:
//
//  1. If a public key is given, the checkpoint's key id and signature
//     (ErrWrongKey, ErrBadSignature).
//  2. For each line, in order: it parses with no unknown fields; its seq is
//     the expected next number (starting at 0); re-encoding its fields
//     canonically and hashing gives its leaf_hash; its revision is not below
//     the previous one.
//  3. With a checkpoint, once checkpoint.Size entries are read: their root
//     equals the checkpoint root, and the last of them carries the
//     checkpoint's revision and time. An export with fewer entries than the
//     checkpoint fails. An export with more is fine (later entries are
//     checked as in step 2).
//
// A failure tied to a position is a *VerifyError naming the first bad
// sequence number: the first edited entry, the first one missing (deleted,
// moved by a swap, or cut off by truncation), or the position a duplicate
// stands at. What Verify cannot see: without a checkpoint, a prefix of a log
// is itself a valid log (truncation is only caught against a signed size),
// and a forger who edits an entry and also recomputes its leaf_hash is caught
// only by the checkpoint's root, which names no position. Keep and compare
// signed checkpoints; check consistency proofs between them.
//
// # Persistence and the FSM
//
// The log never writes. Log.Append(e) returns the key/values to write in the
// same storage transaction as the change e describes, and stages e in memory
// without making it visible. After the transaction commits the FSM calls
// Commit; if it fails, Abort (or Sync, which looks at the stored size and
// does whichever is right). So an aborted batch never advances the tree, and
// readers only see committed entries. Several Appends may be staged for one
// transaction. Keys, all under "audit/":
//
//	audit/size                        uint64 number of entries
//	audit/e/<seq uint64>              canonical entry encoding
//	audit/n/<level byte><index uint64> 32-byte hash of every complete subtree
//
// The FSM must not Append for a command the store skips as already applied
// (raft replay after a restart), since its entry is already stored; after a
// snapshot restore replaces the store's contents it calls Sync, which reloads
// the frontier. Entry revisions may not decrease.
//
// Level 0 nodes are the leaf hashes. Because every complete subtree's root is
// stored when it completes (about two hashes per entry), any inclusion or
// consistency proof for any size up to the current one costs O(log n) reads,
// and Open reloads the frontier with one read per set bit of the size. Memory
// holds only that frontier.
//
// # Decision log
//
// DecisionLog keeps an optional, per-node, sampled hash chain of check
// decisions (who asked, what, the answer, the token) as NDJSON. Record i
// holds the previous record's hash (32 zero bytes for record 0) and its own
// hash SHA-256("trellis-decision/v1\n" || prev || uint64 index ||
// int64 time nanos || the seven strings, each uint32-length-prefixed:
// principal, request_id, resource, permission, subject, result, token).
// Anchor returns a "decision_anchor" entry (change_count = records,
// change_digest = head hash) for the replicated log; VerifyDecisions checks a
// chain and, given such an entry, that the chain reaches that head.
// Sampling is deterministic by SHA-256 of the request id.
//
// DecisionLog.Feed keeps the latest records this process appended in memory
// (DecisionConfig.Recent, 1,000 by default) and hands each new record to its
// subscribers without ever blocking the check that made it: a subscriber
// whose buffer is full is dropped and told which record it missed.
package audit
