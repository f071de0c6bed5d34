"""The custody commands on a remote store: answered from a verified local copy of the server's
log, the same answers as on the store itself; appends go through the server's access rules; a
server whose entries are not those of its checkpoints is refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_support import DATA, OTHER, Server, Store, build_store, cli, serving

from bundle_support import change_entry


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return build_store(tmp_path / "store")


@pytest.fixture
def server(store: Store) -> Iterator[Server]:
    with serving(store.directory) as s:
        yield s


QUERIES = [
    ["actor", "list", "--json"],
    ["grant", "list", "--json"],
    ["lineage", DATA, "--format", "json"],
    ["impact", "--dataset", DATA, "--json"],
]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: " ".join(q[:2]))
def test_answers_are_those_of_the_store_itself(
    server: Server, store: Store, tmp_path: Path, query: list[str]
) -> None:
    home = tmp_path / "home"
    remote = cli(server.url, *query, key=store.key_file("carol"), home=home)
    local = cli(str(store.directory), *query, home=home)
    assert remote.returncode == 0, remote.stderr
    assert local.returncode == 0, local.stderr
    assert json.loads(remote.stdout) == json.loads(local.stdout)


def test_records_go_through_the_server_and_its_rules(server: Server, store: Store, tmp_path: Path) -> None:
    home = tmp_path / "home"
    bob = store.key_file("bob")
    labels = "sha256:" + "e1" * 32
    ok = cli(
        server.url,
        "record",
        "annotate",
        "--input",
        DATA,
        "--output",
        labels,
        "--key",
        str(bob),
        "--json",
        key=bob,
        home=home,
    )
    assert ok.returncode == 0, ok.stderr
    index = json.loads(ok.stdout)["index"]
    refused = cli(
        server.url,
        "record",
        "annotate",
        "--input",
        OTHER,
        "--output",
        "sha256:" + "e2" * 32,
        "--key",
        str(bob),
        key=bob,
        home=home,
    )
    assert refused.returncode == 2
    assert b"no live grant" in refused.stderr
    # The new record is in the copy: its lineage, asked remotely, names it.
    graph = json.loads(
        cli(server.url, "lineage", labels, "--format", "json", key=store.key_file("alice"), home=home).stdout
    )
    assert index in [h["index"] for h in graph["hops"]]


def test_a_server_whose_entries_are_not_its_checkpoints_is_refused(
    server: Server, store: Store, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    change_entry(Path(store.directory) / "log.db", 3)  # the store's bytes, tampered
    p = cli(server.url, "actor", "list", key=store.key_file("carol"), home=home)
    assert p.returncode == 1, p.stderr
    assert b"entry 3" in p.stderr or b"not those of its checkpoint" in p.stderr


def test_audit_and_export_of_a_remote_store_read_the_verified_copy(
    server: Server, store: Store, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    vkey = json.loads(cli(server.url, "log", "info", "--json", home=home).stdout)["vkey"]
    audit = cli(server.url, "audit", "--vkey", vkey, "--json", home=home)
    assert audit.returncode == 0, audit.stderr
    assert json.loads(audit.stdout)["ok"] is True
    exported = cli(server.url, "log", "export", str(tmp_path / "log.export"), "--json", home=home)
    assert exported.returncode == 0, exported.stderr
    offline = cli(
        str(store.directory),
        "audit",
        "--export",
        str(tmp_path / "log.export"),
        "--vkey",
        vkey,
        "--json",
        home=home,
    )
    assert json.loads(offline.stdout)["ok"] is True
    repair = cli(server.url, "log", "repair-checkpoints", home=home)
    assert repair.returncode == 2
    assert b"not on a server" in repair.stderr
