// Schema page: the graph, the formatted source, lint warnings and a diff of
// a proposal (which can be formatted in place).
import { get, post, errorText } from "./api.js";
import { h, field, section, status, table, clear } from "./dom.js";
import { parseSchema, draw } from "./schemagraph.js";

// schemaErrors lists the line and column of each error an invalid_schema
// answer carries (details.errors), after its message.
function schemaErrors(err) {
  const list = (err && err.details && err.details.errors) || [];
  return h("div", { class: "error", id: "schema-errors" }, h("p", {}, errorText(err).split("\n")[0]),
    list.length ? h("ul", {}, list.map((e) => h("li", {}, `line ${e.line}, column ${e.column}: ${e.message}`))) : null);
}

export async function render(main) {
  const s = await get("/v1/schema");
  // The stored text is shown in the canonical layout (POST /v1/schema/format,
  // the formatter of trellis schema fmt); the stored text itself is kept.
  let source = s.schema, note;
  try {
    const f = await post("/v1/schema/format", { schema: s.schema });
    source = f.formatted;
    note = h("p", { class: "hint", id: "schema-source-note" }, f.changed
      ? "In the canonical layout (as trellis schema fmt writes it); the stored text differs only in layout and is what GET /v1/schema returns."
      : "The stored text, already in the canonical layout.");
  } catch (err) {
    note = h("p", { class: "error", id: "schema-source-note" }, "Showing the stored text: formatting failed: " + errorText(err));
  }
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
      section("Source", note, h("pre", { class: "source", id: "schema-source", tabindex: "0", "aria-label": "Schema source" }, source))),
    section("Lint warnings", warnings),
    diffSection(source));
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
  // Format rewrites the proposal in the canonical layout, or lists its
  // syntax errors with their line and column.
  const format = h("button", { type: "button", id: "diff-format", on: { click: async () => {
    clear(out);
    out.dataset.loading = "true";
    status(msg, "Formatting…");
    try {
      const f = await post("/v1/schema/format", { schema: proposal.control.value });
      proposal.control.value = f.formatted;
      status(msg, f.changed ? "Formatted." : "Already formatted.");
    } catch (err) {
      status(msg, "Not formatted.", true);
      out.append(schemaErrors(err));
    }
    out.dataset.loading = "false";
  } } }, "Format");
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
      status(msg, errorText(err).split("\n")[0], true);
      if (err.code === "invalid_schema") out.append(schemaErrors(err));
    }
    out.dataset.loading = "false";
  } } }, proposal, h("div", { class: "row" }, h("button", { type: "submit", id: "diff-submit" }, "Compare with the stored schema"), format));
  return section("Diff a proposal", form, msg, out);
}
