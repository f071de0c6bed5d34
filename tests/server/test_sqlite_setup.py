"""The SQLite files a server's worker processes create together: the nonces, the cosignatures
and the lineage index. The process that loses the race to switch a new file to WAL is told
"database is locked" at once (SQLite calls no busy handler there), and must try again."""

from __future__ import annotations

import multiprocessing
from contextlib import closing
from pathlib import Path

import pytest

from chainproof.lineage.index import LineageIndex
from chainproof.server.cosignatures import SqliteCosignatures
from chainproof.server.nonces import SqliteNonces


def _open_new(kind: str, path: str) -> bool:
    if kind == "lineage":
        with closing(LineageIndex.open(Path(path))):
            return True
    store = SqliteNonces(Path(path)) if kind == "nonces" else SqliteCosignatures(Path(path))
    store.close()
    return True


@pytest.mark.parametrize("kind", ["nonces", "cosignatures", "lineage"])
def test_processes_creating_one_file_at_once_both_open_it(tmp_path: Path, kind: str) -> None:
    # Before the retry, about one round in three failed.
    with multiprocessing.get_context("fork").Pool(2) as pool:
        for round_ in range(40):
            path = tmp_path / str(round_)
            if kind == "lineage":
                path.mkdir()
            assert pool.starmap(_open_new, [(kind, str(path)), (kind, str(path))]) == [True, True]
