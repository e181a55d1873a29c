// Live page: the watch stream and the node's decision records (server-sent
// events read with fetch, so the bearer token goes in a header), and the
// decision chain's anchors.
import { raw, get, query, can, errorText } from "./api.js";
import { h, field, section, status, clear, table } from "./dom.js";

// readSSE calls onEvent({id, event, data}) for each event of an SSE body.
async function readSSE(resp, onEvent) {
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      const ev = { id: "", event: "message", data: "" };
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const i = line.indexOf(":");
        const k = i < 0 ? line : line.slice(0, i), v = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
        if (k === "data") ev.data += (ev.data ? "\n" : "") + v;
        else if (k === "id" || k === "event") ev[k] = v;
      }
      if (ev.data) onEvent(ev);
    }
  }
}

export async function render(main) {
  const list = h("ol", { class: "events", id: "watch-events", reversed: true });
  const msg = h("p", { role: "status", id: "watch-status" });
  const since = field("Since token (empty: from now)", "input", { name: "since", autocomplete: "off" });
  const types = field("Resource types (comma-separated, empty: all)", "input", { name: "types" });
  const start = h("button", { type: "button", id: "watch-start" }, "Start");
  const stop = h("button", { type: "button", id: "watch-stop", disabled: true }, "Stop");
  let abort = null, last = "";
  const run = async () => {
    abort = new AbortController();
    start.disabled = true; stop.disabled = false;
    status(msg, "Watching…");
    try {
      const resp = await raw("/v1/watch" + query({ since: last || since.control.value.trim(), types: types.control.value.trim() }),
        { signal: abort.signal, headers: { Accept: "text/event-stream" } });
      // The node answers once it has fixed the revision the stream starts
      // after: every change from here on will arrive.
      list.dataset.connected = "true";
      await readSSE(resp, (ev) => {
        if (ev.event === "error") { status(msg, "stream error: " + ev.data, true); return; }
        const c = JSON.parse(ev.data);
        last = ev.id || c.token;
        list.prepend(h("li", { data: { token: c.token } }, h("code", {}, c.token), ` revision ${c.revision} · ${c.time}`,
          h("ul", {}, (c.changes || []).map((x) => h("li", {}, h("span", { class: "badge op-" + x.op }, x.op), " ", h("code", {}, x.relationship))))));
        while (list.children.length > 200) list.lastChild.remove();
        status(msg, `Watching; last event at ${last}.`);
      });
      status(msg, "The stream ended.");
    } catch (err) {
      if (err.name !== "AbortError") status(msg, errorText(err), true);
      else status(msg, `Stopped; resume continues after ${last || "now"}.`);
    }
    list.dataset.connected = "false";
    start.disabled = false; stop.disabled = true;
  };
  start.addEventListener("click", run);
  stop.addEventListener("click", () => abort && abort.abort());
  main.append(section("Watch", h("p", {}, "Relationship changes as the node applies them (GET /v1/watch). Stopping and starting resumes after the last event, with no gap."),
    h("div", { class: "row" }, since, types), start, " ", stop, msg, list));
  const decisions = await decisionSection();
  main.append(decisions.section, await anchorSection());
  run();
  return () => { if (abort) abort.abort(); decisions.stop(); };
}

const RECENT = 50, SHOWN = 200;

// decisionRow is one decision record as a table row.
function decisionRow(r) {
  return h("tr", { data: { index: String(r.index), subject: r.subject, requestId: r.request_id } },
    h("td", {}, String(r.index)), h("td", {}, r.time), h("td", {}, r.principal),
    h("td", {}, h("code", {}, r.resource)), h("td", {}, r.permission), h("td", {}, h("code", {}, r.subject)),
    h("td", {}, h("span", { class: "badge result-" + r.result }, r.result)), h("td", {}, h("code", {}, r.token)));
}

