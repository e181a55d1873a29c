// Collapsible trees (details/summary: keyboard and screen-reader friendly
// without script) for the explain trace and for expand.
import { h } from "./dom.js";

// markDecisive sets .decides on the nodes that decided node's result: for a
// union that allows, its first allowing child; for an intersection that
// denies, its first denying child; for an exclusion, the base (and, when the
// base allowed but the answer is denied, the subtraction that removed it);
// otherwise every child with the same result.
export function markDecisive(node, result = node.result) {
  if (!node) return;
  node.decides = true;
  const kids = node.children || [];
  const same = kids.filter((k) => k.result === result);
  let pick;
  switch (node.kind) {
    case "union":
      pick = result === "allowed" ? same.slice(0, 1) : same;
      break;
    case "intersection":
      pick = result === "denied" ? same.slice(0, 1) : same;
      break;
    case "exclusion": {
      const [base, ...subs] = kids;
      if (!base) return;
      if (result === "allowed") { markDecisive(base, "allowed"); return; }
      if (base.result === result) { markDecisive(base, result); return; }
      markDecisive(base, base.result);
      for (const s of subs) if (s.result !== "denied") { markDecisive(s, s.result); return; }
      return;
    }
    default:
      pick = result === "allowed" ? same.slice(0, 1) : same;
  }
  for (const k of pick) markDecisive(k, result);
}

function badge(text, cls) { return h("span", { class: "badge " + cls }, text); }

function traceLabel(t) {
  const target = [t.resource, t.relation].filter(Boolean).join("#");
  const rels = t.relationships || [];
  return [
    h("span", { class: "kind" }, t.kind), " ",
    target ? h("code", {}, target) : null,
    t.subject && t.kind === "check" ? [" @ ", h("code", {}, t.subject)] : null, " ",
    badge(t.result, "result-" + t.result),
    t.decides ? badge("decides", "decides-badge") : null,
    t.cached ? badge("cached", "cached") : null,
    t.mismatch ? badge("re-asked: " + t.mismatch, "bad") : null,
    t.kind === "caveat" || (t.detail && t.detail.caveat) ? badge("caveat " + ((t.detail && t.detail.caveat) || ""), "caveat") : null,
    rels.some((r) => r.includes("[expiration:")) ? badge("expiring", "expiring") : null,
    t.kind === "suspended" ? badge("suspended", "bad") : null,
    (t.missing || []).length ? badge("missing " + t.missing.join(", "), "warn") : null,
    rels.length ? h("span", { class: "rels" }, " via ", rels.map((r, i) => [i ? ", " : "", h("code", {}, r)])) : null,
    t.detail && t.detail.expression ? h("span", { class: "rels" }, " ", h("code", {}, t.detail.expression)) : null,
  ];
}

// traceTree renders an explain trace (after markDecisive).
export function traceTree(t) {
  const li = (node) => {
    const cls = "node" + (node.decides ? " decides" : "") + (node.cached ? " is-cached" : "");
    const kids = node.children || [];
    if (!kids.length) return h("li", { class: cls, data: { kind: node.kind, result: node.result } }, h("div", { class: "leaf" }, traceLabel(node)));
    return h("li", { class: cls, data: { kind: node.kind, result: node.result } },
      h("details", { open: true }, h("summary", {}, traceLabel(node)), h("ul", {}, kids.map(li))));
  };
  return h("ul", { class: "tree", id: "explain-tree", "aria-label": "Explain tree" }, li(t));
}

// expandTree renders POST /v1/expand's tree.
export function expandTree(root) {
  const subj = (s) => h("li", { class: "subject" }, h("code", {}, s.subject),
    s.caveat ? badge("caveat " + s.caveat, "caveat") : null,
    s.expires_at ? badge("expires " + s.expires_at, "expiring") : null);
  const li = (n) => {
    const label = [h("span", { class: "kind" }, n.kind), " ", h("code", {}, [n.resource, n.relation].filter(Boolean).join("#")),
      n.via ? [" via ", h("code", {}, n.via.subject)] : null];
    const kids = [...(n.subjects || []).map(subj), ...(n.children || []).map(li)];
    if (!kids.length) return h("li", { class: "node" }, h("div", { class: "leaf" }, label));
    return h("li", { class: "node" }, h("details", { open: true }, h("summary", {}, label), h("ul", {}, kids)));
  };
  return h("ul", { class: "tree", id: "expand-tree", "aria-label": "Expand tree" }, li(root));
}
