// An encrypted PKCS#8 key (RFC 5958 EncryptedPrivateKeyInfo) opened with its passphrase: PBES2
// (RFC 8018) with PBKDF2 (HMAC-SHA-256 or HMAC-SHA-1) and AES-CBC (128 or 256 bits: Chromium's
// WebCrypto has no 192-bit AES), the
// scheme `chainproof key new --passphrase-env` (through `cryptography`) and OpenSSL write. All in
// WebCrypto; the passphrase and the decrypted key stay in the page.

import { equal, fromHex, toHex, utf8 } from "./bytes.js";

export class EncryptedKeyError extends Error {}

const OID = {
  pbes2: "2a864886f70d01050d",
  pbkdf2: "2a864886f70d01050c",
  hmacSha1: "2a864886f70d0207",
  hmacSha256: "2a864886f70d0209",
  aes128cbc: "608648016503040102",
  aes256cbc: "60864801650304012a",
};
const AES_BYTES = { [OID.aes128cbc]: 16, [OID.aes256cbc]: 32 };

// One DER element at `at`: {tag, value (bytes), end}.
function element(bytes, at = 0) {
  if (at + 2 > bytes.length) throw new EncryptedKeyError("the encrypted key is truncated");
  const tag = bytes[at];
  let length = bytes[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count < 1 || count > 3) throw new EncryptedKeyError("the encrypted key has a bad length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i];
    start += count;
  }
  if (start + length > bytes.length) throw new EncryptedKeyError("the encrypted key is truncated");
  return { tag, value: bytes.subarray(start, start + length), end: start + length };
}

function children(bytes) {
  const out = [];
  for (let at = 0; at < bytes.length; ) {
    const e = element(bytes, at);
    out.push(e);
    at = e.end;
  }
  return out;
}

function expect(e, tag, what) {
  if (!e || e.tag !== tag) throw new EncryptedKeyError(`the encrypted key's ${what} is not what PBES2 has`);
  return e;
}

function isOid(e, hex) {
  return e && e.tag === 0x06 && equal(e.value, fromHex(hex));
}

function integer(e) {
  let n = 0;
  for (const b of expect(e, 0x02, "iteration count").value) n = n * 256 + b;
  return n;
}

// The PBES2 parameters of an EncryptedPrivateKeyInfo, and the ciphertext.
function parse(der) {
  const [algorithm, data] = children(expect(element(der), 0x30, "structure").value);
  const [scheme, params] = children(expect(algorithm, 0x30, "algorithm").value);
  if (!isOid(scheme, OID.pbes2)) throw new EncryptedKeyError("the key is not encrypted with PBES2");
  const [kdf, cipher] = children(expect(params, 0x30, "parameters").value);
  const [kdfOid, kdfParams] = children(expect(kdf, 0x30, "key derivation").value);
  if (!isOid(kdfOid, OID.pbkdf2)) throw new EncryptedKeyError("the key's password is not derived by PBKDF2");
  const [salt, count, ...rest] = children(expect(kdfParams, 0x30, "PBKDF2 parameters").value);
  let hash = "SHA-1"; // RFC 8018's default PRF
  const prf = rest.find((e) => e.tag === 0x30);
  if (prf) {
    const [prfOid] = children(prf.value);
    if (isOid(prfOid, OID.hmacSha256)) hash = "SHA-256";
    else if (!isOid(prfOid, OID.hmacSha1)) throw new EncryptedKeyError("the key's PBKDF2 uses an unsupported hash");
  }
  const [cipherOid, iv] = children(expect(cipher, 0x30, "cipher").value);
  const keyBytes = cipherOid && cipherOid.tag === 0x06 ? AES_BYTES[toHex(cipherOid.value)] : undefined;
  if (!keyBytes) throw new EncryptedKeyError(
      "This key file is encrypted with a cipher the page does not take (it takes AES-128-CBC and AES-256-CBC).",
    );
  return {
    salt: expect(salt, 0x04, "salt").value,
    iterations: integer(count),
    hash,
    keyBytes,
    iv: expect(iv, 0x04, "IV").value,
    ciphertext: expect(data, 0x04, "ciphertext").value,
  };
}

// The PKCS#8 PrivateKeyInfo inside `der`, or EncryptedKeyError (a wrong passphrase among others).
export async function decryptPkcs8(der, passphrase) {
  const p = parse(der);
  if (p.iterations < 1 || p.iterations > 10_000_000) throw new EncryptedKeyError("the key's PBKDF2 iteration count is out of range");
  const base = await crypto.subtle.importKey("raw", utf8.encode(passphrase), "PBKDF2", false, ["deriveKey"]);
  const key = await crypto.subtle.deriveKey(
    { name: "PBKDF2", salt: p.salt, iterations: p.iterations, hash: p.hash },
    base,
    { name: "AES-CBC", length: p.keyBytes * 8 },
    false,
    ["decrypt"],
  );
  try {
    return new Uint8Array(await crypto.subtle.decrypt({ name: "AES-CBC", iv: p.iv }, key, p.ciphertext));
  } catch {
    throw new EncryptedKeyError("The passphrase is wrong (the key file does not decrypt with it).");
  }
}
