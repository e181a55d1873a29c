// Audit page: the latest checkpoint, entries with filters (admin), and
// verification of the log in the browser.
import { get, raw, query, can, errorText } from "./api.js";
import { h, field, select, section, status, clear, formValues, table } from "./dom.js";
import { parseCheckpoint, parsePinnedKey, verifySignature, verifyExport } from "./auditverify.js";

const KINDS = ["", "write", "delete", "import", "schema", "decision_anchor", "suspend", "unsuspend", "alerts"];

export async function render(main) {
  const cp = await get("/v1/audit/checkpoint");
  const c = cp.checkpoint;
  main.append(section("Latest checkpoint",
    h("dl", { class: "kv", id: "checkpoint" },
      [["origin", c.origin], ["size", c.size], ["root", c.root], ["revision", c.revision], ["time", c.time], ["signed by", c.key_name]]
      .map(([k, v]) => [h("dt", {}, k), h("dd", {}, h("code", {}, String(v)))])),
    h("p", { class: "hint" }, "The node also reports its public key, for convenience only: pin the key you got out of band (trellis audit pubkey), never this one."),
    h("pre", { class: "note", id: "checkpoint-note", tabindex: "0", "aria-label": "Signed checkpoint note" }, c.note)));
  if (can("admin")) main.append(entriesSection());
  else main.append(h("p", { class: "hint" }, "Entries and the export name principals and reasons: they need an admin token. You can still verify a saved export file below."));
  main.append(verifySection(c.note));
}

function entriesSection() {
  const tbody = h("tbody", { id: "audit-rows" });
  const msg = h("p", { role: "status" });
  const more = h("button", { type: "button", id: "audit-more", hidden: true }, "Next page");
  let next = 0, params = {};
  const load = async (append) => {
    tbody.dataset.loading = "true";
    try {
      const r = await get("/v1/audit/entries" + query({ ...params, from: append ? next : params.from }));
      if (!append) clear(tbody);
      tbody.append(...r.entries.map((e) => h("tr", {}, [e.seq, e.revision, e.time, e.kind, e.principal, e.reason, e.change_count].map((v) => h("td", {}, String(v))))));
      next = r.next;
      more.hidden = r.next >= r.size;
      status(msg, `${tbody.children.length} entr${tbody.children.length === 1 ? "y" : "ies"} shown; the log has ${r.size}.`);
    } catch (err) { status(msg, errorText(err), true); }
    tbody.dataset.loading = "false";
  };
  more.addEventListener("click", () => load(true));
  const form = h("form", { id: "audit-filter", on: { submit: (ev) => { ev.preventDefault(); params = formValues(form); load(false); } } },
    h("div", { class: "row" },
      field("Principal", "input", { name: "principal" }),
      select("Kind", "kind", KINDS.map((k) => [k, k || "any"]), ""),
      field("Since (RFC 3339)", "input", { name: "since", placeholder: "2026-01-01T00:00:00Z" }),
      field("Until (RFC 3339)", "input", { name: "until" }),
      field("From sequence", "input", { name: "from", type: "number", min: "0", value: "0" }),
      field("Page size", "input", { name: "limit", type: "number", min: "1", max: "1000", value: "50" })),
    h("button", { type: "submit" }, "Show entries"));
  const t = table(["Seq", "Revision", "Time", "Kind", "Principal", "Reason", "Changes"], [], "Audit entries");
  t.replaceChild(tbody, t.querySelector("tbody"));
  params = formValues(form);
  load(false);
  return section("Entries", form, msg, t, more);
}

function verifySection(note) {
  const key = field("Pinned public key (key name and base64 key, from trellis audit pubkey)", "input", { id: "verify-key", name: "key", autocomplete: "off", spellcheck: "false", placeholder: "trellis-prod-n1 zF7Qz4CF…" });
  const cpText = field("Signed checkpoint to verify against", "textarea", { id: "verify-checkpoint", rows: 7, spellcheck: "false" });
  cpText.control.value = note;
  const file = field("Or a saved export file (trellis audit export)", "input", { id: "verify-file", type: "file", accept: ".ndjson,.jsonl,.txt,application/x-ndjson" });
  const out = h("div", { id: "verify-out", "aria-live": "polite" });
  const msg = h("p", { role: "status", id: "verify-status" });
  const run = async (getText) => {
    clear(out);
    status(msg, "Verifying…");
    if (!window.crypto || !crypto.subtle) { status(msg, "WebCrypto is not available: open the console over https:// or on localhost.", true); return; }
    try {
      const cp = parseCheckpoint(cpText.control.value.replace(/\r\n/g, "\n"));
      const sig = await verifySignature(cp, parsePinnedKey(key.control.value));
      const text = await getText(cp);
      const v = await verifyExport(text, cp);
      const ok = sig.ok && v.ok;
      out.dataset.ok = String(ok);
      out.append(
        h("p", { class: ok ? "ok" : "error", id: "verify-summary" }, ok
          ? `Verified: ${v.entries.length} entries, every leaf hash recomputed, the Merkle root matches the checkpoint of size ${cp.size}, and its signature verifies with the pinned key.`
          : `Verification FAILED: ${v.entries.filter((e) => !e.ok).length} bad entr${v.entries.filter((e) => !e.ok).length === 1 ? "y" : "ies"}; root: ${v.root.ok ? "ok" : "mismatch"}; signature: ${sig.ok ? "ok" : "bad"}.`),
        h("ul", {}, h("li", { class: sig.ok ? "ok" : "error", id: "verify-signature" }, "Signature: " + sig.why),
          h("li", { class: v.root.ok ? "ok" : "error", id: "verify-root" }, "Root: " + v.root.why)));
      const t = table(["Seq", "Kind", "Principal", "Reason", "Result"], v.entries.map((r) =>
        h("tr", { class: r.ok ? "" : "bad-row", data: { seq: String(r.entry.seq), ok: String(r.ok) } },
          h("td", {}, String(r.entry.seq)), h("td", {}, r.entry.kind || ""), h("td", {}, r.entry.principal || ""), h("td", {}, r.entry.reason || ""),
          h("td", {}, r.ok ? h("span", { class: "badge result-allowed" }, "ok") : h("span", { class: "badge bad" }, r.problems.join("; "))))), "Per entry");
      t.id = "verify-entries";
      out.append(t);
      status(msg, "");
    } catch (err) { status(msg, errorText(err), true); }
  };
  const fromNode = h("button", { type: "button", id: "verify-run", disabled: !can("admin") || null, on: { click: () => run(async (cp) => {
    const resp = await raw("/v1/audit/export" + query({ size: cp.size }));
    return resp.text();
  }) } }, "Verify this node's log");
  file.control.addEventListener("change", () => {
    const f = file.control.files[0];
    if (f) run(() => f.text());
  });
  return section("Verify", h("p", {}, "Recomputes every entry's leaf hash (SHA-256 of 0x00 and its canonical encoding) and the RFC 6962 Merkle root here in the browser, and checks the checkpoint's Ed25519 signature with the key you pin."),
    key, cpText, h("div", { class: "row" }, can("admin") ? fromNode : null, file), msg, out);
}
