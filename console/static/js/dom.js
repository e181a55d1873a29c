// DOM helpers. Text always goes in as text nodes (never innerHTML), so data
// from the API cannot inject markup.

let uid = 0;

// h builds an element: h("button", {class: "x", on: {click: f}}, "text", child).
// Attributes: class, text, on (event handlers), data (dataset), and any other
// attribute set verbatim (false/null/undefined skip it).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k === "data") Object.assign(el.dataset, v);
    else if (k === "text") el.textContent = v;
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// svg builds an SVG element.
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "text") el.textContent = v;
    else el.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) if (c) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

// field is a labelled control: field("Resource", "input", {name: "resource"}).
// Returns the wrapper; the control is wrapper.control.
export function field(label, tag, attrs, ...children) {
  const id = (attrs && attrs.id) || "f" + ++uid;
  const control = h(tag, { ...attrs, id }, ...children);
  const wrap = h("div", { class: "field" }, h("label", { for: id }, label), control);
  wrap.control = control;
  return wrap;
}

// select is a labelled <select>; attrs (e.g. an id) go on the control.
export function select(label, name, options, value, attrs) {
  return field(label, "select", { ...attrs, name },
    options.map((o) => {
      const [v, text] = Array.isArray(o) ? o : [o, o];
      return h("option", { value: v, selected: v === value }, text);
    }));
}

export function clear(el) { el.replaceChildren(); return el; }

// status shows a message (or an error) in a live region.
export function status(el, msg, isError) {
  el.textContent = msg;
  el.classList.toggle("error", !!isError);
}

export function formValues(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    out[el.name] = el.type === "checkbox" ? el.checked : el.value.trim();
  }
  return out;
}

export function table(headers, rows, caption) {
  return h("table", {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows));
}

export function section(title, ...children) {
  const id = "s" + ++uid;
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}
