"""Every command in-process through cli.app.main: human and --json output, exit codes."""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import pytest
import typer
from cli_support import (
    HOP,
    ORIGIN,
    Cli,
    Store,
    attest_args,
    digest,
    envelope,
    envelope_json,
    leaf_hash_hex,
    read_key,
)

from chainproof import __version__
from chainproof.attest import dsse, keys
from chainproof.cli.app import build_app
from chainproof.log import bundles, merkle
from chainproof.log.note import parse_vkey, verify_checkpoint

# -- init, version, help ----------------------------------------------------------------------


def test_version_and_help(cli: Cli) -> None:
    assert cli.ok("--version").out == f"chainproof {__version__}\n"
    text = cli.ok("--help").out
    for command in ("init", "key", "attest", "log", "audit", "verify-proof", "verify-note"):
        assert command in text
    assert "append" in cli.ok("log", "--help").out


def _log_commands(*args: str) -> set[str]:
    log = typer.main.get_group(build_app(args)).commands["log"]
    assert isinstance(log, typer.core.TyperGroup)
    return set(log.commands)


def test_a_call_builds_only_the_command_it_names() -> None:
    every = _log_commands("log", "--help")
    assert {"append", "get", "checkpoint", "prove", "consistency", "export", "info"} <= every
    assert _log_commands("--store", "s", "log", "get", "0", "--raw") == {"get"}
    assert _log_commands("log", "no-such-command") == every


def test_init_json(cli: Cli, tmp_path: Path) -> None:
    obj = cli.ok("--store", tmp_path / "s", "init", "--origin", ORIGIN, "--json").json()
    assert set(obj) >= {"origin", "vkey"}
    assert obj["origin"] == ORIGIN
    assert parse_vkey(obj["vkey"]).name == ORIGIN
    assert {p.name for p in (tmp_path / "s").iterdir()} >= {"log.db", "log-signer.pem", "admin.pem"}


def test_init_human(cli: Cli, tmp_path: Path) -> None:
    out = cli.ok("--store", tmp_path / "s", "init", "--origin", ORIGIN).out
    vkey = cli.ok("--store", tmp_path / "s", "log", "info", "--json").json()["vkey"]
    assert f"checkpoint verifier key: {vkey}" in out
    assert str(tmp_path / "s") in out


def test_init_twice_is_a_usage_error_and_changes_nothing(cli: Cli, store: Store) -> None:
    before = store.state()
    assert "already holds a chainproof store" in cli.fails(
        2, "--store", store.path, "init", "--origin", ORIGIN
    )
    assert store.state() == before


def test_init_with_the_admin_key_elsewhere(cli: Cli, tmp_path: Path) -> None:
    admin = tmp_path / "offline-admin.pem"
    cli.ok("--store", tmp_path / "s", "init", "--origin", ORIGIN, "--admin-key-out", admin)
    assert admin.exists()
    assert not (tmp_path / "s" / "admin.pem").exists()
    message = cli.fails(2, "--store", tmp_path / "s", "key", "new", "bob", "--out", tmp_path / "bob.pem")
    assert "cannot read key file" in message
    assert not (tmp_path / "bob.pem").exists()
    obj = cli.ok(
        "--store",
        tmp_path / "s",
        "key",
        "new",
        "bob",
        "--out",
        tmp_path / "bob.pem",
        "--admin-key",
        admin,
        "--json",
    ).json()
    assert obj["index"] == 1


