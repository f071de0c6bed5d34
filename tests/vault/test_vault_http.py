"""The vault end to end: `chainproof data push` and `data pull` against a real `chainproof serve`,
the grant rules and their denials in the log, the access record, encryption at rest, tampered
blobs, interrupted transfers and their resumption, and `vault keygen` / `vault rotate`."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from blob_support import new_bucket, s3_server
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from server_support import build_store, cli, request, serving
from vault_support import MARKER, Vaulted, log_entries, prepare

from chainproof.attest import keys, signing
from chainproof.custody.manifests import Manifest
from chainproof.custody.records import Digest
from chainproof.custody.service import Custody
from chainproof.errors import StoreError, VerificationError
from chainproof.vault import pull, push
from chainproof.vault import transfer as transfer_module
from chainproof.vault.records import STORED_TYPE, access_record, access_statement
from chainproof.vault.s3 import S3BlobStore


@pytest.fixture(scope="module")
def vaulted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Vaulted]:
    work = tmp_path_factory.mktemp("vault")
    store, dataset, root, vault_key, grants = prepare(work)
    with serving(store.directory, "--vault-key", str(vault_key)) as server:
        v = Vaulted(store, server, dataset, root, vault_key, work / "home", grants)
        pushed = v.cli("data", "push", str(dataset), "--json", who="alice")
        assert pushed.returncode == 0, pushed.stderr.decode()
        yield v


def run(v: Vaulted, *args: str, who: str | None) -> tuple[int, dict[str, object], str]:
    done = cli(v.server.url, *args, key=v.store.key_file(who) if who else None, home=v.home)
    out = done.stdout.decode()
    return done.returncode, (json.loads(out) if out.strip().startswith("{") else {}), done.stderr.decode()


def same_tree(a: Path, b: Path) -> None:
    mine = sorted(p.relative_to(a).as_posix() for p in a.rglob("*"))
    theirs = sorted(p.relative_to(b).as_posix() for p in b.rglob("*"))
    assert mine == theirs
    for name in mine:
        x, y = a / name, b / name
        if x.is_symlink():
            assert x.readlink() == y.readlink()
        elif x.is_file():
            assert x.read_bytes() == y.read_bytes()


def denials(v: Vaulted, code: str) -> list[dict[str, object]]:
    return [
        e
        for e in log_entries(v.store.directory)
        if "denied" in str(e.get("predicateType", "")) and e["predicate"].get("code") == code  # type: ignore[union-attr]
    ]


# -- push ------------------------------------------------------------------------------------------


def test_push_answers_the_manifest_root_and_its_log_entry(vaulted: Vaulted) -> None:
    code, obj, err = run(vaulted, "data", "push", str(vaulted.dataset), "--json", who="alice")
    assert code == 0, err
    manifest = cli(
        str(vaulted.store.directory), "data", "manifest", str(vaulted.dataset), "--json", home=vaulted.home
    )
    assert obj["root"] == json.loads(manifest.stdout)["root"] == vaulted.root
    assert obj["sent"] == 0  # pushed already: nothing sent again
    stored = log_entries(vaulted.store.directory)[int(obj["entry"])]  # type: ignore[call-overload]
    assert stored["predicateType"] == STORED_TYPE
    assert stored["subject"] == [
        {"name": "dataset", "digest": {"sha256": vaulted.root.removeprefix("sha256:")}}
    ]
    assert stored["_signers"] == [keys.keyid(vaulted.store.keys["alice"].public_key())]


def test_push_of_a_single_file(vaulted: Vaulted, tmp_path: Path) -> None:
    one = tmp_path / "weights.bin"
    one.write_bytes(os.urandom(3000))
    code, obj, err = run(vaulted, "data", "push", str(one), "--json", who="alice")
    assert code == 0, err
    manifest = cli(str(vaulted.store.directory), "data", "manifest", str(one), "--json", home=vaulted.home)
    assert obj["root"] == json.loads(manifest.stdout)["root"]
    assert obj["files"] == 1


def test_nothing_is_readable_at_rest(vaulted: Vaulted) -> None:
    """The store's directory (database, blobs, staging) holds neither the files' bytes nor their names."""
    blobs = Path(vaulted.store.directory) / "blobs"
    assert any(blobs.rglob("*"))
    for path in Path(vaulted.store.directory).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert MARKER not in data, path
            assert b"same bytes" not in data, path
    assert vaulted.vault_key.resolve().parent != blobs.resolve()


@pytest.mark.parametrize("who", ["bob", "carol"])
def test_contractors_and_auditors_may_not_push(vaulted: Vaulted, who: str, tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x")
    code, obj, err = run(vaulted, "data", "push", str(tmp_path / "d"), "--json", who=who)
    assert code == 1, err
    assert "may not push" in str(obj["error"])


# -- pull ------------------------------------------------------------------------------------------


def test_pull_with_a_live_grant_verifies_and_logs_the_access_first(vaulted: Vaulted, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, obj, err = run(vaulted, "data", "pull", vaulted.root, str(out), "--json", who="bob")
    assert code == 0, err
    same_tree(vaulted.dataset, out)
    assert obj["verified"] is True
    assert obj["grant"] == vaulted.grants["bob"]
    entries = log_entries(vaulted.store.directory)
    access = entries[int(obj["access_entry"])]  # type: ignore[call-overload]
    assert access["predicateType"] == "https://chainproof.dev/custody/access/v1"
    assert access["predicate"]["grant"] == vaulted.grants["bob"]  # type: ignore[index]
    assert access["predicate"]["annotations"]["actor"] == "bob"  # type: ignore[index]
    assert access["_signers"] == [keys.keyid(vaulted.store.keys["bob"].public_key())]  # bob's own record
    assert int(obj["stored_entry"]) < int(obj["access_entry"])  # type: ignore[call-overload]
    # The pull is bob's own record: the chain of custody sees bob's access of the dataset.
    custody = Custody.open(Path(vaulted.store.directory))
    try:
        with custody.lineage_index() as index:
            accesses = [h for h in index.consumers(Digest(vaulted.root)) if h.index == obj["access_entry"]]
        assert [h.keyids for h in accesses] == [(keys.keyid(vaulted.store.keys["bob"].public_key()),)]
        assert vaulted.root in {str(d.digest) for d in custody.impact_of_actor("bob").datasets}
    finally:
        custody.close()


def test_a_file_request_must_name_an_access_record_of_this_pull(vaulted: Vaulted) -> None:
    """No byte without the access entry: a file request naming none (or another entry) is denied."""
    bob = vaulted.store.keys["bob"]
    hexroot = vaulted.root.removeprefix("sha256:")
    sha = next(iter(_file_digests(vaulted)))
    for access in (0, 1, 10**9):
        r = request(
            vaulted.server.url,
            "GET",
            f"/v1/vault/datasets/{hexroot}/files/{sha}",
            bob,
            params={"access": access, "offset": 0},
        )
        assert r.status_code == 403, r.text
        assert r.json()["code"] == "no-access-record"


def test_a_pull_without_its_own_fresh_access_record_is_denied(vaulted: Vaulted) -> None:
    """The server serves nothing until the puller's own access record, for this dataset, its
    live grant and now, is in the log: another key's record, another grant's, an old one, or
    none at all is refused before anything is appended."""
    bob, carol = vaulted.store.keys["bob"], vaulted.store.keys["carol"]
    root = bytes.fromhex(vaulted.root.removeprefix("sha256:"))
    path = f"/v1/vault/datasets/{vaulted.root}/pull"
    facts = request(vaulted.server.url, "POST", path, bob).json()["record"]
    assert facts["actor"] == "bob"
    assert facts["grant"] == vaulted.grants["bob"]
    assert "manifest" not in facts

    def signed(key: Ed25519PrivateKey, grant: str = facts["grant"], time: str = facts["time"]) -> bytes:
        record = access_record(
            root,
            grant_id=grant,
            purpose=facts["purpose"],
            actor=facts["actor"],
            keyid=facts["keyid"],
            time=time,
        )
        return signing.sign_statement(access_statement(record), key).canonical()

    before = log_entries(vaulted.store.directory)
    for body in (
        signed(carol),  # another key
        signed(bob, grant=vaulted.grants["victor"]),  # another grant
        signed(bob, time="2020-01-01T00:00:00Z"),  # not now
        b"not an envelope",
    ):
        r = request(vaulted.server.url, "POST", path, bob, body=body)
        assert r.status_code in (400, 403), r.text
        assert "manifest" not in r.json()
    appended = log_entries(vaulted.store.directory)[len(before) :]
    assert not any(e["predicateType"].endswith("/access/v1") for e in appended)  # type: ignore[union-attr]
    r = request(vaulted.server.url, "POST", path, bob, body=signed(bob))
    assert r.status_code == 200, r.text
    assert Manifest.from_json(r.json()["manifest"]).digest == vaulted.root


def _file_digests(v: Vaulted) -> set[str]:
    return {
        hashlib.sha256(p.read_bytes()).hexdigest()
        for p in v.dataset.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


@pytest.mark.parametrize(
    ("who", "why"),
    [("alice", "holds no grant"), ("carol", "has expired"), ("victor", "was revoked")],
)
def test_pull_without_a_live_grant_is_denied_and_logged(
    vaulted: Vaulted, tmp_path: Path, who: str, why: str
) -> None:
    before = len(denials(vaulted, "no-grant"))
    code, obj, err = run(vaulted, "data", "pull", vaulted.root, str(tmp_path / "out"), "--json", who=who)
    assert code == 1, err
    assert why in str(obj["error"])
    assert not any((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True
    _wait_for(lambda: len(denials(vaulted, "no-grant")) > before)
    latest = denials(vaulted, "no-grant")[-1]
    assert latest["predicate"]["actor"] == who  # type: ignore[index]


def _wait_for(condition: object, tries: int = 200) -> None:
    """Denials are appended by the server's committer a moment after the answer."""
    for _ in range(tries):
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("the denial never reached the log")


