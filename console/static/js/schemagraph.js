// The schema as a graph: a small parser for the SpiceDB schema language (the
// parts a graph needs), a layered layout and an SVG drawing.
import { svg } from "./dom.js";

// tokenize splits schema text into identifiers and punctuation, dropping
// comments and whitespace.
function tokenize(src) {
  const out = [];
  const re = /\s+|\/\/[^\n]*|\/\*[\s\S]*?\*\/|"(?:[^"\\]|\\.)*"|->|[A-Za-z_][A-Za-z0-9_/]*|[0-9]+|./gy;
  let m;
  while ((m = re.exec(src)) !== null) {
    const t = m[0];
    if (/^\s/.test(t) || t.startsWith("//") || t.startsWith("/*")) continue;
    out.push(t);
  }
  return out;
}

// parseSchema returns {definitions: [{name, relations, permissions}], caveats: [{name, params}]}.
// A relation is {name, types: [{type, relation, wildcard, caveat, expiration}]};
// a permission is {name, expr, refs: [name], arrows: [{via, to}]}.
export function parseSchema(src) {
  const t = tokenize(src);
  let i = 0;
  const peek = () => t[i];
  const next = () => t[i++];
  const skipBlock = () => { // from "{" to its matching "}"
    let depth = 0;
    do {
      const x = next();
      if (x === "{") depth++;
      else if (x === "}") depth--;
    } while (depth > 0 && i < t.length);
  };
  const defs = [], caveats = [];
  while (i < t.length) {
    const kw = next();
    if (kw === "use") { next(); continue; }
    if (kw === "caveat") {
      const name = next();
      const params = [];
      if (peek() === "(") {
        next();
        let cur = [], depth = 0;
        while (i < t.length) {
          const x = next();
          if (x === "(" || x === "<") depth++;
          if (x === ")" && depth === 0) break;
          if (x === ")" || x === ">") depth--;
          if (x === "," && depth === 0) { params.push(cur.join(" ")); cur = []; continue; }
          cur.push(x);
        }
        if (cur.length) params.push(cur.join(" "));
      }
      if (peek() === "{") skipBlock();
      caveats.push({ name, params: params.map((p) => p.replace(/ ([<>,]) ?/g, "$1")) });
      continue;
    }
    if (kw !== "definition") continue;
    const def = { name: next(), relations: [], permissions: [] };
    if (next() !== "{") continue;
    while (i < t.length && peek() !== "}") {
      const item = next();
      if (item === "relation") {
        const rel = { name: next(), types: [] };
        if (peek() === ":") next();
        while (i < t.length && !["relation", "permission", "}"].includes(peek())) {
          if (peek() === "|") { next(); continue; }
          const ref = { type: next(), relation: "", wildcard: false, caveat: "", expiration: false };
          if (peek() === ":" && t[i + 1] === "*") { i += 2; ref.wildcard = true; }
          if (peek() === "#") { next(); ref.relation = next(); }
          if (peek() === "with") {
            next();
            for (;;) {
              const trait = next();
              if (trait === "expiration") ref.expiration = true;
              else ref.caveat = trait;
              if (peek() !== "and") break;
              next();
            }
          }
          rel.types.push(ref);
        }
        def.relations.push(rel);
      } else if (item === "permission") {
        const perm = { name: next(), expr: "", refs: [], arrows: [] };
        if (peek() === "=") next();
        const toks = [];
        let depth = 0;
        while (i < t.length) {
          const x = peek();
          if (depth === 0 && ["relation", "permission", "}"].includes(x)) break;
          if (x === "(") depth++;
          if (x === ")") depth--;
          toks.push(next());
        }
        perm.expr = toks.join(" ").replace(/\( /g, "(").replace(/ \)/g, ")").replace(/ -> /g, "->").replace(/ \. /g, ".");
        for (let k = 0; k < toks.length; k++) {
          if (!/^[A-Za-z_]/.test(toks[k]) || toks[k] === "nil") continue;
          if (toks[k + 1] === "->") { perm.arrows.push({ via: toks[k], to: toks[k + 2] }); k += 2; continue; }
          if (toks[k + 1] === "." && /^(any|all)$/.test(toks[k + 2] || "")) {
            perm.arrows.push({ via: toks[k], to: toks[k + 4], all: toks[k + 2] === "all" });
            k += 5;
            continue;
          }
          perm.refs.push(toks[k]);
        }
        def.permissions.push(perm);
      } else if (item === "{") {
        i--; skipBlock();
      }
    }
    next(); // "}"
    defs.push(def);
  }
  return { definitions: defs, caveats };
}