def test_store_from_the_environment(cli: Cli, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAINPROOF_STORE", str(store.path))
    assert cli.ok("log", "info", "--json").json()["tree_size"] == 1


# -- keys -------------------------------------------------------------------------------------


def test_key_new_json(cli: Cli, store: Store) -> None:
    out = store.workdir / "bob.pem"
    obj = cli.ok("--store", store.path, "key", "new", "bob", "--out", out, "--json").json()
    key = read_key(out)
    assert set(obj) >= {"name", "keyid", "public_key_pem"}
    assert obj["name"] == "bob"
    assert obj["keyid"] == keys.keyid(key.public_key())
    assert obj["public_key_pem"] == keys.public_pem(key.public_key())
    assert obj["index"] == 1
    assert out.stat().st_mode & 0o077 == 0
    assert store.size() == 2


def test_key_new_human_and_list(cli: Cli, store: Store, alice: Path) -> None:
    out = store.workdir / "bob.pem"
    text = cli.ok("--store", store.path, "key", "new", "bob", "--out", out).out
    bob_id = keys.keyid(read_key(out).public_key())
    assert f"registered bob as {bob_id} (entry 2)" in text
    listed = cli.ok("--store", store.path, "key", "list", "--json").json()["keys"]
    assert [(k["name"], k["role"], k["registered_at"]) for k in listed] == [
        ("admin", "admin", 0),
        ("alice", "actor", 1),
        ("bob", "actor", 2),
    ]
    assert all(k["revoked_from"] is None and k["revoked_at"] is None for k in listed)
    human = cli.ok("--store", store.path, "key", "list").out.splitlines()
    assert len(human) == 3
    assert human[2].startswith(bob_id)
    assert "bob" in human[2]


def test_key_new_refuses_to_overwrite_a_file(cli: Cli, store: Store, alice: Path) -> None:
    before, content = store.state(), alice.read_bytes()
    assert "refusing to overwrite" in cli.fails(2, "--store", store.path, "key", "new", "eve", "--out", alice)
    assert alice.read_bytes() == content
    assert store.state() == before


def test_key_revoke(cli: Cli, store: Store, alice: Path) -> None:
    cli.ok("--store", store.path, "log", "append", _attest(cli, alice, 1))
    obj = cli.ok("--store", store.path, "key", "revoke", "alice", "--reason", "left", "--json").json()
    assert (obj["name"], obj["role"], obj["index"]) == ("alice", "actor", 3)
    assert (obj["revoked_from"], obj["revoked_at"]) == (3, 3)
    assert obj["keyid"] == keys.keyid(read_key(alice).public_key())
    entry = cli.ok("--store", store.path, "log", "get", "3", "--json").json()
    assert entry["statement"]["predicate"] == {"keyid": obj["keyid"], "effective_from": 3, "reason": "left"}
    listed = cli.ok("--store", store.path, "key", "list").out
    assert "revoked from entry 3" in listed
    # a revoked key's new envelope is rejected; its old one is still a duplicate
    before = store.state()
    message = cli.fails(1, "--store", store.path, "log", "append", _attest(cli, alice, 2))
    assert "is revoked for entry 4" in message
    assert store.state() == before
    again = cli.ok("--store", store.path, "log", "append", store.workdir / "att-1.dsse", "--json").json()
    assert again["entries"] == [
        {"index": 2, "leaf_hash": again["entries"][0]["leaf_hash"], "duplicate": True}
    ]
    # revoking it again is refused, and so is an unknown key
    assert "already revoked" in cli.fails(2, "--store", store.path, "key", "revoke", obj["keyid"])
    assert "no key named" in cli.fails(2, "--store", store.path, "key", "revoke", "nobody")


def test_key_revoke_retroactively_and_the_audit_lists_the_entries(
    cli: Cli, store: Store, alice: Path
) -> None:
    appended = [
        cli.ok("--store", store.path, "log", "append", _attest(cli, alice, n), "--json").json()["entries"][0][
            "index"
        ]
        for n in range(4)
    ]
    assert appended == [2, 3, 4, 5]
    human = cli.ok("--store", store.path, "key", "revoke", "alice", "--from", "4", "--reason", "leaked").out
    assert "alice" in human
    assert "4" in human
    [alice_record] = [
        k
        for k in cli.ok("--store", store.path, "key", "list", "--json").json()["keys"]
        if k["name"] == "alice"
    ]
    assert (alice_record["revoked_from"], alice_record["revoked_at"]) == (4, 6)
    report = cli.ok("--store", store.path, "audit", "--vkey", store.vkey, "--json").json()
    assert report["ok"] is True
    assert report["retroactively_revoked"] == [4, 5]
    text = cli.ok("--store", store.path, "audit", "--vkey", store.vkey).out
    assert "note: entry 4 is signed by a key revoked retroactively" in text
    assert "note: entry 5 is signed by a key revoked retroactively" in text
    assert "audit ok" in text


@pytest.mark.parametrize("when", ["1", "8"])
def test_key_revoke_with_an_impossible_date_is_rejected(
    cli: Cli, store: Store, alice: Path, when: str
) -> None:
    before = store.state()
    message = cli.fails(2, "--store", store.path, "key", "revoke", "alice", "--from", when)
    assert "a revocation takes effect after the key's registration" in message
    assert store.state() == before


def test_key_revoke_the_admin_key_is_rejected(cli: Cli, store: Store) -> None:
    assert "admin key cannot be revoked" in cli.fails(2, "--store", store.path, "key", "revoke", "admin")


def test_encrypted_key(cli: Cli, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    out = store.workdir / "carol.pem"
    monkeypatch.setenv("CAROL_PASS", "correct horse battery staple")
    cli.ok("--store", store.path, "key", "new", "carol", "--out", out, "--passphrase-env", "CAROL_PASS")
    assert b"ENCRYPTED" in out.read_bytes()
    predicate = store.workdir / "p.json"
    predicate.write_text("{}")
    args = [
        "attest",
        "--key",
        out,
        "--type",
        HOP,
        "--subject",
        f"m=sha256:{digest('m')}",
        "--predicate",
        predicate,
    ]
    message = cli.fails(2, *args, "--out", store.workdir / "c.dsse")
    assert "is encrypted; give its passphrase" in message
    assert not (store.workdir / "c.dsse").exists()
    monkeypatch.setenv("WRONG_PASS", "nope")
    assert "wrong passphrase" in cli.fails(2, *args, "--out", "c.dsse", "--passphrase-env", "WRONG_PASS")
    assert "UNSET_PASS is empty or not set" in cli.fails(
        2, *args, "--out", "c.dsse", "--passphrase-env", "UNSET_PASS"
    )
    cli.ok(*args, "--out", store.workdir / "c.dsse", "--passphrase-env", "CAROL_PASS")
    obj = cli.ok("--store", store.path, "log", "append", store.workdir / "c.dsse", "--json").json()
    assert obj["tree_size"] == 3


# -- attest ------------------------------------------------------------------------------------


def _attest(cli: Cli, key: Path, n: int, *extra: object) -> Path:
    workdir = key.parent
    predicate = workdir / f"predicate-{n}.json"
    predicate.write_text(json.dumps({"run": n, "note": "trained on shard 7"}))
    out = workdir / f"att-{n}.dsse"
    cli.ok(
        "attest",
        "--key",
        key,
        "--type",
        HOP,
        "--subject",
        f"model-{n}=sha256:{digest(str(n))}",
        "--predicate",
        predicate,
        "--out",
        out,
        *extra,
    )
    return out


def test_attest_writes_one_canonical_signed_envelope(cli: Cli, store: Store, alice: Path) -> None:
    predicate = store.workdir / "p.json"
    predicate.write_text('{"dataset": "shard-7", "rows": 1000}')
    out = store.workdir / "a.dsse"
    obj = cli.ok(
        "attest",
        "--key",
        alice,
        "--type",
        HOP,
        "--subject",
        f"weights.safetensors=sha256:{digest('w').upper()}",
        "--subject",
        f"tokenizer.json=sha256:{digest('t')}",
        "--predicate",
        predicate,
        "--out",
        out,
        "--json",
    ).json()
    key = read_key(alice)
    assert obj == {
        "out": str(out),
        "keyid": keys.keyid(key.public_key()),
        "predicate_type": HOP,
        "subjects": ["weights.safetensors", "tokenizer.json"],
    }
    data = out.read_bytes()
    assert data.endswith(b"\n")
    assert data.count(b"\n") == 1
    env = dsse.parse(data)
    assert env.canonical() + b"\n" == data
    assert env.payload_type == dsse.INTOTO_PAYLOAD_TYPE
    env.verify_signature(env.signatures[0], key.public_key())
    st = json.loads(env.payload)
    assert st["_type"] == "https://in-toto.io/Statement/v1"
    assert st["predicateType"] == HOP
    assert st["predicate"] == {"dataset": "shard-7", "rows": 1000}
    assert st["subject"] == [
        {"name": "weights.safetensors", "digest": {"sha256": digest("w")}},
        {"name": "tokenizer.json", "digest": {"sha256": digest("t")}},
    ]
    human = cli.ok(
        "attest",
        "--key",
        alice,
        "--type",
        HOP,
        "--subject",
        f"x=sha256:{digest('x')}",
        "--predicate",
        predicate,
        "--out",
        store.workdir / "b.dsse",
    ).out
    assert human.startswith(f"wrote {store.workdir / 'b.dsse'}")


def test_attest_to_stdout_from_stdin(cli: Cli, store: Store, alice: Path) -> None:
    result = cli.ok(
        *attest_args(alice, "-", "-"),
        stdin=b'{"from": "stdin"}',
    )
    env = dsse.parse(result.out_bytes)
    assert env.canonical() + b"\n" == result.out_bytes
    assert json.loads(env.payload)["predicate"] == {"from": "stdin"}


@pytest.mark.parametrize(
    ("subject", "predicate", "fragment"),
    [
        ("m=sha256:abc", "{}", "a sha256 digest has 64 hex digits"),
        ("m=sha256:" + "zz" * 32, "{}", "must be a hex string"),
        ("no-digest", "{}", "is not NAME=ALGORITHM:HEX"),
        (f"m=sha256:{'0' * 64}", "[1, 2]", "the predicate must be a JSON object"),
        (f"m=sha256:{'0' * 64}", "{not json", "the predicate is not JSON"),
    ],
)
def test_attest_bad_input(cli: Cli, alice: Path, subject: str, predicate: str, fragment: str) -> None:
    path = alice.parent / "bad-predicate.json"
    path.write_text(predicate)
    out = alice.parent / "never.dsse"
    message = cli.fails(
        1, "attest", "--key", alice, "--type", HOP, "--subject", subject, "--predicate", path, "--out", out
    )
    assert fragment in message
    assert not out.exists()


# -- log append ----------------------------------------------------------------------------------


def test_append_one_envelope_json(cli: Cli, store: Store, alice: Path) -> None:
    att = _attest(cli, alice, 1)
    obj = cli.ok("--store", store.path, "log", "append", att, "--json").json()
    env = dsse.parse(att.read_bytes())
    assert obj == {
        "entries": [{"index": 2, "leaf_hash": leaf_hash_hex(env), "duplicate": False}],
        "tree_size": 3,
    }
    again = cli.ok("--store", store.path, "log", "append", att, "--json").json()
    assert again == {
        "entries": [{"index": 2, "leaf_hash": leaf_hash_hex(env), "duplicate": True}],
        "tree_size": 3,
    }
    assert cli.ok("--store", store.path, "log", "append", att).out == (
        "appended 0 entries (1 already present); tree size 3\n"
    )


def test_append_array_json_lines_stdin_and_several_files(cli: Cli, store: Store, alice: Path) -> None:
    key = read_key(alice)
    envs = [envelope(key, n) for n in range(7)]
    array = store.workdir / "array.json"
    array.write_text(json.dumps([e.to_json_obj() for e in envs[0:3]], indent=2))
    lines = store.workdir / "lines.jsonl"
    lines.write_bytes(
        b"\n" + envelope_json(envs[3]) + b"\n\n" + json.dumps(envs[4].to_json_obj()).encode() + b"\n"
    )
    single = store.workdir / "single.json"
    single.write_text(json.dumps(envs[5].to_json_obj(), indent=4))
    obj = cli.ok(
        "--store",
        store.path,
        "log",
        "append",
        array,
        lines,
        "-",
        single,
        "--json",
        stdin=envelope_json(envs[6]),
    ).json()
    # files in the order given, stdin where '-' stands
    order = [0, 1, 2, 3, 4, 6, 5]
    assert obj["entries"] == [
        {"index": 2 + i, "leaf_hash": leaf_hash_hex(envs[n]), "duplicate": False} for i, n in enumerate(order)
    ]
    assert obj["tree_size"] == 9
    human = cli.ok(
        "--store", store.path, "log", "append", array, "-", stdin=envelope_json(envelope(key, 99))
    ).out
    assert human == "appended 1 entry (3 already present); tree size 10\n"


# -- reading -------------------------------------------------------------------------------------


def test_get_raw_prints_the_exact_leaf_bytes(cli: Cli, store: Store, alice: Path) -> None:
    att = _attest(cli, alice, 1)
    obj = cli.ok("--store", store.path, "log", "append", att, "--json").json()
    raw = cli.ok("--store", store.path, "log", "get", "2", "--raw").out_bytes
    assert raw + b"\n" == att.read_bytes()
    assert merkle.leaf_hash(raw).hex() == obj["entries"][0]["leaf_hash"]
    log = store.open()
    try:
        assert raw == log.entry(2)
    finally:
        log.close()


def test_get_json_and_human(cli: Cli, store: Store, alice: Path) -> None:
    att = _attest(cli, alice, 1)
    cli.ok("--store", store.path, "log", "append", att)
    env = dsse.parse(att.read_bytes())
    obj = cli.ok("--store", store.path, "log", "get", "2", "--json").json()
    assert obj["index"] == 2
    assert obj["envelope"] == env.to_json_obj()
    assert obj["statement"] == json.loads(env.payload)
    human = cli.ok("--store", store.path, "log", "get", "2").out
    assert human.startswith("entry 2\n")
    assert f"signed by: {env.signatures[0].keyid}" in human
    genesis = cli.ok("--store", store.path, "log", "get", "0", "--json").json()
    assert genesis["statement"]["predicate"]["origin"] == ORIGIN


def test_checkpoint_verbatim_and_json(cli: Cli, store: Store, alice: Path) -> None:
    cli.ok("--store", store.path, "log", "append", _attest(cli, alice, 1))
    note = cli.ok("--store", store.path, "log", "checkpoint").out
    log = store.open()
    try:
        assert note == log.checkpoint()
    finally:
        log.close()
    cp = verify_checkpoint(note, parse_vkey(store.vkey))
    assert (cp.origin, cp.size) == (ORIGIN, 3)
    obj = cli.ok("--store", store.path, "log", "checkpoint", "--json").json()
    assert obj == {
        "origin": ORIGIN,
        "tree_size": 3,
        "root_hash": cp.root.hex(),
        "root_base64": base64.b64encode(cp.root).decode(),
        "note": note,
    }


def test_prove_json_human_and_by_leaf_hash(cli: Cli, store: Store, alice: Path) -> None:
    for n in range(5):
        cli.ok("--store", store.path, "log", "append", _attest(cli, alice, n))
    cp = verify_checkpoint(cli.ok("--store", store.path, "log", "checkpoint").out, parse_vkey(store.vkey))
    for index in range(cp.size):
        obj = cli.ok("--store", store.path, "log", "prove", index, "--json").json()
        assert set(obj) == {"index", "tree_size", "leaf_hash", "root_hash", "proof"}
        assert (obj["index"], obj["tree_size"], obj["root_hash"]) == (index, cp.size, cp.root.hex())
        leaf = cli.ok("--store", store.path, "log", "get", index, "--raw").out_bytes
        assert obj["leaf_hash"] == merkle.leaf_hash(leaf).hex()
        merkle.verify_inclusion(
            index, cp.size, merkle.leaf_hash(leaf), [bytes.fromhex(h) for h in obj["proof"]], cp.root
        )
        by_hash = cli.ok("--store", store.path, "log", "prove", obj["leaf_hash"], "--json").json()
        assert by_hash == obj
    at3 = cli.ok("--store", store.path, "log", "prove", "1", "--size", "3", "--json").json()
    assert at3["tree_size"] == 3
    human = cli.ok("--store", store.path, "log", "prove", "1", "--size", "3").out.splitlines()
    assert human[:4] == [
        "entry 1 in tree of size 3",
        f"leaf hash {at3['leaf_hash']}",
        f"root hash {at3['root_hash']}",
        "proof:",
    ]
    assert [line.strip() for line in human[4:]] == at3["proof"]


def test_consistency_json_and_human(cli: Cli, store: Store, alice: Path) -> None:
    roots = {}
    for n in range(6):
        cli.ok("--store", store.path, "log", "append", _attest(cli, alice, n))
        cp = cli.ok("--store", store.path, "log", "checkpoint", "--json").json()
        roots[cp["tree_size"]] = cp["root_hash"]
    size = max(roots)
    for old, old_root in roots.items():
        obj = cli.ok("--store", store.path, "log", "consistency", old, "--json").json()
        assert set(obj) == {"old_size", "new_size", "old_root", "new_root", "proof"}
        assert (obj["old_size"], obj["new_size"]) == (old, size)
        assert (obj["old_root"], obj["new_root"]) == (old_root, roots[size])
        merkle.verify_consistency(
            old,
            size,
            bytes.fromhex(roots[old]),
            bytes.fromhex(roots[size]),
            [bytes.fromhex(h) for h in obj["proof"]],
        )
    pair = cli.ok("--store", store.path, "log", "consistency", "3", "5", "--json").json()
    assert (pair["old_size"], pair["new_size"], pair["new_root"]) == (3, 5, roots[5])
    human = cli.ok("--store", store.path, "log", "consistency", "3", "5").out.splitlines()
    assert human[0] == "tree 3 -> 5"
    assert [line.strip() for line in human[4:]] == pair["proof"]


def test_info(cli: Cli, store: Store, alice: Path) -> None:
    obj = cli.ok("--store", store.path, "log", "info", "--json").json()
    assert obj == {"store": str(store.path), "origin": ORIGIN, "tree_size": 2, "vkey": store.vkey, "keys": 2}
    human = cli.ok("--store", store.path, "log", "info").out
    assert f"origin: {ORIGIN}" in human
    assert "size:   2" in human
    assert store.vkey in human


# -- export and audit ------------------------------------------------------------------------------


def test_export_and_audit_it(cli: Cli, store: Store, alice: Path) -> None:
    for n in range(4):
        cli.ok("--store", store.path, "log", "append", _attest(cli, alice, n))
    exported = store.workdir / "log.export"
    obj = cli.ok("--store", store.path, "log", "export", exported, "--json").json()
    assert obj == {"file": str(exported), "tree_size": 6}
    assert cli.ok("--store", store.path, "log", "export", store.workdir / "b.export").out == (
        f"exported 6 entries to {store.workdir / 'b.export'}\n"
    )
    assert exported.read_bytes() == (store.workdir / "b.export").read_bytes()
    assert [p.name for p in store.workdir.iterdir() if p.name.startswith(".")] == []  # no temp file left
    report = cli.ok("audit", "--export", exported, "--vkey", store.vkey, "--json").json()
    assert report == {
        "ok": True,
        "tree_size": 6,
        "checkpoints": 6,
        "keys": 2,
        "problems": [],
        "problem_count": 0,
        "retroactively_revoked": [],
    }
    assert cli.ok("audit", "--export", exported, "--vkey", store.vkey).out.endswith(
        "audit ok: 6 entries, 6 checkpoints, 2 keys, 0 problems\n"
    )
    # one byte changed in entry 4's payload
    lines = exported.read_bytes().split(b"\n")
    entry_lines = [i for i, line in enumerate(lines) if i and line and not line.startswith(b'"')]
    n = entry_lines[4]
    at = lines[n].index(b'"payload":"') + 20
    lines[n] = lines[n][:at] + (b"A" if lines[n][at : at + 1] != b"A" else b"B") + lines[n][at + 1 :]
    exported.write_bytes(b"\n".join(lines))
    result = cli("audit", "--export", exported, "--vkey", store.vkey)
    assert result.code == 1
    assert result.out.splitlines()[0].startswith("problem: entry 4: ")
    assert "AUDIT FAILED" in result.out
    failed = cli("audit", "--export", exported, "--vkey", store.vkey, "--json")
    assert failed.code == 1
    obj = failed.json()
    assert obj["ok"] is False
    assert obj["problems"][0]["index"] == 4


def test_audit_store_and_saved_checkpoints(cli: Cli, store: Store, alice: Path) -> None:
    cli.ok("--store", store.path, "log", "append", _attest(cli, alice, 1))
    saved = store.workdir / "saved-checkpoint"
    saved.write_text(cli.ok("--store", store.path, "log", "checkpoint").out)
    for n in range(2, 5):
        cli.ok("--store", store.path, "log", "append", _attest(cli, alice, n))
    assert cli.ok("--store", store.path, "audit", "--vkey", store.vkey, "--json").json()["ok"] is True
    report = cli.ok(
        "--store", store.path, "audit", "--vkey", store.vkey, "--checkpoint", saved, "--json"
    ).json()
    assert (report["ok"], report["tree_size"], report["checkpoints"]) == (True, 6, 6)
    # a saved checkpoint larger than the log
    cli.ok("--store", store.path, "log", "append", _attest(cli, alice, 5))
    later = store.workdir / "later-checkpoint"
    later.write_text(cli.ok("--store", store.path, "log", "checkpoint").out)
    exported = store.workdir / "now.export"
    cli.ok("--store", store.path, "log", "export", exported)
    lines = exported.read_bytes().splitlines(keepends=True)
    shorter = store.workdir / "shorter.export"
    shorter.write_bytes(b"".join(lines[:-2]).replace(b'"tree_size":7', b'"tree_size":6'))
    result = cli("audit", "--export", shorter, "--vkey", store.vkey, "--checkpoint", later, "--json")
    assert result.code == 1
    assert any("entries were removed" in p["message"] for p in result.json()["problems"])
    # a saved checkpoint from another log's key does not verify
    other = store.workdir / "other"
    cli.ok("--store", other, "init", "--origin", ORIGIN)
    foreign = store.workdir / "foreign-checkpoint"
    foreign.write_text(cli.ok("--store", other, "log", "checkpoint").out)
    message = cli.fails(1, "--store", store.path, "audit", "--vkey", store.vkey, "--checkpoint", foreign)
    assert "does not verify" in message or "no signature by" in message


def test_audit_with_the_wrong_vkey_fails(cli: Cli, store: Store, tmp_path: Path) -> None:
    other = cli.ok("--store", tmp_path / "other", "init", "--origin", ORIGIN, "--json").json()["vkey"]
    assert other != store.vkey
    result = cli("--store", store.path, "audit", "--vkey", other, "--json")
    assert result.code == 1
    assert result.json()["ok"] is False


def _rewrite_entry(db_path: Path, index: int, body: bytes | None) -> None:
    """Give entry `index` a new body (None: take it out of its bundle), as a forger with SQL would."""
    db = sqlite3.connect(db_path)
    [(width, *stored)] = db.execute("SELECT width, ends, body, outside FROM entry_bundles WHERE idx = 0")
    entries = bundles.decode(bundles.Bundle(*stored), width)
    entries[index : index + 1] = [] if body is None else [body]
    db.execute(
        "UPDATE entry_bundles SET width = ?, ends = ?, body = ?, outside = ? WHERE idx = 0",
        (len(entries), *bundles.encode(entries)),
    )
    db.commit()
    db.close()


def test_audit_of_a_tampered_store(cli: Cli, store: Store, alice: Path) -> None:
    for n in range(3):
        cli.ok("--store", store.path, "log", "append", _attest(cli, alice, n))
    db_path = store.path / "log.db"
    original = cli.ok("--store", store.path, "log", "get", "3", "--raw").out_bytes
    _rewrite_entry(db_path, 3, original.replace(b"payloadType", b"payloadtype"))
    result = cli("--store", store.path, "audit", "--vkey", store.vkey)
    assert result.code == 1
    assert result.out.splitlines()[0].startswith("problem: entry 3: ")
    _rewrite_entry(db_path, 3, original)
    cli.ok("--store", store.path, "audit", "--vkey", store.vkey)
    # the bundle's body left as TEXT (what SQL's string functions return): the store is damaged
    db = sqlite3.connect(db_path)
    db.execute("UPDATE entry_bundles SET body = CAST(body AS TEXT) WHERE idx = 0")
    db.commit()
    db.close()
    message = cli.fails(2, "--store", store.path, "audit", "--vkey", store.vkey)
    assert message == "entry bundle 0 is not stored as bytes; the store is damaged"
    assert message in cli.fails(2, "--store", store.path, "log", "get", "3", "--raw")
    db = sqlite3.connect(db_path)
    db.execute("UPDATE entry_bundles SET body = CAST(body AS BLOB) WHERE idx = 0")
    db.commit()
    db.close()
    _rewrite_entry(db_path, 2, None)
    result = cli("--store", store.path, "audit", "--vkey", store.vkey)
    assert result.code == 1
    assert result.out.splitlines()[0].startswith("problem: entry 2: ")
    assert (store.path / "log.db").exists()
