// Building the page: elements from a tag, attributes and children (text is always text, never
// parsed as HTML), and the few shapes every page uses.

const SVG = "http://www.w3.org/2000/svg";

function build(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

// A digest shortened for a table, whole in its title and for screen readers.
export function short(digest) {
  const text = String(digest || "");
  const [alg, hex] = text.includes(":") ? text.split(":", 2) : ["", text];
  const shown = hex.length > 16 ? `${hex.slice(0, 12)}\u2026` : hex;
  return alg ? `${alg}:${shown}` : shown;
}

export function code(text) {
  return h("code", { title: text }, short(text));
}

export function table(caption, headings, rows) {
  return h(
    "table",
    {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headings.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))),
  );
}

export function problem(error) {
  const denied = error && (error.status === 401 || error.status === 403);
  const text = error && error.message ? error.message : String(error);
  return h("p", { class: denied ? "error denied" : "error", role: "alert" }, denied ? `Denied: ${text}` : text);
}

export function field(id, label, control) {
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}
