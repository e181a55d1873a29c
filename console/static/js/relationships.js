// Relationships page: filter and page through stored relationships, export
// them, and (writers) write or delete with a reason.
import { post, raw, query, can, rememberWrite, writes, errorText } from "./api.js";
import { h, field, select, section, status, clear, formValues, table } from "./dom.js";

const FILTER = [["resource_type", "Resource type"], ["resource_id", "Resource ID"], ["resource_id_prefix", "Resource ID prefix"],
  ["relation", "Relation"], ["subject_type", "Subject type"], ["subject_id", "Subject ID"], ["subject_relation", "Subject relation"]];

// filterOf turns the form's values into the API's filter.
function filterOf(v) {
  const f = {};
  for (const k of ["resource_type", "resource_id", "resource_id_prefix", "relation"]) if (v[k]) f[k] = v[k];
  if (v.subject_type || v.subject_id || v.subject_relation) {
    f.subject = {};
    if (v.subject_type) f.subject.type = v.subject_type;
    if (v.subject_id) f.subject.id = v.subject_id;
    if (v.subject_relation) f.subject.relation = v.subject_relation;
  }
  return f;
}

// playgroundLink opens the playground on a relationship, at a write's token.
function playgroundLink(rel, token) {
  const m = /^([^#]+)#([^@]+)@([^[]+)/.exec(rel) || [];
  const q = new URLSearchParams({ token, mode: "at_least_as_fresh" });
  if (m[1]) q.set("resource", m[1]);
  if (m[3]) q.set("subject", m[3].replace(/#.*$/, ""));
  return h("a", { href: "#/playground?" + q.toString(), class: "use-token" }, "Check in the playground at this token");
}

export async function render(main, params) {
  const writer = can("writer");
  const tbody = h("tbody", { id: "rel-rows" });
  const msg = h("p", { role: "status", id: "rel-status" });
  const more = h("button", { type: "button", id: "rel-more", hidden: true }, "Next page");
  const reason = field("Reason (kept in the audit log)", "input", { id: "rel-reason", name: "reason", required: true, placeholder: "JIRA-123 why" });
  const writeOut = h("div", { id: "write-out", "aria-live": "polite" });
  let cursor = "", readAt = "", filter = {};
  const fresh = field("At least as fresh as (token)", "input", { id: "rel-fresh", name: "fresh", autocomplete: "off", placeholder: "t1.…", value: params.get("token") || "" });

  // load reads the first page (or the next, at the first page's revision),
  // at least as fresh as the token in the filter when there is one: after a
  // write, that is the write's token, so the list shows it.
  const load = async (next) => {
    tbody.dataset.loading = "true";
    status(msg, "Reading…");
    try {
      const body = { filter, limit: 50 };
      if (next) { body.cursor = cursor; body.consistency = { at_exact_snapshot: readAt }; } else {
        clear(tbody); readAt = "";
        const t = fresh.control.value.trim();
        if (t) body.consistency = { at_least_as_fresh: t };
      }
      const r = await post("/v1/relationships/read", body);
      readAt = readAt || r.read_at;
      cursor = r.next_cursor || "";
      more.hidden = !cursor;
      tbody.append(...(r.relationships || []).map(row));
      status(msg, `${tbody.children.length} relationship(s) read at ${readAt}${cursor ? "; more pages" : ""}.`);
    } catch (err) { status(msg, errorText(err), true); }
    tbody.dataset.loading = "false";
  };
  const written = (what, w) => {
    fresh.control.value = w.written_at;
    rememberWrite(what, w.written_at);
    clear(writeOut).append(h("p", { class: "ok" }, `${what}: written at `, h("code", { id: "write-token" }, w.written_at), " · ",
      playgroundLink(what.replace(/^\w+ /, ""), w.written_at)));
    renderTokens();
  };
  const needReason = () => {
    const r = reason.control.value.trim();
    if (!r) { status(msg, "Give a reason: every change is kept in the audit log with it.", true); reason.control.focus(); }
    return r;
  };
  const del = async (rel) => {
    const r = needReason();
    if (!r) return;
    try {
      written("delete " + rel, await post("/v1/relationships/write", { updates: [{ op: "delete", relationship: rel }], reason: r }));
      await load(false);
    } catch (err) { status(msg, errorText(err), true); }
  };
  const row = (rel) => h("tr", {}, h("td", {}, h("code", {}, rel)),
    writer ? h("td", {}, h("button", { type: "button", class: "danger", "aria-label": "Delete " + rel, on: { click: () => del(rel) } }, "Delete")) : null);

  const filterForm = h("form", { id: "rel-filter", on: { submit: (ev) => { ev.preventDefault(); filter = filterOf(formValues(filterForm)); load(false); } } },
    h("div", { class: "row" }, FILTER.map(([name, label]) => field(label, "input", { name, value: name === "resource_type" ? "dataset" : "" })), fresh),
    h("button", { type: "submit" }, "Read"), " ",
    h("button", { type: "button", id: "rel-export", on: { click: () => exportNDJSON(filterOf(formValues(filterForm)), fresh.control.value.trim(), msg) } }, "Export NDJSON"));
  more.addEventListener("click", () => load(true));
  main.append(section("Filter", filterForm, msg,
    table(["Relationship", writer ? "Action" : null].filter(Boolean), [], "Stored relationships"), more));
  main.querySelector("table").replaceChild(tbody, main.querySelector("table tbody"));

  const tokens = h("ul", { id: "write-tokens" });
  const renderTokens = () => {
    clear(tokens).append(...writes().map((w) => h("li", {}, h("code", {}, w.token), " ", w.what, " · ", playgroundLink(w.what.replace(/^\w+ /, ""), w.token))));
  };
  if (writer) {
    const op = select("Operation", "op", ["touch", "create", "delete"], "touch");
    const rel = field("Relationship", "input", { id: "rel-new", name: "relationship", required: true, placeholder: "dataset:claims#reader@user:zoe" });
    const writeForm = h("form", { id: "rel-write", on: { submit: async (ev) => {
      ev.preventDefault();
      const r = needReason();
      if (!r) return;
      const v = formValues(writeForm);
      try {
        written(`${v.op} ${v.relationship}`, await post("/v1/relationships/write", { updates: [{ op: v.op, relationship: v.relationship }], reason: r }));
        await load(false);
      } catch (err) { status(msg, errorText(err), true); }
    } } }, h("div", { class: "row" }, op, rel), reason, h("button", { type: "submit", id: "rel-write-submit" }, "Write"));
    const delForm = h("form", { id: "rel-delete", on: { submit: async (ev) => {
      ev.preventDefault();
      const r = needReason();
      if (!r) return;
      const f = filterOf(formValues(filterForm));
      try {
        const d = await post("/v1/relationships/delete", { filter: f, limit: Number(formValues(delForm).limit) || 0, reason: r });
        written(`delete ${d.deleted} matching ${JSON.stringify(f)}`, d);
        await load(false);
      } catch (err) { status(msg, errorText(err), true); }
    } } }, h("p", {}, "Deletes every relationship the filter above matches (and fails, deleting nothing, when more than the limit match)."),
    field("Limit", "input", { name: "limit", type: "number", min: "1", value: "100" }),
    h("button", { type: "submit", class: "danger" }, "Delete matching"));
    main.append(section("Write", writeForm, writeOut), section("Delete by filter", delForm));
  } else {
    main.append(h("p", { class: "hint", id: "read-only" }, "Your role is reader: writes and deletes need a writer token."));
  }
  main.append(section("Tokens of this tab's writes", tokens));
  renderTokens();
  filter = filterOf(formValues(filterForm));
  await load(false);
}

async function exportNDJSON(filter, fresh, msg) {
  const q = { resource_type: filter.resource_type, resource_id: filter.resource_id, resource_id_prefix: filter.resource_id_prefix, relation: filter.relation,
    at_least_as_fresh: fresh };
  if (filter.subject) Object.assign(q, { subject_type: filter.subject.type, subject_id: filter.subject.id, subject_relation: filter.subject.relation });
  try {
    const resp = await raw("/v1/relationships/export" + query(q));
    const blob = await resp.blob();
    const a = h("a", { href: URL.createObjectURL(blob), download: "relationships.ndjson", hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    status(msg, `Exported ${blob.size} bytes read at ${resp.headers.get("Trellis-Read-At") || "?"}.`);
  } catch (err) { status(msg, errorText(err), true); }
}
