// Sign-in and signed requests. The user's actor key (a PKCS#8 PEM file, as `chainproof key new`
// writes it, encrypted or not) is imported into WebCrypto as a
// non-extractable Ed25519 key kept for this tab only; every API request is signed with it per
// RFC 9421 exactly as the command-line client signs: label `chainproof`, covering @method,
// @target-uri and content-digest (RFC 9530 sha-256 of the body, empty or not), with created,
// keyid, alg="ed25519" and a random nonce.

import { concat, fromBase64, sha256, toBase64, toBase64Url, toHex, utf8 } from "./bytes.js";
import { decryptPkcs8, EncryptedKeyError } from "./pkcs8.js";

const LABEL = "chainproof";
// The SubjectPublicKeyInfo of an Ed25519 key is this prefix and the 32-byte key: its SHA-256 is
// the key id (`chainproof.attest.keys.keyid`).
const SPKI_PREFIX = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

export class KeyFileError extends Error {}

export class RequestFailed extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// A key file whose passphrase the page must ask for.
export class NeedsPassphrase extends KeyFileError {}

function pemBlock(text) {
  const found = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!found) throw new KeyFileError("This file is not a PEM key file.");
  const label = found[1];
  if (label !== "PRIVATE KEY" && label !== "ENCRYPTED PRIVATE KEY") {
    throw new KeyFileError(`This file holds a ${label.toLowerCase()}, not a private key.`);
  }
  try {
    return { encrypted: label === "ENCRYPTED PRIVATE KEY", der: fromBase64(found[2].replace(/\s+/g, "")) };
  } catch {
    throw new KeyFileError("The key file's PEM body is not valid base64.");
  }
}

export async function keyidOf(publicRaw) {
  return toHex(await sha256(concat(SPKI_PREFIX, publicRaw)));
}

// The key in `text`: {key (non-extractable CryptoKey), keyid}. The public key is read once from a
// transient extractable import (WebCrypto cannot derive it otherwise); only the non-extractable
// key is kept.
// An encrypted key file (PBES2, as `key new --passphrase-env` writes it) needs `passphrase`:
// NeedsPassphrase without one.
export async function importKeyFile(text, passphrase = null) {
  const block = pemBlock(text);
  let der = block.der;
  if (block.encrypted) {
    if (passphrase === null) throw new NeedsPassphrase("This key file is encrypted: give its passphrase.");
    try {
      der = await decryptPkcs8(der, passphrase);
    } catch (error) {
      throw new KeyFileError(error instanceof EncryptedKeyError ? error.message : "The key file does not decrypt.");
    }
  }
  let jwk;
  try {
    const transient = await crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, true, ["sign"]);
    jwk = await crypto.subtle.exportKey("jwk", transient);
  } catch {
    throw new KeyFileError(
      block.encrypted
        ? "The passphrase is wrong (the key file does not decrypt with it)."
        : "This file does not hold an Ed25519 private key (PKCS#8).",
    );
  }
  const publicRaw = fromBase64(jwk.x.replace(/-/g, "+").replace(/_/g, "/") + "=");
  const key = await crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, false, ["sign"]);
  der.fill(0);
  return { key, keyid: await keyidOf(publicRaw) };
}

// The headers that sign a request: Content-Digest, Signature-Input and Signature.
// `now` (milliseconds) and `nonce` are for tests; by default the clock and 128 random bits.
export async function signatureHeaders(signer, method, url, body, now = Date.now(), nonce = null) {
  const digest = `sha-256=:${toBase64(await sha256(body))}:`;
  const created = Math.floor(now / 1000);
  nonce ??= toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
  const params =
    `("@method" "@target-uri" "content-digest");created=${created}` +
    `;keyid="${signer.keyid}";alg="ed25519";nonce="${nonce}"`;
  const base =
    `"@method": ${method}\n"@target-uri": ${url}\n"content-digest": ${digest}\n` +
    `"@signature-params": ${params}`;
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, signer.key, utf8.encode(base)));
  return {
    "Content-Digest": digest,
    "Signature-Input": `${LABEL}=${params}`,
    Signature: `${LABEL}=:${toBase64(signature)}:`,
  };
}

// The absolute URL of an API path with its query, encoded once: the string signed is the one sent.
export function apiUrl(path, query = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) url.searchParams.set(name, String(value));
  }
  return url.href;
}

// A signed request; its JSON answer, or RequestFailed with the server's code and message.
export async function signedJson(signer, method, path, query = {}, body = null) {
  const url = apiUrl(path, query);
  const bytes = body === null ? new Uint8Array(0) : utf8.encode(body);
  const headers = await signatureHeaders(signer, method, url, bytes);
  if (body !== null) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === null ? undefined : bytes,
    cache: "no-store",
    credentials: "omit",
  });
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (!response.ok) {
    const code = answer && answer.code ? answer.code : "http-error";
    const message = answer && answer.message ? answer.message : `HTTP ${response.status}`;
    throw new RequestFailed(response.status, code, message);
  }
  return answer;
}
