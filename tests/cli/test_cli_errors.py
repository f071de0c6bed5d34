"""Bad input, bad requests and bad stores: the right exit code, one line on stderr, no traceback,
and the log exactly as it was."""

from __future__ import annotations

import gc
import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from cli_support import Cli, Store, attest_args, envelope, envelope_json, read_key, statement
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chainproof.attest import dsse, keys
from chainproof.attest.signing import sign_statement
from chainproof.log import entries

# -- log append: input the log must refuse ----------------------------------------------------------


def _resign(key: Ed25519PrivateKey, payload_type: str, payload: bytes, keyid: str | None = None) -> bytes:
    kid = keys.keyid(key.public_key()) if keyid is None else keyid
    return envelope_json(dsse.sign(payload_type, payload, key, kid))


def _bad_sig(key: Ed25519PrivateKey) -> bytes:
    env = envelope(key, 50)
    sig = env.signatures[0]
    return envelope_json(
        replace(env, signatures=(replace(sig, sig=bytes([sig.sig[5] ^ 4]).join([sig.sig[:5], sig.sig[6:]])),))
    )


# name -> (file content made from alice's key, expected exit code, fragment of the error)
BAD_INPUT: dict[str, tuple[Callable[[Ed25519PrivateKey], bytes], int, str]] = {
    "malformed JSON": (
        lambda k: b'{"payloadType": "application/vnd.in-toto+json", "payload": ',
        1,
        "not JSON",
    ),
    "JSON lines with one bad line": (
        lambda k: envelope_json(envelope(k, 51)) + b"{oops}\n",
        1,
        ":2: not JSON",
    ),
    "not UTF-8": (lambda k: b"\xff\xfe\x00{", 1, "not JSON"),
    "not an envelope": (lambda k: b'{"hello": "world"}', 1, "no payloadType"),
    "envelope without signatures": (
        lambda k: json.dumps(
            {"payloadType": dsse.INTOTO_PAYLOAD_TYPE, "payload": "e30=", "signatures": []}
        ).encode(),
        1,
        "the envelope has no signatures",
    ),
    "payload not base64": (
        lambda k: json.dumps(
            {
                "payloadType": dsse.INTOTO_PAYLOAD_TYPE,
                "payload": "@@@",
                "signatures": [{"keyid": "x", "sig": "AA=="}],
            }
        ).encode(),
        1,
        "payload is not valid base64",
    ),
    "wrong payload type": (
        lambda k: _resign(k, "application/json", statement(52).canonical()),
        1,
        "payloadType 'application/json' is not 'application/vnd.in-toto+json'",
    ),
    "payload not an in-toto statement": (
        lambda k: _resign(k, dsse.INTOTO_PAYLOAD_TYPE, b'{"predicateType": "x"}'),
        1,
        "_type must be",
    ),
    "bad signature": (_bad_sig, 1, "does not verify"),
    "unknown key": (
        lambda k: envelope_json(envelope(keys.generate(), 53)),
        1,
        "is not registered in this log",
    ),
    "missing keyid": (
        lambda k: _resign(k, dsse.INTOTO_PAYLOAD_TYPE, statement(54).canonical(), keyid=""),
        1,
        "has no keyid",
    ),
    "actor signs a key registration": (
        lambda k: envelope_json(
            sign_statement(entries.registration_statement("eve", keys.generate().public_key()), k)
        ),
        1,
        "only the admin key may sign",
    ),
    "string that is not Unicode": (
        lambda k: json.dumps({**envelope(k, 55).to_json_obj(), "payloadType": "\udc80"}).encode(),
        1,
        "not valid Unicode",
    ),
    "deeply nested JSON": (lambda k: b"[" * 100_000 + b"]" * 100_000, 1, "nested too deeply"),
    # Past Python's 4,300 digits: our message, not Python's advice to raise its limit.
    "an integer too long to read": (lambda k: b'{"payloadType": ' + b"9" * 5_000 + b"}", 1, "5,000 digits"),
}


@pytest.mark.parametrize("kind", list(BAD_INPUT))
def test_append_rejects_bad_input_and_changes_nothing(cli: Cli, store: Store, alice: Path, kind: str) -> None:
    make, code, fragment = BAD_INPUT[kind]
    key = read_key(alice)
    good = store.workdir / "good.json"
    good.write_bytes(envelope_json(envelope(key, 1)))
    bad = store.workdir / "bad.json"
    bad.write_bytes(make(key))
    before = store.state()
    message = cli.fails(code, "--store", store.path, "log", "append", good, bad)
    assert fragment in message
    assert store.state() == before
    message = cli.fails(code, "--store", store.path, "log", "append", good, bad, "--json")
    assert fragment in message
    assert store.state() == before
    message = cli.fails(code, "--store", store.path, "log", "append", "-", stdin=bad.read_bytes())
    assert fragment in message
    assert store.state() == before
    # the good envelope alone goes in
    assert cli.ok("--store", store.path, "log", "append", good, "--json").json()["tree_size"] == 3