def test_usage_errors_exit_2(vaulted: Vaulted, tmp_path: Path) -> None:
    assert run(vaulted, "data", "pull", "sha256:nothex", str(tmp_path), who="bob")[0] == 2
    assert run(vaulted, "data", "pull", vaulted.root, str(tmp_path), who=None)[0] == 2
    local = cli(str(vaulted.store.directory), "data", "pull", vaulted.root, str(tmp_path), home=vaulted.home)
    assert local.returncode == 2
    code, _, _ = run(vaulted, "data", "pull", "sha256:" + "ab" * 32, str(tmp_path / "x"), "--json", who="bob")
    assert code == 1  # no grant for a dataset nobody granted: refused before anything else


# -- interruptions ---------------------------------------------------------------------------------


class Stop(Exception):
    pass


def _stopping_after(limit: int) -> object:
    def progress(done: int, total: int) -> None:
        if done >= limit:
            raise Stop

    return progress


@pytest.mark.parametrize("stop_at", [1, 1 << 20, 2 << 20, 3 << 20])
def test_an_interrupted_pull_leaves_no_final_file_and_resumes(
    vaulted: Vaulted, tmp_path: Path, stop_at: int
) -> None:
    out = tmp_path / "out"
    key = vaulted.store.keys["bob"]
    with pytest.raises(Stop):
        pull(
            vaulted.server.url,
            key,
            vaulted.root,
            out,
            on_progress=_stopping_after(stop_at),
            home=vaulted.home,
        )  # type: ignore[arg-type]
    visible = [p for p in out.iterdir() if not p.name.startswith(".chainproof-pull-")]
    assert visible == []
    total = sum(p.stat().st_size for p in vaulted.dataset.rglob("*") if p.is_file() and not p.is_symlink())
    resumed = pull(vaulted.server.url, key, vaulted.root, out, home=vaulted.home)
    same_tree(vaulted.dataset, out)
    assert resumed.received <= total
    if stop_at >= 2 << 20:  # at least one whole chunk of the large file was staged: not fetched again
        assert resumed.received <= total - (1 << 20)


