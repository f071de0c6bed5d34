// What the browser checks for itself: a checkpoint's signature (C2SP signed note, Ed25519,
// against the log's verifier key), an entry's RFC 9162 inclusion proof against that checkpoint,
// and the DSSE envelope / in-toto statement a leaf holds.

import { concat, equal, fromBase64, fromHex, sha256, utf8 } from "./bytes.js";

export class Unverified extends Error {}

const DASH = "\u2014 ";

async function keyHash(name, algorithm, publicRaw) {
  return (await sha256(concat(utf8.encode(name + "\n"), new Uint8Array([algorithm]), publicRaw))).slice(0, 4);
}

// `name+hexhash+base64(0x01 || key)`: {name, hash, publicRaw}; the hash is checked.
export async function parseVkey(vkey) {
  // The name has no "+"; the base64 key may.
  const found = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(vkey);
  if (!found) throw new Unverified("the log's verifier key is malformed");
  const [, name, hash, b64] = found;
  const data = fromBase64(b64);
  if (data.length !== 33 || data[0] !== 0x01) throw new Unverified("the verifier key is not an Ed25519 key");
  const publicRaw = data.slice(1);
  const expected = await keyHash(name, 0x01, publicRaw);
  if (!equal(fromHex(hash), expected)) throw new Unverified("the verifier key's hash does not match its key");
  return { name, hash: expected, publicRaw };
}

// The checkpoint in `note` once a signature by `vkey` verifies: {origin, size, root (bytes)}.
export async function openCheckpoint(note, vkey) {
  const verifier = await parseVkey(vkey);
  const at = note.lastIndexOf("\n\n");
  if (at < 0 || !note.endsWith("\n")) throw new Unverified("the checkpoint has no signature block");
  const body = note.slice(0, at + 1);
  const key = await crypto.subtle.importKey("raw", verifier.publicRaw, { name: "Ed25519" }, false, ["verify"]);
  let found = false;
  for (const line of note.slice(at + 2, -1).split("\n")) {
    if (!line.startsWith(DASH)) throw new Unverified("a signature line of the checkpoint is malformed");
    const [name, b64] = line.slice(DASH.length).split(" ");
    const blob = fromBase64(b64 || "");
    if (name !== verifier.name || blob.length < 5 || !equal(blob.slice(0, 4), verifier.hash)) continue;
    const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, blob.slice(4), utf8.encode(body));
    if (!ok) throw new Unverified(`the checkpoint's signature by ${name} does not verify`);
    found = true;
  }
  if (!found) throw new Unverified(`the checkpoint carries no signature by ${verifier.name}`);
  const [origin, size, root] = body.split("\n");
  if (!/^[0-9]+$/.test(size)) throw new Unverified("the checkpoint's size is malformed");
  return { origin, size: Number(size), root: fromBase64(root) };
}

export async function leafHash(leaf) {
  return sha256(concat(new Uint8Array([0x00]), leaf));
}

async function nodeHash(left, right) {
  return sha256(concat(new Uint8Array([0x01]), left, right));
}

// RFC 9162 section 2.1.3.2: whether `proof` (hex hashes) takes the leaf hash at `index` of a tree
// of `size` leaves to `root`.
export async function verifyInclusion(index, size, hash, proof, root) {
  if (!(index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r = hash;
  for (const hex of proof) {
    const p = fromHex(hex);
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equal(r, root);
}

// What an entry says: {predicateType, subjects [{name, digest}], signers [keyid], predicate}.
export function decodeLeaf(leaf) {
  const envelope = JSON.parse(new TextDecoder().decode(leaf));
  const statement = JSON.parse(new TextDecoder().decode(fromBase64(envelope.payload)));
  return {
    predicateType: String(statement.predicateType || ""),
    subjects: (statement.subject || []).map((s) => ({
      name: String(s.name || ""),
      digest: Object.entries(s.digest || {}).map(([alg, value]) => `${alg}:${value}`).join(" "),
    })),
    signers: (envelope.signatures || []).map((s) => String(s.keyid || "")),
    predicate: statement.predicate,
  };
}

// A short name for a predicate type: the path after the project's base, else the whole URI.
export function typeName(uri) {
  const known = /^https:\/\/chainproof\.dev\/(.+?)(\/v\d+)?$/.exec(uri);
  return known ? known[1] : uri;
}

// The C2SP tlog-cosignature lines of `note` by the witness `vkey` (NAME+HASH+base64(0x04 || key)):
// the newest timestamp among those that verify over "cosignature/v1\ntime T\n" + the checkpoint
// body, or null when none is there. Throws Unverified for a line by that key that does not verify.
export async function cosignedAt(note, vkey) {
  const found = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(vkey);
  if (!found) throw new Unverified("the witness's verifier key is malformed");
  const [, name, hash, b64] = found;
  const data = fromBase64(b64);
  if (data.length !== 33 || data[0] !== 0x04) throw new Unverified("the witness key is not a cosignature/v1 key");
  const publicRaw = data.slice(1);
  const keyId = await keyHash(name, 0x04, publicRaw);
  if (!equal(fromHex(hash), keyId)) throw new Unverified("the witness key's hash does not match its key");
  const at = note.lastIndexOf("\n\n");
  const body = note.slice(0, at + 1);
  const key = await crypto.subtle.importKey("raw", publicRaw, { name: "Ed25519" }, false, ["verify"]);
  let newest = null;
  for (const line of note.slice(at + 2, -1).split("\n")) {
    const [who, sig] = line.slice(DASH.length).split(" ");
    const blob = fromBase64(sig || "");
    if (who !== name || blob.length !== 76 || !equal(blob.slice(0, 4), keyId)) continue;
    const time = Number(new DataView(blob.buffer, blob.byteOffset + 4, 8).getBigUint64(0));
    const signed = utf8.encode(`cosignature/v1\ntime ${time}\n${body}`);
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, key, blob.slice(12), signed))) {
      throw new Unverified(`the cosignature by ${name} does not verify`);
    }
    newest = newest === null ? time : Math.max(newest, time);
  }
  return newest;
}
