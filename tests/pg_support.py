"""A throwaway PostgreSQL server for the tests of the PostgreSQL store.

`postgres_server` (session-scoped) runs `initdb` into a temporary directory and starts the server on
a free loopback port, with trust authentication and without fsync (no test here survives a power
cut); it stops the server and deletes the directory at the end. `postgres_url` (per test) creates a
fresh database on it and gives its URL, so that tests share nothing. Both are fixtures of every test
directory: `tests/conftest.py` imports them.

The binaries come from PATH, else from Debian's /usr/lib/postgresql/<version>/bin. Without them the
tests skip, unless `CI` is set or `CHAINPROOF_REQUIRE_POSTGRES=1` (as `.ci/run` sets it): then they
fail. PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user (or
`nobody`), through `runuser`, in a directory that user owns.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest
from psycopg import sql

_START_ATTEMPTS = 3  # a free port may be taken between finding it and the server binding it
_SERVICE_USERS = ("postgres", "nobody")  # who runs the server when the tests run as root


def _binaries() -> Path | None:
    """The directory holding `initdb` and `pg_ctl`: PATH's, else the newest Debian install."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    for directory in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True):
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


def _version(bin_dir: Path) -> tuple[int, ...]:
    """The version a Debian install's directory names: /usr/lib/postgresql/15/bin is (15,)."""
    return tuple(int(part) for part in bin_dir.parent.name.split(".") if part.isdigit())


def _unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it where PostgreSQL must be there (CI)."""
    if os.environ.get("CI") or os.environ.get("CHAINPROOF_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required here: {reason}", pytrace=False)
    pytest.skip(
        f"PostgreSQL tests skipped: {reason} (install postgresql, or set CHAINPROOF_REQUIRE_POSTGRES=1)"
    )


def _service_user() -> pwd.struct_passwd | None:
    """As root: an unprivileged user to run the server as (initdb and postgres refuse root)."""
    for name in _SERVICE_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server: `url(dbname)`, `new_database()`, and `run` for its admin commands."""

    bin_dir: Path
    base: Path
    port: int = 0
    user: pwd.struct_passwd | None = None  # who the server runs as, when not this process's user
    _names: Iterator[int] = field(default_factory=itertools.count)

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def sockets(self) -> Path:
        return self.base / "sockets"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        """A PostgreSQL tool (initdb, pg_ctl), as the server's user; CalledProcessError on failure."""
        command = [str(self.bin_dir / tool), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user.pw_name, "--", *command]
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        return subprocess.run(command, cwd=self.base, env=env, check=True, capture_output=True, text=True)

    def initdb(self) -> None:
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += " -c full_page_writes=off -c synchronous_commit=off"
        log = str(self.base / "server.log")
        self.run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "60", "-o", options, "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    def restart(self) -> None:
        """Stop the server (ending every connection) and start it again, with the same options."""
        log = str(self.base / "server.log")  # else the server would write to (and hold) our pipe
        self.run("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "60", "-m", "fast", "restart")

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.base / "server.log").read_text(errors="replace")[-2000:]
        return ""

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)


def _started(bin_dir: Path) -> PostgresServer:
    """A server set up in a new temporary directory, running; its directory is removed on failure."""
    user = _service_user() if os.geteuid() == 0 else None
    if os.geteuid() == 0 and (user is None or shutil.which("runuser") is None):
        _unavailable("running as root, with no unprivileged user or no runuser to run the server as")
    # Under /tmp, not pytest's tmp_path: the socket's path must stay short, and another user (the
    # server's, as root) must reach the directory.
    server = PostgresServer(bin_dir, Path(tempfile.mkdtemp(prefix="chainproof-pg-")), user=user)
    try:
        server.sockets.mkdir()
        if user is not None:
            for path in (server.base, server.sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
        server.initdb()
        _start_on_a_free_port(server)
    except subprocess.CalledProcessError as e:
        detail = (e.stderr or e.stdout or "").strip() or server.log_tail()
        shutil.rmtree(server.base, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL ({e.cmd[-1]}): {detail}", pytrace=False)
    except BaseException:
        shutil.rmtree(server.base, ignore_errors=True)
        raise
    return server


def _start_on_a_free_port(server: PostgresServer) -> None:
    for attempt in range(_START_ATTEMPTS):
        server.port = free_port()
        try:
            server.start()
            return
        except subprocess.CalledProcessError:
            if attempt == _START_ATTEMPTS - 1:
                raise


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole test session (see the module's doc)."""
    bin_dir = _binaries()
    if bin_dir is None:
        _unavailable("no initdb and pg_ctl on PATH or in /usr/lib/postgresql/*/bin")
    server = _started(bin_dir)
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(server.base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a fresh database on the session's server, for one test."""
    return postgres_server.new_database()