const ROW = 18, HEAD = 24, PAD = 8, GAPX = 150, GAPY = 28, CHAR = 7.2;

// layout places definitions in layers: a definition sits to the right of
// every type its relations point at (longest path; cycles and
// self-references ignored), caveats in the leftmost column. Within a layer,
// boxes are ordered by the mean position of the boxes they point at.
export function layout(model) {
  const byName = new Map(model.definitions.map((d) => [d.name, d]));
  const deps = new Map(model.definitions.map((d) => [d.name,
    [...new Set(d.relations.flatMap((r) => r.types.map((x) => x.type)).filter((n) => n !== d.name && byName.has(n)))]]));
  const layer = new Map(), visiting = new Set();
  const depth = (n) => {
    if (layer.has(n)) return layer.get(n);
    if (visiting.has(n)) return 0; // a cycle: the back edge adds nothing
    visiting.add(n);
    const l = Math.max(-1, ...deps.get(n).map(depth)) + 1;
    visiting.delete(n);
    layer.set(n, l);
    return l;
  };
  const boxes = [];
  for (const d of model.definitions) {
    const rows = [...d.relations.map((r) => ({ kind: "relation", name: r.name, item: r })),
      ...d.permissions.map((p) => ({ kind: "permission", name: p.name, item: p }))];
    const width = Math.max(d.name.length + 11, ...rows.map((r) => r.kind.length + r.name.length + 2)) * CHAR + 2 * PAD;
    boxes.push({ kind: "definition", name: d.name, def: d, rows, layer: depth(d.name) + (model.caveats.length ? 1 : 0), width, height: HEAD + rows.length * ROW + PAD });
  }
  for (const c of model.caveats) {
    const rows = c.params.map((p) => ({ kind: "param", name: p }));
    const width = Math.max(c.name.length + 7, ...rows.map((r) => r.name.length + 1)) * CHAR + 2 * PAD;
    boxes.push({ kind: "caveat", name: c.name, rows, layer: 0, width, height: HEAD + rows.length * ROW + PAD });
  }
  const layers = [];
  for (const b of boxes) (layers[b.layer] ||= []).push(b);
  const order = new Map();
  let x = 20, height = 0;
  layers.forEach((col, li) => {
    if (!col) return;
    if (li > 0) {
      const mean = (b) => {
        const ps = (deps.get(b.name) || []).map((n) => order.get(n)).filter((v) => v !== undefined);
        return ps.length ? ps.reduce((a, v) => a + v, 0) / ps.length : Infinity;
      };
      col.sort((a, b) => mean(a) - mean(b));
    }
    let y = 20;
    const w = Math.max(...col.map((b) => b.width));
    col.forEach((b, k) => {
      b.x = x; b.y = y; b.width = w;
      order.set(b.name, k);
      y += b.height + GAPY;
    });
    height = Math.max(height, y);
    x += w + GAPX;
  });
  const at = new Map(boxes.map((b) => [b.kind + ":" + b.name, b]));
  return { boxes, width: x - GAPX + 40, height: height + 20, box: (kind, name) => at.get(kind + ":" + name) };
}

// rowY is the vertical middle of a box's row (or of its header).
function rowY(box, name) {
  const k = box.rows.findIndex((r) => r.name === name);
  return k < 0 ? box.y + HEAD / 2 : box.y + HEAD + k * ROW + ROW / 2;
}