def test_an_interrupted_push_resumes_from_what_the_server_holds(
    vaulted: Vaulted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer_module, "PART_BYTES", 1 << 20)
    dataset = tmp_path / "second"
    dataset.mkdir()
    (dataset / "a.bin").write_bytes(os.urandom(5 << 20))
    key = vaulted.store.keys["alice"]
    with pytest.raises(Stop):
        push(vaulted.server.url, key, dataset, on_progress=_stopping_after(2 << 20), home=vaulted.home)  # type: ignore[arg-type]
    done = push(vaulted.server.url, key, dataset, home=vaulted.home)
    assert done.sent == (5 << 20) - (2 << 20)
    assert done.bytes == 5 << 20


def test_two_pushes_of_one_dataset_at_once_store_it_once(
    vaulted: Vaulted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transfer_module, "PART_BYTES", 1 << 20)
    dataset = tmp_path / "third"
    dataset.mkdir()
    (dataset / "big.bin").write_bytes(os.urandom((4 << 20) + 5))
    for n in range(50):
        (dataset / f"small-{n}").write_bytes(os.urandom(100 + n))
    key = vaulted.store.keys["alice"]
    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(lambda _: push(vaulted.server.url, key, dataset, home=vaulted.home), range(2))
        )
    assert results[0].root == results[1].root
    assert results[0].entry == results[1].entry
    out = tmp_path / "out"
    code, _, err = run(vaulted, "data", "pull", results[0].root, str(out), who="alice")
    assert code == 1  # alice holds no grant for it: stored, and still not hers to pull
    assert "holds no grant" in err


