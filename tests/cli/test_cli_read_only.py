"""End to end: a store its user cannot write (another user's, on a read-only mount, in a directory
of mode 0500) is read, leaves nothing behind, and its writers still work afterwards."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import ORIGIN, Cli, envelope, envelope_json, leaf_hash_hex, read_key
from system_support import (
    OWNER_UID,
    READER_UID,
    as_user,
    chown_tree,
    one_line_error,
    public_directory,
    read_only_view,
    run,
)

READS = [
    ["log", "info"],
    ["key", "list"],
    ["log", "checkpoint"],
    ["log", "get", "3"],
    ["log", "prove", "2"],
    ["log", "prove", "3", "--size", "4"],
    ["log", "consistency", "2"],
]


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def make_store(cli: Cli, path: Path, envelopes_dir: Path, count: int) -> tuple[str, list[Path]]:
    """A store with `count` envelope files ready, the first two appended; (vkey, the files)."""
    vkey: str = cli.ok("--store", path, "init", "--origin", ORIGIN, "--json").json()["vkey"]
    key = envelopes_dir / "alice.pem"
    cli.ok("--store", path, "key", "new", "alice", "--out", key)
    files = []
    for n in range(count):
        files.append(envelopes_dir / f"e{n}.json")
        files[-1].write_bytes(envelope_json(envelope(read_key(key), n)))
    cli.ok("--store", path, "log", "append", *files[:2])
    return vkey, files


def expected_reads(cli: Cli, path: Path) -> list[object]:
    return [without_store(cli.ok("--store", path, *args, "--json").json()) for args in READS]


def without_store(obj: dict[str, object]) -> dict[str, object]:
    """A command's JSON but for the store directory it names (another path to the same store)."""
    return {k: v for k, v in obj.items() if k != "store"}


def test_another_user_reads_a_store_it_cannot_write(cli: Cli) -> None:
    reader, owner = as_user(READER_UID), as_user(OWNER_UID)
    with public_directory() as public:
        path = public / "store"
        vkey, envelopes = make_store(cli, path, public, 4)
        expected = expected_reads(cli, path)
        chown_tree(path, OWNER_UID)  # the owner may write it; the reader may only read it
        path.chmod(0o755)
        for name in ("log.db", "leaf-index.db"):
            (path / name).chmod(0o644)
        out = public / "out"
        out.mkdir(mode=0o777)
        out.chmod(0o777)
        before = files(path)

        def as_reader(*args: object) -> dict[str, object]:
            result = run(["--store", path, *args, "--json"], prefix=reader, cwd=public)
            assert result.returncode == 0, (args, result.stderr)
            return without_store(json.loads(result.stdout))

        assert [as_reader(*args) for args in READS] == expected
        leaf = leaf_hash_hex(envelope(read_key(public / "alice.pem"), 1))
        assert as_reader("log", "prove", leaf) == as_reader("log", "prove", "3")  # from the tiles
        assert as_reader("audit", "--vkey", vkey)["ok"]
        as_reader("log", "export", out / "export.txt")
        assert cli.ok("audit", "--vkey", vkey, "--export", out / "export.txt", "--json").json()["ok"]
        message = one_line_error(
            run(["--store", path, "log", "append", envelopes[2]], prefix=reader, cwd=public)
        )
        assert "cannot write the store" in message
        assert files(path) == before  # no -wal, -shm or rebuilt index left by the reader

        # The owner still writes, and the reader sees it.
        assert run(["--store", path, "log", "append", envelopes[2]], prefix=owner, cwd=public).returncode == 0
        assert files(path) == before
        assert as_reader("audit", "--vkey", vkey)["tree_size"] == 5

        # Its owner reads a store directory of mode 0500 without writing it, then writes again.
        path.chmod(0o500)
        result = run(["--store", path, "audit", "--vkey", vkey], prefix=owner, cwd=public)
        assert result.returncode == 0, result.stderr
        assert files(path) == before
        path.chmod(0o755)
        assert run(["--store", path, "log", "append", envelopes[3]], prefix=owner, cwd=public).returncode == 0
        assert as_reader("audit", "--vkey", vkey)["tree_size"] == 6


def test_a_store_on_a_read_only_mount_is_read_and_not_written(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "store"
    vkey, envelopes = make_store(cli, path, tmp_path, 3)
    expected = expected_reads(cli, path)
    with read_only_view(path, tmp_path / "view") as view:
        before = files(view)
        assert expected_reads(cli, view) == expected
        assert cli.ok("--store", view, "audit", "--vkey", vkey, "--json").json()["ok"]
        cli.ok("--store", view, "log", "export", tmp_path / "export.txt")
        message = cli.fails(2, "--store", view, "log", "append", envelopes[2])
        assert "cannot write the store" in message
        assert files(view) == before
    cli.ok("--store", path, "log", "append", envelopes[2])
    assert cli.ok("--store", path, "audit", "--vkey", vkey, "--json").json()["tree_size"] == 5
