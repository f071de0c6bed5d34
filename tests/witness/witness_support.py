"""Helpers for the witness tests: witness keys, the `chainproof` command, a server's checkpoint."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from server_support import CHAINPROOF, Server, request

from chainproof.attest import keys
from chainproof.witness.cosignature import CosignatureSigner


def witness_key(work: Path, name: str) -> tuple[Path, CosignatureSigner]:
    """A witness key file in `work`, and the signer it makes under `name`."""
    key = keys.generate()
    path = work / f"{name.replace('/', '_')}.pem"
    keys.write_private(path, key)
    return path, CosignatureSigner(name, key)


def chainproof(*args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHAINPROOF, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "CHAINPROOF_HOME": str(home)},
        check=False,
    )


def checkpoint(server: Server) -> dict[str, object]:
    r = request(server.url, "GET", "/v1/log/checkpoint")
    assert r.status_code == 200, r.text
    return dict(r.json())
