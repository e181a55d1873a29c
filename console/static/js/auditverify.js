// Verifying the audit log in the browser, as package audit specifies it
// (go doc github.com/trellis-authz/trellis/audit): the canonical entry
// encoding, RFC 6962 leaf and node hashes, the Merkle root, and the signed
// checkpoint note (Ed25519, signed-note key id). WebCrypto does the hashing
// and the signature check.

const enc = new TextEncoder();

export async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)); }

export function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
export function unhex(s) {
  if (s.length % 2 || /[^0-9a-f]/i.test(s)) throw new Error("not hex");
  return Uint8Array.from(s.match(/../g) || [], (x) => parseInt(x, 16));
}
export const b64 = (b) => btoa(String.fromCharCode(...b));
export function unb64(s) { return Uint8Array.from(atob(s), (c) => c.charCodeAt(0)); }

function u64(v) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(v))); return b; }
function u32(v) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v); return b; }
function str(s) { const b = enc.encode(s); return concat(u32(b.length), b); }

// unixNanos parses an RFC 3339 time with up to nine fraction digits into
// Unix nanoseconds (a BigInt), without losing the digits Date drops.
export function unixNanos(t) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) throw new Error(`time ${JSON.stringify(t)} is not RFC 3339`);
  const ms = Date.parse(m[1] + m[3]);
  if (Number.isNaN(ms)) throw new Error(`time ${t} is not a valid date`);
  return BigInt(ms / 1000) * 1000000000n + BigInt((m[2] || "").padEnd(9, "0"));
}

// canonical is the entry's canonical encoding (version 0x01, then the fields).
export function canonical(e) {
  return concat(new Uint8Array([1]), u64(e.seq), u64(e.revision), u64(unixNanos(e.time)),
    str(e.kind), str(e.principal), str(e.reason), str(e.request_id), str(e.idempotency_key),
    u64(e.change_count), concat(u32(e.change_digest.length / 2), unhex(e.change_digest)));
}

export async function leafHash(e) { return sha256(concat(new Uint8Array([0]), canonical(e))); }

// merkleRoot is RFC 6962's Merkle Tree Hash of the leaf hashes.
export async function merkleRoot(leaves) {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  const mth = async (lo, hi) => {
    if (hi - lo === 1) return leaves[lo];
    let k = 1;
    while (k * 2 < hi - lo) k *= 2;
    return sha256(concat(new Uint8Array([1]), await mth(lo, lo + k), await mth(lo + k, hi)));
  };
  return mth(0, leaves.length);
}

// parseCheckpoint parses a signed note: five body lines, a blank line, one
// "— name base64(keyid||sig)" line.
export function parseCheckpoint(note) {
  const cut = note.indexOf("\n\n");
  if (cut < 0) throw new Error("checkpoint: no blank line between the body and the signature");
  const body = note.slice(0, cut + 1);
  const lines = body.slice(0, -1).split("\n");
  if (lines.length !== 5) throw new Error(`checkpoint: body has ${lines.length} lines, want 5`);
  const sigLine = note.slice(cut + 2).replace(/\n$/, "");
  const m = /^\u2014 (\S+) (\S+)$/.exec(sigLine);
  if (!m) throw new Error("checkpoint: the signature line must be \"\u2014 <key name> <signature>\"");
  const raw = unb64(m[2]);
  if (raw.length !== 68) throw new Error("checkpoint: the signature is not a 4-byte key id and a 64-byte Ed25519 signature");
  const rev = /^revision (\d+)$/.exec(lines[3]), time = /^time (\S+)$/.exec(lines[4]);
  if (!/^\d+$/.test(lines[1]) || !rev || !time) throw new Error("checkpoint: malformed size, revision or time line");
  return { body, origin: lines[0], size: Number(lines[1]), root: unb64(lines[2]), revision: Number(rev[1]), time: time[1],
    keyName: m[1], keyID: new DataView(raw.buffer).getUint32(0), signature: raw.slice(4) };
}

