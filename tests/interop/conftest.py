"""Go's golang.org/x/mod/sumdb (note and tlog), built once per run, as an independent checker.

The checker is `sumdbcheck/main.go`, compiled against Debian's `golang-golang-x-mod-dev` sources
with Debian's `golang-go`, offline (GOPATH mode, no module proxy). Where they are not installed the
tests are skipped with the command that installs them, unless CHAINPROOF_REQUIRE_GO is set (as
`.ci/run` sets it after installing them): then a missing toolchain fails the run instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest
from sumdb_support import Sumdb

SOURCE = Path(__file__).with_name("sumdbcheck")
INSTALL = "apt-get install golang-go golang-golang-x-mod-dev"
_XMOD = Path("src/golang.org/x/mod/sumdb/note")


def _gopath() -> Path | None:
    """A GOPATH entry that holds golang.org/x/mod's sources."""
    candidates = [p for p in os.environ.get("GOPATH", "").split(os.pathsep) if p] + ["/usr/share/gocode"]
    return next((Path(p) for p in candidates if (Path(p) / _XMOD).is_dir()), None)


def _unavailable(why: str) -> NoReturn:
    message = f"{why}; install them with `{INSTALL}`"
    if os.environ.get("CHAINPROOF_REQUIRE_GO"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def sumdb(tmp_path_factory: pytest.TempPathFactory) -> Sumdb:
    go = shutil.which("go")
    gopath = _gopath()
    if go is None or gopath is None:
        _unavailable("Go and golang.org/x/mod are needed for the interop tests")
    work = tmp_path_factory.mktemp("sumdbcheck")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(work),
        "GOPATH": str(gopath),
        "GOCACHE": str(work / "cache"),
        "GO111MODULE": "off",
        "GOPROXY": "off",
        "GOFLAGS": "",
    }
    exe = work / "sumdbcheck"
    built = subprocess.run(
        [go, "build", "-o", str(exe), "."], cwd=SOURCE, env=env, capture_output=True, timeout=300, check=False
    )
    assert built.returncode == 0, built.stderr.decode(errors="replace")
    return Sumdb(exe)
