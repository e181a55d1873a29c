// Playground: check (with context, consistency and explain), lookups with
// paging, expand.
import { post, consistency, writes, errorText } from "./api.js";
import { h, field, select, section, status, clear, formValues } from "./dom.js";
import { markDecisive, traceTree, expandTree } from "./tree.js";

const MODES = ["minimize_latency", "fully_consistent", "at_least_as_fresh", "at_exact_snapshot"];

export async function render(main, params) {
  const mode = select("Consistency", "mode", MODES, params.get("mode") || (params.get("token") ? "at_least_as_fresh" : "minimize_latency"), { id: "pg-mode" });
  const token = field("Token", "input", { id: "pg-token", name: "token", autocomplete: "off", value: params.get("token") || "", placeholder: "t1.…" });
  const recent = writes();
  const useLast = recent.length ? h("button", { type: "button", id: "pg-use-last", on: { click: () => {
    token.control.value = recent[0].token; mode.control.value = "at_least_as_fresh";
  } } }, `Use the token of my last write (${recent[0].what})`) : null;
  const cons = () => consistency(mode.control.value, token.control.value.trim());
  main.append(section("Consistency", h("div", { class: "row" }, mode, token), useLast,
    h("p", { class: "hint" }, "Applies to every query on this page. A write's token with at_least_as_fresh sees that write.")));
  main.append(checkSection(params, cons), lookupResourcesSection(cons), lookupSubjectsSection(cons), expandSection(cons));
}

function contextOf(text) {
  if (!text) return undefined;
  try { return JSON.parse(text); } catch (e) { throw new Error("context is not JSON: " + e.message); }
}

function checkSection(params, cons) {
  const out = h("div", { id: "check-out", "aria-live": "polite" });
  const msg = h("p", { role: "status" });
  const ctx = field("Context (JSON)", "textarea", { name: "context", rows: 2, spellcheck: "false", placeholder: '{"purpose": "fraud-model"}' });
  ctx.control.value = params.get("context") || "";
  const form = h("form", { id: "check-form", on: { submit: async (ev) => {
    ev.preventDefault();
    clear(out);
    status(msg, "Checking…");
    const v = formValues(form);
    try {
      const body = { resource: v.resource, permission: v.permission, subject: v.subject, consistency: cons(), explain: v.explain };
      const c = contextOf(v.context);
      if (c) body.context = c;
      const r = await post("/v1/check", body);
      // The tree is complete before anything is shown, so the answer and its
      // reasons appear together.
      const asked = r.trace ? await reaskCached(r.trace, body.context, r.checked_at) : 0;
      status(msg, "");
      out.append(h("p", { class: "answer" },
        h("output", { id: "check-result", class: "result result-" + r.result, data: { result: r.result } }, r.result),
        (r.missing_context || []).length ? [" missing context: ", h("code", { id: "check-missing" }, r.missing_context.join(", "))] : null,
        r.expires_at ? [" · expires ", h("code", {}, r.expires_at)] : null,
        " · checked at ", h("code", { id: "check-token" }, r.checked_at)));
      if (r.trace) {
        markDecisive(r.trace);
        out.append(h("h3", {}, "Why"), h("p", { class: "legend" },
          h("span", { class: "badge decides-badge" }, "decides"), " the branch that decided the answer · ",
          h("span", { class: "badge cached" }, "cached"), " answered from the cache (re-asked at the same revision to show why) · ",
          h("span", { class: "badge caveat" }, "caveat"), " · ", h("span", { class: "badge expiring" }, "expiring")),
        asked ? h("p", { class: "hint", id: "check-reasked" }, `${asked} cached step${asked === 1 ? "" : "s"} re-asked at ${r.checked_at}.`) : null,
        traceTree(r.trace));
      }
    } catch (err) {
      status(msg, errorText(err), true);
    }
  } } },
  h("div", { class: "row" },
    field("Resource", "input", { name: "resource", required: true, value: params.get("resource") || "dataset:claims" }),
    field("Permission", "input", { name: "permission", required: true, value: params.get("permission") || "read" }),
    field("Subject", "input", { name: "subject", required: true, value: params.get("subject") || "user:raj" })),
  ctx,
  h("div", { class: "field inline" }, h("input", { type: "checkbox", id: "check-explain", name: "explain", checked: true }), h("label", { for: "check-explain" }, "Explain")),
  h("button", { type: "submit", id: "check-submit" }, "Check"));
  return section("Check", form, msg, out);
}

// reaskCached fills in the cached steps of a trace: the engine answers a
// sub-problem from its cache without saying why, so each cached check is
// asked again, explained, at the revision the check read (the root of an
// explained check is always evaluated), until no cached step is left or
// MAX_REASK questions have been asked. Returns how many were asked.
const MAX_REASK = 32;
async function reaskCached(trace, context, at) {
  let asked = 0;
  const queue = [trace];
  while (queue.length && asked < MAX_REASK) {
    const n = queue.shift();
    if (n.kind === "check" && n.cached && !(n.children || []).length && n.resource && n.relation && n.subject) {
      asked++;
      const body = { resource: n.resource, permission: n.relation, subject: n.subject, consistency: { at_exact_snapshot: at }, explain: true };
      if (context) body.context = context;
      const r = await post("/v1/check", body);
      if (r.trace) {
        n.children = r.trace.children || [];
        n.reasked = true;
        if (r.result !== n.result) n.mismatch = r.result;
      }
    }
    queue.push(...(n.children || []));
  }
  return asked;
}

