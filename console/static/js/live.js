// Live page: the watch stream (server-sent events read with fetch, so the
// bearer token goes in a header) and decision-chain anchors.
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
  main.append(await decisionSection());
  run();
  return () => abort && abort.abort();
}

async function decisionSection() {
  const body = h("div", { id: "decision-anchors" });
  const s = section("Decision log", h("p", {}, "The decision log is a per-node file (trellis serve --decision-log); the API does not serve its records. " +
    "What every node sees is its anchors: the chain's head, written into the replicated audit log (kind decision_anchor)."), body);
  if (!can("admin")) { body.append(h("p", { class: "hint" }, "Anchors are audit entries: they need an admin token.")); return s; }
  try {
    const r = await get("/v1/audit/entries" + query({ kind: "decision_anchor", limit: 50 }));
    if (!r.entries.length) body.append(h("p", {}, "No anchors yet: the decision log is off on the leader, or has not been anchored."));
    else body.append(table(["Seq", "Time", "Node", "Records", "Head hash"], r.entries.map((e) =>
      h("tr", {}, [e.seq, e.time, e.principal, e.change_count, e.change_digest].map((v) => h("td", {}, String(v)))))));
  } catch (err) { body.append(h("p", { class: "error" }, errorText(err))); }
  return s;
}