function curve(x1, y1, x2, y2, side) {
  if (side === "loop") { // same column: out of the right edge and back
    const bend = 40 + Math.min(120, Math.abs(y2 - y1) / 4);
    return `M${x1},${y1} C${x1 + bend},${y1} ${x2 + bend},${y2} ${x2},${y2}`;
  }
  const dx = Math.max(40, Math.abs(x2 - x1) / 2);
  const s = x2 < x1 ? -1 : 1;
  return `M${x1},${y1} C${x1 + s * dx},${y1} ${x2 - s * dx},${y2} ${x2},${y2}`;
}

// edge draws an arrow from a row of one box to a row (or the header) of another.
function edge(from, fromRow, to, toRow, cls, title) {
  const y1 = rowY(from, fromRow), y2 = rowY(to, toRow);
  let d;
  if (to === from || to.x === from.x) d = curve(from.x + from.width, y1, to.x + to.width, y2, "loop");
  else if (to.x < from.x) d = curve(from.x, y1, to.x + to.width, y2);
  else d = curve(from.x + from.width, y1, to.x, y2);
  return svg("path", { d, class: "edge " + cls, "marker-end": "url(#arrow-" + cls.split(" ")[0] + ")" }, svg("title", { text: title }));
}

// draw renders the model as an SVG element.
export function draw(model) {
  const L = layout(model);
  const markers = ["subject", "ttu", "caveat"].map((k) => svg("marker", { id: "arrow-" + k, class: "marker-" + k, viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
    svg("path", { d: "M0,0 L10,5 L0,10 z" })));
  const edges = [], nodes = [];
  for (const b of L.boxes) {
    const g = svg("g", { class: "box box-" + b.kind, "data-name": b.name },
      svg("rect", { x: b.x, y: b.y, width: b.width, height: b.height, rx: 6 }),
      svg("text", { x: b.x + PAD, y: b.y + 16, class: "box-title", text: (b.kind === "caveat" ? "caveat " : "definition ") + b.name }));
    b.rows.forEach((r, k) => {
      const y = b.y + HEAD + k * ROW + 13;
      g.append(svg("text", { x: b.x + PAD, y, class: "row row-" + r.kind, "data-row": r.name },
        r.kind === "param" ? r.name : [svg("tspan", { class: "kw", text: r.kind === "relation" ? "relation " : "permission " }), r.name],
        r.item && r.item.expr ? svg("title", { text: `permission ${r.name} = ${r.item.expr}` }) : null));
    });
    nodes.push(g);
    if (b.kind !== "definition") continue;
    for (const rel of b.def.relations) {
      for (const ref of rel.types) {
        const target = L.box("definition", ref.type);
        if (!target) continue;
        const label = `${b.name}#${rel.name} → ${ref.type}${ref.wildcard ? ":*" : ""}${ref.relation ? "#" + ref.relation : ""}`;
        edges.push(edge(b, rel.name, target, ref.relation, "subject", label));
        const cav = ref.caveat && L.box("caveat", ref.caveat);
        if (cav) edges.push(edge(b, rel.name, cav, "", "caveat", `${b.name}#${rel.name} with ${ref.caveat}`));
      }
    }
    for (const p of b.def.permissions) {
      for (const a of p.arrows) {
        const via = b.def.relations.find((r) => r.name === a.via);
        if (!via) continue;
        // tuple-to-userset: the permission reaches through its relation...
        edges.push(edge(b, p.name, b, a.via, "ttu", `${b.name}#${p.name} uses ${a.via}->${a.to}`));
        // ...to the named relation or permission on each type it points at.
        for (const ref of via.types) {
          const target = L.box("definition", ref.type);
          if (target) edges.push(edge(b, a.via, target, a.to, "ttu arrow-target", `${b.name}#${a.via}->${a.to}: ${ref.type}#${a.to}`));
        }
      }
    }
  }
  return svg("svg", { class: "schema-graph", width: L.width, height: L.height, viewBox: `0 0 ${L.width} ${L.height}`, role: "img",
    "aria-label": `Schema graph: ${model.definitions.length} definitions and ${model.caveats.length} caveats` },
  svg("defs", {}, markers), svg("g", { class: "edges" }, edges), svg("g", { class: "nodes" }, nodes));
}
