// An artifact's lineage, upstream and downstream, as a graph whose artifacts link to their own.

import { field, h, table, code } from "./dom.js";
import { draw } from "./graph.js";

const href = (digest) => `#/lineage/${encodeURIComponent(digest)}`;

export async function lineagePage(view, ctx, rest) {
  performance.mark("lineage-start");
  const artifact = rest.join("/");
  const input = h("input", {
    id: "artifact",
    name: "artifact",
    type: "text",
    value: artifact,
    required: true,
    spellcheck: "false",
    autocomplete: "off",
    placeholder: "sha256:\u2026",
    size: 72,
  });
  const form = h(
    "form",
    {
      class: "query",
      onsubmit: (e) => {
        e.preventDefault();
        const value = input.value.trim();
        if (value) ctx.go(href(value));
      },
    },
    field("artifact", "Artifact digest", input),
    h("button", { type: "submit" }, "Show lineage"),
  );
  view.append(h("h1", {}, "Lineage"), form);
  if (!artifact) return;
  const lineage = await ctx.api("/v1/lineage", { artifact });
  view.append(
    h("h2", {}, "Lineage of ", code(lineage.artifact)),
    h(
      "p",
      {},
      `${lineage.nodes.length} artifacts and ${lineage.hops.length} hops. Select an artifact to see its own lineage.`,
    ),
  );
  const svg = draw(lineage, href);
  view.append(h("div", { class: "graph-frame" }, svg));
  // Drawn once the browser has laid out and painted it: the frame after the one that shows it.
  await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  svg.setAttribute("data-drawn", "true");
  performance.mark("lineage-drawn");
  performance.measure("lineage", "lineage-start", "lineage-drawn");
  view.append(
    table(
      "Hops",
      ["Entry", "Hop", "Side", "Actor", "Inputs", "Outputs", "Time"],
      lineage.hops.map((hop) => [
        String(hop.index),
        hop.succeeded ? hop.hop : `${hop.hop} (failed)`,
        hop.side,
        hop.actor || "",
        String(hop.inputs.length),
        String(hop.outputs.length),
        hop.time || "",
      ]),
    ),
  );
}
