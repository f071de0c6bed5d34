// What one compromise reaches: a package, advisory, actor, key, dataset or location, with the
// credentials to rotate as a checklist.

import { code, field, h, table } from "./dom.js";

const KINDS = {
  package: "Package (NAME==VERSION)",
  advisory: "Advisory",
  actor: "Actor",
  key: "Key id",
  dataset: "Dataset digest",
  location: "Location",
};

export async function impactPage(view, ctx, rest) {
  const [kind = "package", ...value] = rest;
  const asked = value.join("/");
  const select = h(
    "select",
    { id: "impact-kind", name: "kind" },
    Object.entries(KINDS).map(([k, label]) => h("option", { value: k, selected: k === kind }, label)),
  );
  const input = h("input", { id: "impact-value", name: "value", type: "text", value: asked, required: true, size: 48, spellcheck: "false" });
  const form = h(
    "form",
    {
      class: "query",
      onsubmit: (e) => {
        e.preventDefault();
        if (input.value.trim()) ctx.go(`#/impact/${select.value}/${encodeURIComponent(input.value.trim())}`);
      },
    },
    field("impact-kind", "Compromised", select),
    field("impact-value", "Which", input),
    h("button", { type: "submit" }, "Show impact"),
  );
  view.append(h("h1", {}, "Impact"), form);
  if (!asked || !(kind in KINDS)) return;
  const report = await ctx.api("/v1/impact", { [kind]: asked });
  view.append(h("h2", {}, `Impact of ${kind} ${asked}`));
  view.append(checklist(report.credentials));
  const items = (list) =>
    list.map((i) => [h("a", { href: `#/lineage/${encodeURIComponent(i.digest)}` }, code(i.digest)), i.harm.join(", "), String(i.index), i.via]);
  view.append(
    table(`Datasets (${report.datasets.length})`, ["Dataset", "Harm", "Entry", "Why"], items(report.datasets)),
    table(`Models (${report.models.length})`, ["Model", "Harm", "Entry", "Why"], items(report.models)),
    table(
      `Runs (${report.runs.length})`,
      ["Entry", "Hop", "Actor", "Harm", "Why"],
      report.runs.map((r) => [String(r.index), r.hop, r.actor || "", r.harm, r.via]),
    ),
    table(
      `Grants (${report.grants.length})`,
      ["Grant", "Grantee", "Dataset", "Expires", "Revoked at"],
      report.grants.map((g) => [code(g.grant_id), g.grantee, code(g.artifact), g.expires, g.revoked_at === null ? "" : String(g.revoked_at)]),
    ),
    table(
      `Actors (${report.actors.length})`,
      ["Name", "Role", "Organisation", "Key"],
      report.actors.map((a) => [a.name, a.role, a.organisation || "", code(a.keyid)]),
    ),
  );
}

function checklist(credentials) {
  const box = h("section", { class: "checklist", "aria-labelledby": "rotate-title" }, h("h3", { id: "rotate-title" }, "Credentials to rotate"));
  if (!credentials.length) {
    box.append(h("p", {}, "No credential was exposed to the affected runs."));
    return box;
  }
  const list = h("ul", { class: "plain" });
  credentials.forEach((c, i) => {
    const id = `rotate-${i}`;
    list.append(
      h(
        "li",
        {},
        h("input", { type: "checkbox", id, name: c.name }),
        " ",
        h("label", { for: id }, `Rotate ${c.name}`),
        h("span", { class: "note" }, ` (present in the environment of ${c.environments.length === 1 ? "entry" : "entries"} ${c.environments.join(", ")})`),
      ),
    );
  });
  box.append(h("p", {}, "Tick each credential once it is rotated."), list);
  return box;
}
