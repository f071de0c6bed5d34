"""Fixtures for the CLI tests: an in-process `chainproof`, and initialised stores."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import ORIGIN, Cli, Store


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CHAINPROOF_STORE", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def cli(capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsysbinary, monkeypatch)


@pytest.fixture
def store(cli: Cli, tmp_path: Path) -> Store:
    """`chainproof --store DIR init --origin cli.example/custody`."""
    path = tmp_path / "store"
    obj = cli.ok("--store", path, "init", "--origin", ORIGIN, "--json").json()
    return Store(path, obj["vkey"], tmp_path)


@pytest.fixture
def alice(cli: Cli, store: Store) -> Path:
    """An actor key made and registered with `key new alice`."""
    out = store.workdir / "alice.pem"
    cli.ok("--store", store.path, "key", "new", "alice", "--out", out, "--json")
    return out