# -- tampering -------------------------------------------------------------------------------------


def test_a_tampered_blob_is_refused_and_logged(vaulted: Vaulted, tmp_path: Path) -> None:
    hexroot = vaulted.root.removeprefix("sha256:")
    blobs = sorted(
        (Path(vaulted.store.directory) / "blobs" / hexroot / "files").iterdir(),
        key=lambda p: p.stat().st_size,
    )
    big = blobs[-1]  # several chunks: flip a byte in the second
    original = big.read_bytes()
    spot = 28 + (1 << 20) + 16 + 100
    try:
        big.write_bytes(original[:spot] + bytes([original[spot] ^ 1]) + original[spot + 1 :])
        before = len(denials(vaulted, "tampered"))
        out = tmp_path / "out"
        code, obj, err = run(vaulted, "data", "pull", vaulted.root, str(out), "--json", who="bob")
        assert code == 1, err
        assert "fails its check" in str(obj["error"])
        assert [p for p in out.iterdir() if not p.name.startswith(".")] == []
        _wait_for(lambda: len(denials(vaulted, "tampered")) > before)
        # Tampered at the start: refused before the answer begins.
        big.write_bytes(original[:40] + bytes([original[40] ^ 1]) + original[41:])
        with pytest.raises(VerificationError, match="fails its check"):
            pull(
                vaulted.server.url,
                vaulted.store.keys["bob"],
                vaulted.root,
                tmp_path / "again",
                home=vaulted.home,
            )
    finally:
        big.write_bytes(original)
    pull(vaulted.server.url, vaulted.store.keys["bob"], vaulted.root, tmp_path / "again", home=vaulted.home)
    same_tree(vaulted.dataset, tmp_path / "again")


def test_a_tampered_small_file_is_refused_in_a_batch_too(vaulted: Vaulted, tmp_path: Path) -> None:
    """Small files come many to a request: one found tampered with cuts that answer short, and
    the client's retry of it alone meets the refusal."""
    hexroot = vaulted.root.removeprefix("sha256:")
    notes = next(vaulted.dataset.glob("notes-*"))
    blob = (
        Path(vaulted.store.directory)
        / "blobs"
        / hexroot
        / "files"
        / hashlib.sha256(notes.read_bytes()).hexdigest()
    )
    original = blob.read_bytes()
    try:
        blob.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
        out = tmp_path / "out"
        code, obj, err = run(vaulted, "data", "pull", vaulted.root, str(out), "--json", who="bob")
        assert code == 1, err
        assert "fails its check" in str(obj["error"])
        assert [p for p in out.iterdir() if not p.name.startswith(".")] == []
    finally:
        blob.write_bytes(original)


def test_a_target_holding_other_bytes_is_never_overwritten(vaulted: Vaulted, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "copy-a.txt").write_bytes(b"mine")
    code, obj, _ = run(vaulted, "data", "pull", vaulted.root, str(out), "--json", who="bob")
    assert code == 2
    assert "not overwritten" in str(obj["error"])
    assert (out / "copy-a.txt").read_bytes() == b"mine"


def test_a_directory_linking_out_of_dir_is_never_written_through(vaulted: Vaulted, tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "sub").symlink_to(elsewhere)
    code, obj, _ = run(vaulted, "data", "pull", vaulted.root, str(out), "--json", who="bob")
    assert code == 2
    assert "leads out of" in str(obj["error"])
    assert list(elsewhere.iterdir()) == []


# -- servers without a vault, keys -----------------------------------------------------------------


def test_a_server_without_a_vault_key_refuses_push_and_pull(tmp_path: Path) -> None:
    store = build_store(tmp_path / "store", tmp_path)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x")
    with serving(store.directory) as server:
        for args, who in (
            (("data", "push", str(tmp_path / "d")), "alice"),
            (("data", "pull", "sha256:" + "d1" * 32, str(tmp_path / "o")), "bob"),
        ):
            done = cli(server.url, *args, "--json", key=store.key_file(who), home=tmp_path / "home")
            assert done.returncode != 0
            assert "started without --vault-key" in json.loads(done.stdout)["error"]


