// Grants and who used them: each dataset's grants with their status, and its access records,
// each with the grant that covered it (or none).

import { code, h, problem, table } from "./dom.js";

async function all(ctx, path, query, field) {
  const found = [];
  for (let start = 0; start !== null; ) {
    const page = await ctx.api(path, { ...query, start, limit: 500 });
    found.push(...page[field]);
    start = page.next ?? null;
  }
  return found;
}

export async function grantsPage(view, ctx) {
  view.append(h("h1", {}, "Grants and their use"));
  // A contractor may list its own grants only; everyone else sees every grant.
  const query = ctx.who.role === "contractor" ? { grantee: ctx.who.name } : {};
  const grants = await all(ctx, "/v1/grants", query, "grants");
  if (!grants.length) {
    view.append(h("p", {}, "No grants."));
    return;
  }
  const datasets = [...new Set(grants.map((g) => g.artifact))];
  for (const artifact of datasets) {
    const section = h("section", { class: "dataset" }, h("h2", {}, "Dataset ", h("a", { href: `#/lineage/${encodeURIComponent(artifact)}` }, code(artifact))));
    const mine = grants.filter((g) => g.artifact === artifact);
    section.append(
      table(
        "Grants",
        ["Grantee", "Purpose", "Expires", "Status", "Grant", "Entry"],
        mine.map((g) => [g.grantee, g.purpose || "", g.expires, h("span", { class: `badge ${g.status === "active" ? "ok" : "bad"}` }, g.status), code(g.grant_id), String(g.index)]),
      ),
    );
    try {
      const { uses } = await ctx.api("/v1/grants/uses", { artifact });
      section.append(
        uses.length
          ? table(
              "Uses (access records)",
              ["Entry", "Actor", "Time", "Under grant"],
              uses.map((u) => [String(u.index), u.actor || code(u.keyid), u.time || "", u.grant_id ? code(u.grant_id) : h("span", { class: "badge bad" }, "no grant")]),
            )
          : h("p", {}, "No recorded use."),
      );
    } catch (error) {
      section.append(problem(error));
    }
    view.append(section);
  }
}
