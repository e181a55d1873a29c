// Schema page: the graph, the source, lint warnings and a diff of a proposal.
import { get, post, errorText } from "./api.js";
import { h, field, section, status, table, clear } from "./dom.js";
import { parseSchema, draw } from "./schemagraph.js";

export async function render(main) {
  const s = await get("/v1/schema");
  const model = parseSchema(s.schema);
  const warnings = h("ul", { class: "warnings", id: "lint" });
  const graph = h("div", { class: "graph-wrap", id: "schema-graph" }, draw(model));
  const fit = h("button", { type: "button", id: "graph-fit", "aria-pressed": "false", "aria-controls": "schema-graph", on: { click: () => {
    const on = graph.classList.toggle("fit");
    fit.setAttribute("aria-pressed", String(on));
  } } }, "Fit to width");
  const legend = h("p", { class: "legend" },
    h("span", { class: "key key-subject" }, "subject type"), " ",
    h("span", { class: "key key-ttu" }, "tuple-to-userset (through its relation)"), " ",
    h("span", { class: "key key-caveat" }, "caveat"));
  main.append(
    h("p", { class: "meta" }, `hash ${s.hash} · read at `, h("code", {}, s.read_at)),
    h("div", { class: "split" },
      section("Graph", h("div", { class: "row" }, legend, fit), graph),
      section("Source", h("pre", { class: "source", id: "schema-source", tabindex: "0", "aria-label": "Schema source" }, s.schema))),
    section("Lint warnings", warnings),
    diffSection(s.schema));
  try {
    const lint = await post("/v1/schema/diff", { schema: s.schema });
    const ws = lint.warnings || [];
    warnings.append(...(ws.length ? ws.map((w) => h("li", {}, w)) : [h("li", { class: "ok" }, "No warnings.")]));
  } catch (err) {
    warnings.append(h("li", { class: "error" }, errorText(err)));
  }
}

function diffSection(current) {
  const out = h("div", { id: "diff-result", "aria-live": "polite" });
  const msg = h("p", { role: "status" });
  const proposal = field("Proposed schema", "textarea", { name: "proposal", rows: 10, spellcheck: "false" });
  proposal.control.value = current;
  const form = h("form", { id: "diff-form", on: { submit: async (ev) => {
    ev.preventDefault();
    clear(out);
    out.dataset.loading = "true";
    status(msg, "Comparing…");
    try {
      const d = await post("/v1/schema/diff", { schema: proposal.control.value });
      const changes = d.changes || [];
      status(msg, changes.length ? `${changes.length} change(s), ${changes.filter((c) => c.breaking).length} breaking.` : "No changes.");
      if (changes.length) {
        out.append(table(["", "Change", "Target", "Description"], changes.map((c) =>
          h("tr", { class: c.breaking ? "breaking" : c.access_change ? "access" : "" },
            h("td", {}, c.breaking ? h("strong", { class: "badge bad" }, "breaking") : c.access_change ? h("span", { class: "badge warn" }, "access change") : h("span", { class: "badge" }, "safe")),
            h("td", {}, c.kind), h("td", {}, h("code", {}, c.target)), h("td", {}, c.description))), "Changes against the stored schema"));
      }
      if ((d.warnings || []).length) out.append(h("ul", { class: "warnings" }, d.warnings.map((w) => h("li", {}, w))));
    } catch (err) {
      status(msg, errorText(err), true);
    }
    out.dataset.loading = "false";
  } } }, proposal, h("button", { type: "submit", id: "diff-submit" }, "Compare with the stored schema"));
  return section("Diff a proposal", form, msg, out);
}
