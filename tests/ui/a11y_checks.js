// Accessibility basics, checked in the page: returns a list of problems (empty when none).
// - every form control has an accessible name (label, aria-label, aria-labelledby, or text);
// - no positive tabindex (the Tab order is the document's order);
// - text contrast is at least 4.5:1, from computed styles (SVG text against its box's fill);
// - every image and SVG has a text alternative.
const problems = [];
const visible = (e) => {
  const r = e.getBoundingClientRect();
  const st = getComputedStyle(e);
  return r.width > 0 && r.height > 0 && st.visibility !== "hidden" && st.display !== "none";
};
const describe = (e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : ""}`;

function nameOf(e) {
  if (e.getAttribute("aria-label")) return e.getAttribute("aria-label");
  const by = e.getAttribute("aria-labelledby");
  if (by) return by.split(/\s+/).map((id) => document.getElementById(id)?.textContent || "").join(" ").trim();
  if (e.id) {
    const label = document.querySelector(`label[for="${CSS.escape(e.id)}"]`);
    if (label && label.textContent.trim()) return label.textContent.trim();
  }
  const wrapping = e.closest("label");
  if (wrapping && wrapping.textContent.trim()) return wrapping.textContent.trim();
  if (e.tagName === "BUTTON" || e.tagName === "A") return e.textContent.trim();
  return "";
}

for (const e of document.querySelectorAll("input, select, textarea, button")) {
  if (e.type === "hidden" || !visible(e)) continue;
  if (!nameOf(e)) problems.push(`no accessible name: ${describe(e)}`);
}
for (const e of document.querySelectorAll("a[href]")) {
  if (visible(e) && !nameOf(e) && !e.querySelector("title")) problems.push(`a link without a name: ${describe(e)}`);
}
for (const e of document.querySelectorAll("[tabindex]")) {
  if (Number(e.getAttribute("tabindex")) > 0) problems.push(`positive tabindex: ${describe(e)}`);
}
for (const e of document.querySelectorAll("img")) {
  if (!e.hasAttribute("alt")) problems.push(`an image without alt: ${describe(e)}`);
}
for (const e of document.querySelectorAll("svg")) {
  const hidden = e.closest("[aria-hidden='true']");
  const named = e.getAttribute("aria-label") || e.getAttribute("aria-labelledby") || e.querySelector(":scope > title");
  if (!hidden && !named) problems.push(`an SVG without a text alternative: ${describe(e)}`);
}
for (const e of document.querySelectorAll("svg [role='img'], svg a")) {
  if (!e.getAttribute("aria-label") && !e.querySelector("title")) problems.push(`an SVG node without a name: ${describe(e)}`);
}

function rgba(text) {
  const m = /rgba?\(([^)]+)\)/.exec(text);
  if (!m) return null;
  const [r, g, b, a = "1"] = m[1].split(",").map((x) => x.trim());
  return [Number(r), Number(g), Number(b), Number(a)];
}
function luminance([r, g, b]) {
  const f = (c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
}
function ratio(fg, bg) {
  const [a, b] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}
function blend(top, under) {
  const a = top[3];
  return [0, 1, 2].map((i) => top[i] * a + under[i] * (1 - a)).concat(1);
}
function background(e) {
  const layers = [];
  for (let n = e; n && n.nodeType === 1; n = n.parentElement) {
    const c = rgba(getComputedStyle(n).backgroundColor);
    if (c && c[3] > 0) layers.push(c);
    if (c && c[3] === 1) break;
  }
  let bg = [255, 255, 255, 1];
  for (const c of layers.reverse()) bg = blend(c, bg);
  return bg;
}
let checked = 0;
for (const e of document.querySelectorAll("body *")) {
  if (e.closest("svg")) continue;
  const text = [...e.childNodes].filter((n) => n.nodeType === 3 && n.textContent.trim()).length;
  if (!text || !visible(e)) continue;
  const fg = rgba(getComputedStyle(e).color);
  const bg = background(e);
  const r = ratio(blend(fg, bg), bg);
  checked++;
  if (r < 4.5) problems.push(`contrast ${r.toFixed(2)}:1 < 4.5:1: ${describe(e)} "${e.textContent.trim().slice(0, 40)}"`);
}
for (const t of document.querySelectorAll("svg text")) {
  const box = t.parentElement.querySelector("rect");
  const fg = rgba(getComputedStyle(t).fill);
  const bg = box ? rgba(getComputedStyle(box).fill) : [255, 255, 255, 1];
  if (!fg || !bg) continue;
  checked++;
  const r = ratio(fg, bg);
  if (r < 4.5) problems.push(`contrast ${r.toFixed(2)}:1 < 4.5:1: svg text "${t.textContent.slice(0, 40)}"`);
}
if (!checked) problems.push("no text was checked for contrast");
return problems;
