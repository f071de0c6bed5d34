"""End to end: what a newcomer's probe broke (a swapped checkpoint key, limits on input)."""

from __future__ import annotations

import shutil
from pathlib import Path

from cli_support import Cli, Store, attest_args

from chainproof.attest import keys
from chainproof.log.custody import SIGNER_FILE


def test_a_swapped_checkpoint_key_is_refused_before_anything_is_written(
    cli: Cli, store: Store, alice: Path, tmp_path: Path
) -> None:
    (tmp_path / "p.json").write_text("{}")
    cli.ok(*attest_args(alice, tmp_path / "p.json", tmp_path / "e.json"))
    before = store.state()
    shutil.move(store.path / SIGNER_FILE, tmp_path / "real.pem")
    keys.write_private(store.path / SIGNER_FILE, keys.generate())

    message = cli.fails(2, "--store", store.path, "log", "append", tmp_path / "e.json")
    assert f"{store.path / SIGNER_FILE} is not this log's checkpoint key" in message
    message = cli.fails(2, "--store", store.path, "key", "new", "bob", "--out", tmp_path / "bob.pem")
    assert "not this log's checkpoint key" in message
    assert not (tmp_path / "bob.pem").exists()
    assert store.state() == before

    (store.path / SIGNER_FILE).unlink()
    shutil.move(tmp_path / "real.pem", store.path / SIGNER_FILE)
    cli.ok("--store", store.path, "log", "append", tmp_path / "e.json")
    cli.ok("--store", store.path, "audit", "--vkey", store.vkey)
