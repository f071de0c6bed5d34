// The log's entries, a page at a time, each decoded (statement type, subjects, signers) and
// proved: its inclusion proof is checked here against the latest checkpoint, whose signature is
// checked against the log's verifier key.

import { fromBase64, toHex } from "./bytes.js";
import { code, h, problem, short } from "./dom.js";
import { decodeLeaf, leafHash, openCheckpoint, typeName, verifyInclusion } from "./verify.js";

const PAGE = 20;

let names = null; // keyid -> key name, read once per sign-in from /v1/keys

async function keyNames(ctx) {
  if (names && names.who === ctx.who.keyid) return names.map;
  const map = new Map();
  for (let start = 0; start !== null; ) {
    const page = await ctx.api("/v1/keys", { start, limit: 500 });
    for (const k of page.keys) map.set(k.keyid, k.name);
    start = page.next ?? null;
  }
  names = { who: ctx.who.keyid, map };
  return map;
}

export async function checkpoint(ctx) {
  const info = await ctx.api("/v1/log");
  const cp = await ctx.api("/v1/log/checkpoint");
  const opened = await openCheckpoint(cp.note, info.vkey);
  return { info, raw: cp, ...opened };
}

export async function entriesPage(view, ctx, rest) {
  const start = Math.max(0, Number(new URLSearchParams(rest[0] || "").get("start") || 0) || 0);
  view.append(h("h1", {}, "Log entries"));
  const [page, cp] = await Promise.all([ctx.api("/v1/log/entries", { start, limit: PAGE }), checkpoint(ctx)]);
  const known = await keyNames(ctx).catch(() => new Map());
  view.append(
    h(
      "p",
      { class: "checkpoint" },
      h("span", { class: "badge ok" }, "Checkpoint signature verified"),
      ` ${cp.origin}, ${cp.size.toLocaleString("en")} entries, root `,
      code(toHex(cp.root)),
      ` (verifier key `,
      code(cp.info.vkey),
      ")",
    ),
  );
  const rows = h("tbody");
  view.append(
    h(
      "table",
      { class: "entries" },
      h("caption", {}, `Entries ${start} to ${start + page.entries.length - 1} of ${page.tree_size}`),
      h(
        "thead",
        {},
        h("tr", {}, ["Index", "Type", "Subjects", "Signers", "Inclusion proof", "Details"].map((t) => h("th", { scope: "col" }, t))),
      ),
      rows,
    ),
  );
  const checks = [];
  for (const entry of page.entries) {
    const leaf = fromBase64(entry.leaf);
    let decoded;
    try {
      decoded = decodeLeaf(leaf);
    } catch {
      decoded = { predicateType: "(not a statement)", subjects: [], signers: [] };
    }
    const status = h("td", { class: "proof", "data-index": entry.index }, h("span", { class: "badge" }, "checking\u2026"));
    const details = h("details", {}, h("summary", {}, `Entry ${entry.index}`));
    rows.append(
      h(
        "tr",
        { id: `entry-${entry.index}` },
        h("th", { scope: "row" }, String(entry.index)),
        h("td", { title: decoded.predicateType }, typeName(decoded.predicateType)),
        h(
          "td",
          {},
          h("ul", { class: "plain" }, decoded.subjects.map((s) => h("li", {}, s.name && s.name !== s.digest ? `${s.name} ` : "", code(s.digest)))),
        ),
        h(
          "td",
          {},
          h("ul", { class: "plain" }, decoded.signers.map((k) => h("li", { title: k }, known.get(k) || short(k)))),
        ),
        status,
        h("td", {}, details),
      ),
    );
    if (decoded.predicate !== undefined) {
      details.append(h("p", {}, "Statement predicate:"), h("pre", {}, JSON.stringify(decoded.predicate, null, 2)));
    }
    checks.push(prove(ctx, entry.index, leaf, cp, status, details));
  }
  await Promise.all(checks);
  const links = h("p", { class: "pager" });
  if (start > 0) links.append(h("a", { href: `#/entries/start=${Math.max(0, start - PAGE)}` }, "Earlier entries"), " ");
  if (page.next !== null) {
    const last = Math.max(0, page.tree_size - PAGE);
    links.append(h("a", { href: `#/entries/start=${page.next}` }, "Later entries"), " ");
    if (last > page.next) links.append(h("a", { href: `#/entries/start=${last}` }, "Latest entries"));
  }
  view.append(links);
}

async function prove(ctx, index, leaf, cp, cell, details) {
  let badge;
  try {
    if (index >= cp.size) {
      badge = h("span", { class: "badge" }, "not yet in the checkpoint");
    } else {
      const proof = await ctx.api("/v1/log/proofs/inclusion", { index, size: cp.size });
      const hash = await leafHash(leaf);
      const ok = await verifyInclusion(index, cp.size, hash, proof.proof, cp.root);
      details.querySelector("summary").after(
        h("p", {}, "Leaf hash (RFC 9162): ", h("code", {}, toHex(hash))),
        h("p", {}, `Inclusion proof in the tree of ${cp.size} entries (${proof.proof.length} hashes, leaf to root):`),
        h("ol", { class: "hashes" }, proof.proof.map((p) => h("li", {}, h("code", {}, p)))),
      );
      badge = ok
        ? h("span", { class: "badge ok", title: `in the checkpoint of size ${cp.size}` }, "verified")
        : h("span", { class: "badge bad" }, "PROOF FAILED");
    }
  } catch (error) {
    badge = problem(error);
  }
  cell.replaceChildren(badge);
}