def test_append_rejects_a_revoked_key(cli: Cli, store: Store, alice: Path) -> None:
    cli.ok("--store", store.path, "key", "revoke", "alice")
    bad = store.workdir / "late.json"
    bad.write_bytes(envelope_json(envelope(read_key(alice), 60)))
    before = store.state()
    assert "(alice) is revoked for entry 3" in cli.fails(1, "--store", store.path, "log", "append", bad)
    assert store.state() == before


def test_append_names_the_bad_envelope(cli: Cli, store: Store, alice: Path) -> None:
    key = read_key(alice)
    array = store.workdir / "batch.json"
    objs = [envelope(key, n).to_json_obj() for n in range(3)]
    objs[1]["signatures"][0]["keyid"] = keys.keyid(keys.generate().public_key())
    array.write_text(json.dumps(objs))
    message = cli.fails(1, "--store", store.path, "log", "append", array)
    assert message.startswith(f"{array}[1]: key ")
    lines = store.workdir / "batch.jsonl"
    lines.write_text("\n".join(json.dumps(o) for o in objs) + "\n")
    assert cli.fails(1, "--store", store.path, "log", "append", lines).startswith(f"{lines}:2: key ")


def test_append_with_a_missing_file_changes_nothing(cli: Cli, store: Store, alice: Path) -> None:
    good = store.workdir / "good.json"
    good.write_bytes(envelope_json(envelope(read_key(alice), 1)))
    before = store.state()
    message = cli.fails(2, "--store", store.path, "log", "append", good, store.workdir / "missing.json")
    assert message == f"cannot read {store.workdir / 'missing.json'}: No such file or directory"
    assert store.state() == before


def test_append_needs_a_file(cli: Cli, store: Store) -> None:
    assert "missing argument 'files'" in cli.fails(2, "--store", store.path, "log", "append")


# -- requests out of range ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["log", "get", "2"], "index 2 is outside the log (size 2)"),
        (["log", "get", "99999999999999999999999"], "is outside the log (size 2)"),
        (["log", "prove", "2"], "index 2 is outside the log (size 2)"),
        (["log", "prove", "1", "--size", "1"], "index 1 is outside the log (size 1)"),
        (["log", "prove", "0", "--size", "3"], "tree size 3 is larger than the log (size 2)"),
        (["log", "prove", "0", "--size", "-1"], "tree size -1 is negative"),
        (["log", "prove", "0", "--size", "0"], "index 0 is outside the log (size 0)"),
        (["log", "prove", "ab" * 32], f"no entry with leaf hash {'ab' * 32} in this log"),
        (["log", "prove", "zz" * 32], "is neither an index nor a 64-hex leaf hash"),
        (["log", "prove", "abc"], "is neither an index nor a 64-hex leaf hash"),
        (["log", "consistency", "3"], "old size 3 is larger than the log (size 2)"),
        (["log", "consistency", "2", "1"], "old size 2 is larger than new size 1"),
        (["log", "consistency", "1", "3"], "tree size 3 is larger than the log (size 2)"),
    ],
)
def test_out_of_range_is_a_usage_error(
    cli: Cli, store: Store, alice: Path, args: list[str], fragment: str
) -> None:
    before = store.state()
    assert fragment in cli.fails(2, "--store", store.path, *args)
    assert fragment in cli.fails(2, "--store", store.path, *args, "--json")
    assert store.state() == before


@pytest.mark.parametrize(
    "args",
    [
        ["log", "get"],
        ["log", "get", "one"],
        ["log", "prove"],
        ["log", "consistency", "x"],
        ["log", "nonsense"],
        ["init"],
        ["key", "new", "bob"],
        ["audit"],
        ["verify-note", "x"],
        ["attest", "--key", "k.pem"],
    ],
)
def test_usage_errors_exit_2_with_one_line(cli: Cli, store: Store, args: list[str]) -> None:
    cli.fails(2, "--store", store.path, *args)


# -- bad stores --------------------------------------------------------------------------------------

STORE_COMMANDS = [
    ["log", "info"],
    ["log", "get", "0"],
    ["log", "checkpoint"],
    ["log", "prove", "0"],
    ["log", "consistency", "1"],
    ["key", "list"],
]


def _damage(kind: str, store: Store) -> None:
    # The in-process CLI leaves its connections to the garbage collector; closing them
    # checkpoints the WAL into log.db, as the end of a `chainproof` process does.
    gc.collect()
    assert not (store.path / "log.db-wal").exists()
    db = store.path / "log.db"
    if kind == "missing":
        shutil.rmtree(store.path)
    elif kind == "foreign file":
        db.write_bytes(b"not a database at all\n" * 300)
    elif kind == "foreign sqlite":
        db.unlink()
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE other (x)")
        con.commit()
        con.close()
    else:
        data = db.read_bytes()
        cut = {"truncated to nothing": 0, "truncated to 100 bytes": 100, "truncated by half": len(data) // 2}[
            kind
        ]
        db.write_bytes(data[:cut])


