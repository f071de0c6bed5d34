// The witnesses: how far each has cosigned the log, and the cosignatures the latest checkpoint
// carries, each checked here (C2SP tlog-cosignature, against the witness's key). A server without
// witnesses (or without the witness routes) says so.

import { code, h, problem, table } from "./dom.js";
import { cosignedAt, openCheckpoint } from "./verify.js";

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
  const [info, cp] = await Promise.all([ctx.api("/v1/log"), ctx.api("/v1/log/checkpoint")]);
  const section = h("section", { id: "cosignatures", "aria-labelledby": "cosigned-title" });
  section.append(h("h2", { id: "cosigned-title" }, `Latest checkpoint (size ${cp.tree_size})`));
  view.append(section);
  await openCheckpoint(cp.note, info.vkey);
  section.append(h("p", {}, h("span", { class: "badge ok" }, "Checkpoint signature verified")));
  const cosignatures = cp.cosignatures || [];
  if (!cosignatures.length) {
    section.append(h("p", {}, "The latest checkpoint carries no cosignature."));
    return;
  }
  const rows = [];
  for (const c of cosignatures) {
    let state;
    try {
      const time = await cosignedAt(cp.note, c.vkey);
      state =
        time === c.time
          ? h("span", { class: "badge ok" }, "verified")
          : h("span", { class: "badge bad" }, time === null ? "NOT IN THE NOTE" : "TIME DIFFERS");
    } catch (error) {
      state = problem(error);
    }
    rows.push([c.name, code(c.vkey), when(c.time), state]);
  }
  section.append(table("Cosignatures", ["Witness", "Verifier key", "Time", "Cosignature"], rows));
}
