// An artifact's lineage as an SVG graph, laid out in layers (plain JS, no library): artifacts and
// the hops between them are nodes, each edge runs from an input to its hop or from a hop to its
// output; a node's layer is its longest path from a source, and each layer is ordered by the
// mean position of its nodes' predecessors, which keeps most edges from crossing.

import { s, short } from "./dom.js";

const COLUMN = 280;
const ROW = 36;
const WIDTH = 220;
const HEIGHT = 26;
const MARGIN = 12;

export function layout(lineage) {
  const nodes = new Map();
  const add = (id, node) => {
    if (!nodes.has(id)) nodes.set(id, { id, preds: [], succs: [], ...node });
    return nodes.get(id);
  };
  for (const n of lineage.nodes) add(n.digest, { kind: n.kind, side: n.side, digest: n.digest });
  const edges = [];
  for (const hop of lineage.hops) {
    const id = `hop:${hop.index}`;
    add(id, { hop });
    for (const d of hop.inputs) {
      add(d, { kind: "artifact", side: hop.side, digest: d });
      edges.push([d, id]);
    }
    for (const d of hop.outputs) {
      add(d, { kind: "artifact", side: hop.side, digest: d });
      edges.push([id, d]);
    }
  }
  for (const [from, to] of edges) {
    nodes.get(from).succs.push(to);
    nodes.get(to).preds.push(from);
  }
  // Longest path from a source, in topological order (Kahn); a node on a cycle keeps layer 0.
  const waiting = new Map([...nodes.values()].map((n) => [n.id, n.preds.length]));
  const queue = [...nodes.values()].filter((n) => n.preds.length === 0);
  for (const n of nodes.values()) n.layer = 0;
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i];
    for (const id of n.succs) {
      const m = nodes.get(id);
      m.layer = Math.max(m.layer, n.layer + 1);
      waiting.set(id, waiting.get(id) - 1);
      if (waiting.get(id) === 0) queue.push(m);
    }
  }
  const layers = [];
  for (const n of nodes.values()) (layers[n.layer] ||= []).push(n);
  for (let l = 0; l < layers.length; l++) {
    const layer = layers[l] || (layers[l] = []);
    if (l > 0) {
      const mean = (n) => {
        const ys = n.preds.map((id) => nodes.get(id).row).filter((r) => r !== undefined);
        return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : Infinity;
      };
      const keyed = layer.map((n, i) => [mean(n), i, n]);
      keyed.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      layers[l] = keyed.map((k) => k[2]);
    }
    layers[l].forEach((n, row) => {
      n.row = row;
      n.x = MARGIN + l * COLUMN;
      n.y = MARGIN + row * ROW;
    });
  }
  const rows = Math.max(1, ...layers.map((layer) => layer.length));
  return {
    nodes: [...nodes.values()],
    edges,
    width: MARGIN * 2 + (layers.length - 1) * COLUMN + WIDTH,
    height: MARGIN * 2 + (rows - 1) * ROW + HEIGHT,
    byId: nodes,
  };
}

function describe(n, self) {
  if (n.hop) {
    const h = n.hop;
    const by = h.actor ? ` by ${h.actor}` : "";
    const failed = h.succeeded === false ? ", failed" : "";
    return { label: `${h.hop} #${h.index}${by}`, text: `${h.hop}, entry ${h.index}${by}${failed}` };
  }
  const what = n.digest === self ? "this artifact" : `${n.kind}, ${n.side}`;
  return { label: `${n.kind} ${short(n.digest)}`, text: `${n.digest} (${what})` };
}

// The SVG of `lineage`, its artifact nodes links to their own lineage (`href(digest)`).
export function draw(lineage, href) {
  const g = layout(lineage);
  const titleId = "graph-title";
  const svg = s("svg", {
    class: "graph",
    width: g.width,
    height: g.height,
    viewBox: `0 0 ${g.width} ${g.height}`,
    role: "group",
    "aria-labelledby": titleId,
  });
  svg.append(
    s(
      "title",
      { id: titleId },
      `Lineage of ${lineage.artifact}: ${lineage.nodes.length} artifacts, ${lineage.hops.length} hops`,
    ),
  );
  const paths = s("g", { class: "edges", "aria-hidden": "true" });
  for (const [from, to] of g.edges) {
    const a = g.byId.get(from);
    const b = g.byId.get(to);
    const x1 = a.x + WIDTH;
    const y1 = a.y + HEIGHT / 2;
    const x2 = b.x;
    const y2 = b.y + HEIGHT / 2;
    const mid = (x1 + x2) / 2;
    paths.append(s("path", { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` }));
  }
  svg.append(paths);
  const fragment = document.createDocumentFragment();
  for (const n of g.nodes) {
    const { label, text } = describe(n, lineage.artifact);
    const cls = n.hop ? "node hop" : `node artifact ${n.digest === lineage.artifact ? "self" : n.side}`;
    const box = [
      s("title", {}, text),
      s("rect", { x: n.x, y: n.y, width: WIDTH, height: HEIGHT, rx: 4 }),
      s("text", { x: n.x + 8, y: n.y + HEIGHT / 2 + 5 }, label),
    ];
    if (n.hop) fragment.append(s("g", { class: cls, role: "img", "aria-label": text }, box));
    else fragment.append(s("a", { class: cls, href: href(n.digest), "aria-label": text }, box));
  }
  svg.append(fragment);
  return svg;
}