// parsePinnedKey reads "<key name> <base64 Ed25519 public key>" (the line
// trellis audit pubkey prints).
export function parsePinnedKey(line) {
  const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(line || "");
  if (!m) throw new Error("pinned key: want \"<key name> <base64 public key>\", as trellis audit pubkey prints it");
  const pub = unb64(m[2]);
  if (pub.length !== 32) throw new Error(`pinned key: ${pub.length} bytes, want 32 (Ed25519)`);
  return { name: m[1], pub };
}

// verifySignature checks the checkpoint against the pinned key: the same
// key name, the signed-note key id of (name, key), and the Ed25519 signature
// over the body.
export async function verifySignature(cp, pinned) {
  if (cp.keyName !== pinned.name) return { ok: false, why: `signed by ${cp.keyName}, the pinned key is ${pinned.name}` };
  const id = new DataView((await sha256(concat(enc.encode(pinned.name), new Uint8Array([10, 1]), pinned.pub))).buffer).getUint32(0);
  if (id !== cp.keyID) return { ok: false, why: `key id ${cp.keyID.toString(16)} is not that of the pinned key (${id.toString(16)})` };
  const key = await crypto.subtle.importKey("raw", pinned.pub, { name: "Ed25519" }, false, ["verify"]);
  const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, cp.signature, enc.encode(cp.body));
  return ok ? { ok: true, why: `signature by ${cp.keyName} verifies` } : { ok: false, why: "the Ed25519 signature does not verify" };
}

// verifyExport checks NDJSON export text, line by line, and against the
// checkpoint when given. It returns {entries: [{entry, ok, problems}],
// root: {ok, why}, ok}.
export async function verifyExport(text, cp) {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const results = [], leaves = [];
  let prevRev = -1;
  for (let i = 0; i < lines.length; i++) {
    const problems = [];
    let e = null;
    try { e = JSON.parse(lines[i]); } catch (err) { problems.push("not JSON: " + err.message); }
    if (e) {
      if (e.seq !== i) problems.push(`sequence ${e.seq} where ${i} was expected (an entry is missing, moved or repeated)`);
      try {
        const lh = await leafHash(e);
        leaves.push(lh);
        if (hex(lh) !== e.leaf_hash) problems.push("leaf hash mismatch: the entry's fields do not hash to its leaf_hash (the entry was edited)");
      } catch (err) { problems.push("cannot encode: " + err.message); leaves.push(new Uint8Array(32)); }
      if (e.revision < prevRev) problems.push(`revision ${e.revision} is below the previous entry's ${prevRev}`);
      prevRev = Math.max(prevRev, e.revision);
    } else leaves.push(new Uint8Array(32));
    results.push({ entry: e || { seq: i }, ok: problems.length === 0, problems });
  }
  let root = { ok: true, why: "no checkpoint given" };
  if (cp) {
    if (lines.length < cp.size) root = { ok: false, why: `the export has ${lines.length} entries, the checkpoint commits to ${cp.size} (truncated)` };
    else {
      const r = await merkleRoot(leaves.slice(0, cp.size));
      const last = results[cp.size - 1] && results[cp.size - 1].entry;
      if (hex(r) !== hex(cp.root)) root = { ok: false, why: `the root of the first ${cp.size} entries is ${b64(r)}, the checkpoint says ${b64(cp.root)}` };
      else if (cp.size > 0 && last && last.revision !== cp.revision) root = { ok: false, why: `entry ${cp.size - 1} has revision ${last.revision}, the checkpoint says ${cp.revision}` };
      else if (cp.size > 0 && last && unixNanos(last.time) !== unixNanos(cp.time)) root = { ok: false, why: `entry ${cp.size - 1} has time ${last.time}, the checkpoint says ${cp.time}` };
      else root = { ok: true, why: `the root of the first ${cp.size} entries matches the checkpoint (${b64(r)})` };
    }
  }
  return { entries: results, root, ok: root.ok && results.every((r) => r.ok) };
}