// decisionSection shows this node's latest decision records (GET
// /v1/decisions) and then the new ones as the node appends them (GET
// /v1/decisions/stream from the next index, so none is missed or shown
// twice). Stopping and starting resumes after the last record shown.
async function decisionSection() {
  const body = h("div", { id: "decision-log" });
  const s = section("Decision records", h("p", {}, "The checks this node answered, newest first, as its decision log (trellis serve --decision-log) records them. " +
    "Each node keeps its own log; a record names who asked what, so this needs an admin token."), body);
  const none = { section: s, stop() {} };
  if (!can("admin")) { body.append(h("p", { class: "hint" }, "Decision records need an admin token.")); return none; }
  let recent;
  try {
    recent = await get("/v1/decisions" + query({ limit: RECENT }));
  } catch (err) {
    if (err.code === "decision_log_disabled") body.append(h("p", { class: "hint", id: "decision-disabled" }, err.message));
    else body.append(h("p", { class: "error" }, errorText(err)));
    return none;
  }
  const rows = h("tbody", { id: "decision-rows" });
  const msg = h("p", { role: "status", id: "decision-status" });
  const start = h("button", { type: "button", id: "decisions-start" }, "Start");
  const stop = h("button", { type: "button", id: "decisions-stop", disabled: true }, "Stop");
  const add = (r) => {
    rows.prepend(decisionRow(r));
    while (rows.children.length > SHOWN) rows.lastChild.remove();
  };
  recent.records.forEach(add);
  let next = recent.next, abort = null;
  const tbl = h("table", { id: "decision-records" },
    h("caption", {}, `Node ${recent.node}; it keeps its latest ${recent.kept} records in memory.`),
    h("thead", {}, h("tr", {}, ["Index", "Time", "Principal", "Resource", "Permission", "Subject", "Result", "Token"].map((x) => h("th", { scope: "col" }, x)))),
    rows);
  const run = async () => {
    abort = new AbortController();
    start.disabled = true; stop.disabled = false;
    status(msg, "Following…");
    try {
      const resp = await raw("/v1/decisions/stream" + query({ from: next }), { signal: abort.signal, headers: { Accept: "text/event-stream" } });
      tbl.dataset.connected = "true";
      await readSSE(resp, (ev) => {
        if (ev.event === "error") {
          let e = {};
          try { e = JSON.parse(ev.data); } catch { e = { message: ev.data }; }
          status(msg, `stream ended: ${e.code || "error"}: ${e.message} Start resumes after the last record shown.`, true);
          return;
        }
        if (ev.event !== "decision") return;
        const r = JSON.parse(ev.data);
        next = r.index + 1;
        add(r);
        status(msg, `Following; last record ${r.index}.`);
      });
      if (!msg.classList.contains("error")) status(msg, "The stream ended.");
    } catch (err) {
      if (err.name !== "AbortError") status(msg, errorText(err), true);
      else status(msg, `Stopped; Start resumes at record ${next}.`);
    }
    tbl.dataset.connected = "false";
    start.disabled = false; stop.disabled = true;
  };
  start.addEventListener("click", run);
  stop.addEventListener("click", () => abort && abort.abort());
  body.append(h("div", { class: "row" }, start, stop), msg, tbl);
  run();
  return { section: s, stop: () => abort && abort.abort() };
}

async function anchorSection() {
  const body = h("div", { id: "decision-anchors" });
  const s = section("Decision anchors", h("p", {}, "The decision chain's heads, written into the replicated audit log (kind decision_anchor): " +
    "with them, trellis audit decisions verify checks a node's decision log file offline."), body);
  if (!can("admin")) { body.append(h("p", { class: "hint" }, "Anchors are audit entries: they need an admin token.")); return s; }
  try {
    const r = await get("/v1/audit/entries" + query({ kind: "decision_anchor", limit: 50 }));
    if (!r.entries.length) body.append(h("p", {}, "No anchors yet: the decision log is off on the leader, or has not been anchored."));
    else body.append(table(["Seq", "Time", "Node", "Records", "Head hash"], r.entries.map((e) =>
      h("tr", {}, [e.seq, e.time, e.principal, e.change_count, e.change_digest].map((v) => h("td", {}, String(v)))))));
  } catch (err) { body.append(h("p", { class: "error" }, errorText(err))); }
  return s;
}