// paged runs a lookup and offers "Next page" while the API returns a cursor;
// later pages are read at the first page's revision.
function pagedForm(id, fields, run, renderItem) {
  const list = h("ul", { class: "results", id: id + "-results" });
  const msg = h("p", { role: "status", id: id + "-status" });
  const more = h("button", { type: "button", id: id + "-more", hidden: true }, "Next page");
  let cursor = "", readAt = "", lastBody = null;
  const go = async (body) => {
    list.dataset.loading = "true";
    status(msg, "Looking up…");
    try {
      const r = await run(body);
      const items = r.resources || r.subjects || [];
      list.append(...items.map(renderItem));
      cursor = r.next_cursor || "";
      readAt = readAt || r.read_at;
      more.hidden = !cursor;
      status(msg, `${list.children.length} so far, read at ${readAt}${cursor ? "; more pages" : "; complete"}.`);
    } catch (err) {
      status(msg, errorText(err), true);
    }
    list.dataset.loading = "false";
  };
  more.addEventListener("click", () => go({ ...lastBody, cursor, consistency: { at_exact_snapshot: readAt } }));
  const form = h("form", { id: id + "-form", on: { submit: (ev) => {
    ev.preventDefault();
    clear(list); cursor = ""; readAt = "";
    try {
      lastBody = fields(formValues(form));
    } catch (err) { status(msg, errorText(err), true); return; }
    go(lastBody);
  } } });
  return { form, list, msg, more };
}

function lookupItem(x) {
  return h("li", { data: { result: x.result } }, h("code", {}, x.id), " ", h("span", { class: "badge result-" + x.result }, x.result),
    (x.missing_context || []).length ? h("span", { class: "badge warn" }, "missing " + x.missing_context.join(", ")) : null,
    (x.excluded || []).length ? h("span", { class: "rels" }, " except ", x.excluded.join(", ")) : null);
}

function lookupResourcesSection(cons) {
  const p = pagedForm("lr", (v) => ({ resource_type: v.resource_type, permission: v.permission, subject: v.subject,
    limit: Number(v.limit) || 0, context: contextOf(v.context), consistency: cons() }), (b) => post("/v1/lookup/resources", b), lookupItem);
  p.form.append(h("div", { class: "row" },
    field("Resource type", "input", { name: "resource_type", required: true, value: "dataset" }),
    field("Permission", "input", { name: "permission", required: true, value: "read" }),
    field("Subject", "input", { name: "subject", required: true, value: "user:raj" }),
    field("Page size", "input", { name: "limit", type: "number", min: "1", max: "1000", value: "10" })),
  field("Context (JSON)", "textarea", { name: "context", rows: 1, spellcheck: "false" }),
  h("button", { type: "submit" }, "Look up resources"));
  return section("Lookup resources", p.form, p.msg, p.list, p.more);
}

function lookupSubjectsSection(cons) {
  const p = pagedForm("ls", (v) => ({ resource: v.resource, permission: v.permission, subject_type: v.subject_type,
    subject_relation: v.subject_relation || undefined, limit: Number(v.limit) || 0, context: contextOf(v.context), consistency: cons() }),
  (b) => post("/v1/lookup/subjects", b), lookupItem);
  p.form.append(h("div", { class: "row" },
    field("Resource", "input", { name: "resource", required: true, value: "model:fraud_ft" }),
    field("Permission", "input", { name: "permission", required: true, value: "run" }),
    field("Subject type", "input", { name: "subject_type", required: true, value: "user" }),
    field("Subject relation", "input", { name: "subject_relation" }),
    field("Page size", "input", { name: "limit", type: "number", min: "1", max: "1000", value: "10" })),
  field("Context (JSON)", "textarea", { name: "context", rows: 1, spellcheck: "false" }),
  h("button", { type: "submit" }, "Look up subjects"));
  return section("Lookup subjects", p.form, p.msg, p.list, p.more);
}

function expandSection(cons) {
  const out = h("div", { id: "expand-out" });
  const msg = h("p", { role: "status" });
  const form = h("form", { id: "expand-form", on: { submit: async (ev) => {
    ev.preventDefault();
    clear(out);
    out.dataset.loading = "true";
    const v = formValues(form);
    try {
      const r = await post("/v1/expand", { resource: v.resource, permission: v.permission, consistency: cons() });
      status(msg, "read at " + r.read_at);
      out.append(expandTree(r.tree));
    } catch (err) { status(msg, errorText(err), true); }
    out.dataset.loading = "false";
  } } }, h("div", { class: "row" },
    field("Resource", "input", { name: "resource", required: true, value: "dataset:claims" }),
    field("Permission", "input", { name: "permission", required: true, value: "read" })),
  h("button", { type: "submit" }, "Expand"));
  return section("Expand", form, msg, out);
}
