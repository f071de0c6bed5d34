// The witnesses: how far each has cosigned the log, and the cosignatures the latest checkpoint
// carries. A server without witnesses (or without the witness routes) says so.

import { code, h, table } from "./dom.js";

const when = (t) => (t === null || t === undefined ? "never" : new Date(t * 1000).toISOString().replace(".000", ""));

export async function witnessesPage(view, ctx) {
  view.append(h("h1", {}, "Witnesses"));
  const panel = h("section", { id: "witness-panel", "aria-labelledby": "witness-status" }, h("h2", { id: "witness-status" }, "Status"));
  view.append(panel);
  let status = null;
  try {
    status = await ctx.api("/v1/witnesses");
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  if (!status || !status.witnesses || !status.witnesses.length) {
    panel.append(h("p", { class: "empty" }, "No witnesses configured: this log's checkpoints are signed by the log alone."));
  } else {
    panel.append(
      table(
        `Witnesses of a log of ${status.tree_size} entries`,
        ["Name", "Verifier key", "Cosigned size", "Behind by", "Cosigned at"],
        status.witnesses.map((w) => [
          w.name,
          code(w.vkey),
          w.size === null ? "none" : String(w.size),
          w.size === null ? "\u2013" : String(status.tree_size - w.size),
          when(w.time),
        ]),
      ),
    );
  }
  const cp = await ctx.api("/v1/log/checkpoint");
  const cosignatures = cp.cosignatures || [];
  view.append(
    h("h2", {}, `Latest checkpoint (size ${cp.tree_size})`),
    cosignatures.length
      ? table("Cosignatures", ["Witness", "Verifier key", "Time"], cosignatures.map((c) => [c.name, code(c.vkey), when(c.time)]))
      : h("p", {}, "The latest checkpoint carries no cosignature."),
  );
}