def test_keygen_and_rotate_then_serve_with_the_new_key(tmp_path: Path) -> None:
    store, dataset, root, old_key, _ = prepare(tmp_path, big=10)
    home = tmp_path / "home"
    again = cli(str(store.directory), "vault", "keygen", str(old_key), home=home)
    assert again.returncode == 2
    assert b"never overwritten" in again.stderr
    with serving(store.directory, "--vault-key", str(old_key)) as server:
        assert (
            cli(server.url, "data", "push", str(dataset), key=store.key_file("alice"), home=home).returncode
            == 0
        )
    blobs = {
        p: p.read_bytes()
        for p in (Path(store.directory) / "blobs").rglob("*")
        if p.is_file() and "files" in p.parts
    }
    new_key = tmp_path / "new.key"
    assert cli(str(store.directory), "vault", "keygen", str(new_key), home=home).returncode == 0
    rotated = cli(
        str(store.directory),
        "vault",
        "rotate",
        "--old",
        str(old_key),
        "--new",
        str(new_key),
        "--json",
        home=home,
    )
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout)["rotated"] == [root]
    assert {p: p.read_bytes() for p in blobs} == blobs  # not re-encrypted
    with serving(store.directory, "--vault-key", str(new_key), work=tmp_path) as server:
        out = tmp_path / "out"
        done = cli(server.url, "data", "pull", root, str(out), key=store.key_file("bob"), home=home)
        assert done.returncode == 0, done.stderr
        same_tree(dataset, out)
    with serving(store.directory, "--vault-key", str(old_key), work=tmp_path) as server:
        done = cli(
            server.url,
            "data",
            "pull",
            root,
            str(tmp_path / "o2"),
            "--json",
            key=store.key_file("bob"),
            home=home,
        )
        assert done.returncode == 2
        assert "wrapped by vault master key" in json.loads(done.stdout)["error"]


def test_push_and_pull_with_blobs_in_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's blobs in an S3-compatible store (moto's server): nothing under blobs/ locally."""
    store, dataset, root, vault_key, _ = prepare(tmp_path)
    home = tmp_path / "home"
    with s3_server() as endpoint:
        bucket = new_bucket(endpoint)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("CHAINPROOF_VAULT_BLOBS", f"s3://{bucket}/vault")
        with serving(store.directory, "--vault-key", str(vault_key)) as server:
            pushed = cli(
                server.url, "data", "push", str(dataset), "--json", key=store.key_file("alice"), home=home
            )
            assert pushed.returncode == 0, pushed.stderr
            assert json.loads(pushed.stdout)["root"] == root
            out = tmp_path / "out"
            pulled = cli(server.url, "data", "pull", root, str(out), key=store.key_file("bob"), home=home)
            assert pulled.returncode == 0, pulled.stderr
            same_tree(dataset, out)
        assert not (Path(store.directory) / "blobs").exists()
        s3 = S3BlobStore(bucket, "vault", endpoint_url=endpoint)
        names = list(s3.names())
        assert f"{root.removeprefix('sha256:')}/stored.json" in names
        for name in names:
            assert MARKER not in s3.get_bytes(name)


def test_a_contractor_pulls_from_a_private_log_served_by_two_processes(tmp_path: Path) -> None:
    """A contractor may read a private log's proofs, not its entries: the entry naming the dataset
    comes with the pull's answer and is proved, not read. Two worker processes: the access
    record one of them appended is found by the other."""
    store, dataset, root, vault_key, _ = prepare(tmp_path)
    home = tmp_path / "home"
    with serving(store.directory, "--vault-key", str(vault_key), "--private", "--workers", "2") as server:
        pushed = cli(server.url, "data", "push", str(dataset), key=store.key_file("alice"), home=home)
        assert pushed.returncode == 0, pushed.stderr
        for n in range(3):
            out = tmp_path / f"out{n}"
            pulled = cli(server.url, "data", "pull", root, str(out), key=store.key_file("bob"), home=home)
            assert pulled.returncode == 0, pulled.stderr
            same_tree(dataset, out)


def test_store_errors_from_a_dead_server_exit_2(vaulted: Vaulted, tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        pull("http://127.0.0.1:9", vaulted.store.keys["bob"], vaulted.root, tmp_path / "o", home=vaulted.home)
