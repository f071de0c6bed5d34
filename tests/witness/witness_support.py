"""Helpers for the witness tests: witness keys, the `chainproof` command, a server's denials."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from pathlib import Path

from server_support import CHAINPROOF, Server, request

from chainproof.attest import dsse, keys
from chainproof.server.denials import DENIED
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


def denials(server: Server) -> list[dict[str, object]]:
    found = []
    start: int | None = 0
    while start is not None:
        page = request(server.url, "GET", "/v1/log/entries", params={"start": start, "limit": 1000}).json()
        for item in page["entries"]:
            st = json.loads(dsse.parse(base64.b64decode(item["leaf"])).payload)
            if st["predicateType"] == DENIED:
                found.append(st["predicate"])
        start = page["next"]
    return found


def wait_for_denial(server: Server, code: str, path: str) -> dict[str, object]:
    for _ in range(100):  # the committer appends refusals within a fraction of a second
        for d in denials(server):
            if d["code"] == code and d["path"] == path:
                return d
        time.sleep(0.1)
    raise AssertionError(f"no denial {code} of {path} was appended")