DAMAGE = [
    "missing",
    "foreign file",
    "foreign sqlite",
    "truncated to nothing",
    "truncated to 100 bytes",
    "truncated by half",
]


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_store_is_a_one_line_error(cli: Cli, store: Store, alice: Path, kind: str) -> None:
    good = store.workdir / "good.json"
    good.write_bytes(envelope_json(envelope(read_key(alice), 1)))
    for n in range(40):  # enough pages for a partial truncation
        (store.workdir / f"e{n}.json").write_bytes(
            envelope_json(envelope(read_key(alice), 100 + n, "x" * 200))
        )
    cli.ok("--store", store.path, "log", "append", *(store.workdir / f"e{n}.json" for n in range(40)))
    _damage(kind, store)
    for args in [
        *STORE_COMMANDS,
        ["log", "append", good],
        ["audit", "--vkey", store.vkey],
        ["log", "export", "x.export"],
    ]:
        message = cli.fails(2, "--store", store.path, *args)
        assert "log.db" in message or "no chainproof store" in message, message
        for expected in ("damaged", "not a chainproof", "no chainproof store", "malformed", "not a "):
            if expected in message:
                break
        else:
            pytest.fail(f"unclear error for a {kind} store: {message}")
    assert not (store.workdir / "x.export").exists()


# -- missing and unreadable files -------------------------------------------------------------------------


def test_missing_files(cli: Cli, store: Store, alice: Path) -> None:
    missing = store.workdir / "missing"
    assert "cannot read" in cli.fails(
        2, "--store", store.path, "audit", "--export", missing, "--vkey", store.vkey
    )
    assert "cannot read" in cli.fails(
        2, "--store", store.path, "audit", "--vkey", store.vkey, "--checkpoint", missing
    )
    assert "cannot read" in cli.fails(2, "verify-proof", missing)
    assert "cannot read" in cli.fails(2, "verify-note", missing, "--vkey", store.vkey)
    assert "cannot read key file" in cli.fails(
        2,
        *attest_args(missing, "-", "-"),
    )
    predicate_missing = cli.fails(
        2,
        *attest_args(alice, missing, "-"),
    )
    assert "cannot read" in predicate_missing
    assert "cannot write" in cli.fails(
        2,
        *attest_args(alice, "-", missing / "sub" / "a.dsse"),
        stdin=b"{}",
    )


def test_a_key_file_that_is_not_a_key(cli: Cli, store: Store) -> None:
    bogus = store.workdir / "bogus.pem"
    bogus.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    message = cli.fails(
        2,
        *attest_args(bogus, "-", "-"),
        stdin=b"{}",
    )
    assert "not a PKCS#8 PEM private key" in message


@pytest.mark.parametrize(
    ("predicate", "fragment"),
    [
        (b'{"rows": 12345678901234567890}', "RFC 8785"),
        (b'{"loss": NaN}', "RFC 8785"),
        (b'{"loss": Infinity}', "RFC 8785"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"rows": ' + b"1" * 5_000 + b"}", "an integer of 5,000 digits"),
    ],
)
def test_attest_with_a_predicate_json_cannot_canonicalise(
    cli: Cli, alice: Path, predicate: bytes, fragment: str
) -> None:
    out = alice.parent / "never.dsse"
    message = cli.fails(
        1,
        *attest_args(alice, "-", out),
        stdin=predicate,
    )
    assert fragment in message
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"index": ' + b"1" * 5_000 + b', "tree_size": 5}', "an integer of 5,000 digits"),
        (b'{"index": "' + b"1" * 5_000 + b'", "tree_size": 5}', "index must be below 2**64"),
        (b'{"index": 18446744073709551616, "tree_size": 5}', "index must be below 2**64"),
    ],
)
def test_verify_proof_with_integers_beyond_64_bits(
    cli: Cli, tmp_path: Path, content: bytes, fragment: str
) -> None:
    path = tmp_path / "proof.json"
    path.write_bytes(content)
    assert fragment in cli.fails(1, "verify-proof", path)


def test_an_index_of_five_thousand_digits(cli: Cli, store: Store) -> None:
    message = cli.fails(2, "--store", store.path, "log", "prove", "1" * 5_000)
    assert message.startswith("'" + "1" * 64 + "...'")
    assert "neither an index nor" in cli.fails(2, "--store", store.path, "log", "prove", "\u0661")


def test_bad_vkey(cli: Cli, store: Store) -> None:
    for vkey in ("nonsense", "name+00000000+AAAA", store.vkey[:-2]):
        message = cli.fails(1, "--store", store.path, "audit", "--vkey", vkey)
        assert "verifier key" in message
