"""`chainproof data ...` end to end, in temporary directories: the JSON contract, files written,
exit codes, and one-line errors without a traceback."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from manifest_naive import manifest_of

from chainproof.cli import data_cmd
from chainproof.cli.app import main
from chainproof.custody import build

PREFIX = "chainproof: error: "


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        lines = self.out.splitlines()
        assert len(lines) == 1, self.out
        return json.loads(lines[0])

    def error(self) -> str:
        assert self.code in (1, 2), (self.code, self.err)
        assert "Traceback" not in self.err
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith(PREFIX), self.err
        return lines[0][len(PREFIX) :]


@pytest.fixture
def cp(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("CHAINPROOF_JOBS", raising=False)

    def run(*args: object) -> Run:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return Run(code, out, err)

    return run


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    top = tmp_path / "data"
    files = {f"shard-{i:03d}.jsonl": b'{"q": %d}\n' % i * (i + 1) for i in range(20)}
    files |= {"nested/deep/readme.txt": b"hello", "big.bin": os.urandom(3 * 1024 * 1024 + 7)}
    for rel, data in files.items():
        (top / rel).parent.mkdir(parents=True, exist_ok=True)
        (top / rel).write_bytes(data)
    (top / "latest").symlink_to("big.bin")
    return top


def test_manifest_json_is_exactly_the_contract(cp: Any, dataset: Path) -> None:
    r = cp("data", "manifest", dataset, "--json")
    assert r.code == 0
    assert r.err == ""
    obj = r.json()
    assert set(obj) == {"root", "files"}
    entries, root = manifest_of(dataset)
    assert obj["root"] == "sha256:" + root.hex()
    assert obj["files"] == entries
    for f in obj["files"]:
        assert list(f)[:3] == ["path", "size", "sha256"]
        if "type" not in f:
            assert hashlib.sha256((dataset / f["path"]).read_bytes()).hexdigest() == f["sha256"]


def test_global_store_option_and_jobs_are_accepted(
    cp: Any, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = cp("--store", "elsewhere", "data", "manifest", dataset, "--jobs", "1", "--json").json()
    monkeypatch.setenv("CHAINPROOF_JOBS", "0")
    assert cp("data", "manifest", dataset, "--json").json() == one


def test_manifest_human_output_and_out_file(cp: Any, dataset: Path, tmp_path: Path) -> None:
    r = cp("data", "manifest", dataset, "--out", "m.json")
    assert r.code == 0
    assert r.err == ""
    obj = json.loads((tmp_path / "m.json").read_text())
    lines = r.out.splitlines()
    assert lines[0] == f"root   {obj['root']}"
    assert lines[1].startswith(f"files  {len(obj['files'])} (")
    assert lines[2] == "written to m.json"
    assert obj == cp("data", "manifest", dataset, "--json").json()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".m.json")] == []


def test_manifest_of_one_file_and_digest(cp: Any, dataset: Path) -> None:
    obj = cp("data", "manifest", dataset / "big.bin", "--json").json()
    data = (dataset / "big.bin").read_bytes()
    assert obj["files"] == [
        {"path": "big.bin", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    ]
    d = cp("data", "digest", dataset / "big.bin", "--json").json()
    assert d == {"digest": "sha256:" + hashlib.sha256(data).hexdigest(), "kind": "file"}
    assert (
        cp("data", "digest", dataset).out.strip() == cp("data", "manifest", dataset, "--json").json()["root"]
    )


def test_prove_and_verify_file_round_trip(cp: Any, dataset: Path, tmp_path: Path) -> None:
    root = cp("data", "manifest", dataset, "--out", "m.json", "--json").json()["root"]
    for source in ("m.json", dataset):  # a manifest file, or the directory itself
        r = cp("data", "prove", source, "nested/deep/readme.txt", "--json")
        assert r.code == 0, r.err
        proof = r.json()
        assert {
            "index",
            "tree_size",
            "leaf_hash",
            "root_hash",
            "proof",
            "root",
            "path",
            "size",
            "sha256",
        } <= set(proof)
        assert proof["root"] == root
        assert proof["path"] == "nested/deep/readme.txt"
    r = cp("data", "prove", "m.json", "nested/deep/readme.txt", "--out", "p.json")
    assert r.code == 0
    assert r.out.splitlines()[0].startswith("nested/deep/readme.txt: entry ")
    ok = cp(
        "data",
        "verify-file",
        dataset / "nested/deep/readme.txt",
        "--proof",
        "p.json",
        "--root",
        root,
        "--json",
    )
    assert ok.code == 0, ok.err
    assert ok.json() == {
        "valid": True,
        "path": "nested/deep/readme.txt",
        "size": 5,
        "sha256": hashlib.sha256(b"hello").hexdigest(),
        "root": root,
        "index": proof["index"],
        "tree_size": proof["tree_size"],
    }
    human = cp("data", "verify-file", dataset / "nested/deep/readme.txt", "--proof", "p.json", "--root", root)
    assert human.out.startswith("valid: ")
    # the log's own checker reads the same proof
    assert cp("verify-proof", "p.json", "--json").json()["valid"] is True


def test_verify_file_of_a_symlink_entry(cp: Any, dataset: Path) -> None:
    root = cp("data", "manifest", dataset, "--json").json()["root"]
    assert cp("data", "prove", dataset, "latest", "--out", "p.json").code == 0
    r = cp("data", "verify-file", dataset / "latest", "--proof", "p.json", "--root", root)
    assert r.code == 0, r.err


def _flip(hexstr: str) -> str:
    return ("0" if hexstr[0] != "0" else "1") + hexstr[1:]


def test_verify_file_refuses_what_does_not_match(cp: Any, dataset: Path, tmp_path: Path) -> None:
    root = cp("data", "manifest", dataset, "--json").json()["root"]
    proof = cp("data", "prove", dataset, "shard-003.jsonl", "--json").json()
    good = tmp_path / "p.json"
    good.write_text(json.dumps(proof))
    target = dataset / "shard-003.jsonl"

    def verify(file: Path, proof_path: Path, *extra: object) -> str:
        r = cp("data", "verify-file", file, "--proof", proof_path, "--root", root, *extra)
        assert r.code == 1, (r.code, r.out, r.err)
        return r.error()

    assert "the proof is for 'shard-003.jsonl', not 'shard-004.jsonl'" in verify(
        target, good, "--path", "shard-004.jsonl"
    )
    assert "the proof is for 36 bytes, the file has 45" in verify(dataset / "shard-004.jsonl", good)
    changed = tmp_path / "copy.jsonl"
    changed.write_bytes(target.read_bytes().replace(b"3", b"4"))
    assert "the proof is for content sha256:" in verify(changed, good)
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps({**proof, "proof": [_flip(proof["proof"][0]), *proof["proof"][1:]]}))
    assert "is not shown to be in dataset" in verify(target, tampered)
    other_root = tmp_path / "other.json"
    other_root.write_text(
        json.dumps(
            {**proof, "root_hash": _flip(proof["root_hash"]), "root": "sha256:" + _flip(proof["root_hash"])}
        )
    )
    assert "the proof is for dataset sha256:" in verify(target, other_root)
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**proof, "size": 45}))
    assert "leaf_hash is not the hash of the entry" in verify(target, forged)
    bad_root = cp("data", "verify-file", target, "--proof", good, "--root", "sha256:xyz")
    assert bad_root.code == 1
    assert "sha256:<64 hex digits>" in bad_root.error()


def test_diff_exit_codes_and_json(cp: Any, dataset: Path, tmp_path: Path) -> None:
    assert cp("data", "manifest", dataset, "--out", "old.json").code == 0
    same = cp("data", "diff", "old.json", dataset, "--json")
    assert same.code == 0
    assert same.json()["identical"] is True
    assert cp("data", "diff", "old.json", dataset).out.startswith("identical: sha256:")
    (dataset / "shard-000.jsonl").write_bytes(b"changed\n")
    (dataset / "nested/deep/readme.txt").unlink()
    (dataset / "new.txt").write_bytes(b"n")
    r = cp("data", "diff", "old.json", dataset, "--json")
    assert r.code == 1
    assert r.err == ""
    obj = r.json()
    assert [e["path"] for e in obj["added"]] == ["new.txt"]
    assert [e["path"] for e in obj["removed"]] == ["nested/deep/readme.txt"]
    assert [c["path"] for c in obj["changed"]] == ["shard-000.jsonl"]
    assert obj["new"] == cp("data", "manifest", dataset, "--json").json()["root"]
    human = cp("data", "diff", "old.json", dataset)
    assert human.code == 1
    assert human.out.splitlines() == [
        "+ new.txt (1 bytes)",
        "- nested/deep/readme.txt (5 bytes)",
        "~ shard-000.jsonl (9 -> 8 bytes)",
        f"1 added, 1 removed, 1 changed ({obj['old']} -> {obj['new']})",
    ]


BAD: list[tuple[list[str], int, str]] = [
    (["data", "manifest", "missing"], 2, "missing: no such file or directory"),
    (["data", "manifest", "missing", "--json"], 2, "missing: no such file or directory"),
    (["data", "prove", "missing.json", "a"], 2, "missing.json: no such file or directory"),
    (["data", "prove", "m.json", "not/there"], 1, "'not/there' is not in the manifest sha256:"),
    (["data", "prove", "garbage.json", "a"], 1, "garbage.json is not JSON"),
    (["data", "prove", "altered.json", "a"], 1, "the manifest was altered"),
    (["data", "diff", "m.json", "missing"], 2, "missing: no such file or directory"),
    (
        ["data", "verify-file", "data/big.bin", "--proof", "garbage.json", "--root", "sha256:" + "0" * 64],
        1,
        "not JSON",
    ),
    (
        ["data", "verify-file", "missing", "--proof", "p.json", "--root", "sha256:" + "0" * 64],
        2,
        "no such file",
    ),
    (["data", "manifest", "data", "--out", "no/such/dir/m.json"], 2, "cannot write no/such/dir/m.json"),
    (["data", "manifest", "pipe"], 2, "pipe: a fifo, not a file or directory"),
]


@pytest.mark.parametrize(("args", "code", "fragment"), BAD, ids=[" ".join(a[:3]) for a, _, _ in BAD])
def test_bad_input_is_one_line(
    cp: Any, dataset: Path, tmp_path: Path, args: list[str], code: int, fragment: str
) -> None:
    assert cp("data", "manifest", dataset, "--out", "m.json").code == 0
    assert cp("data", "prove", "m.json", "big.bin", "--out", "p.json").code == 0
    (tmp_path / "garbage.json").write_text("{not json")
    obj = json.loads((tmp_path / "m.json").read_text())
    obj["files"][0]["size"] += 1
    (tmp_path / "altered.json").write_text(json.dumps(obj))
    os.mkfifo(tmp_path / "pipe")
    r = cp(*args)
    assert r.code == code, (r.code, r.err)
    assert fragment in r.error()
    if "--json" in args:
        assert r.json() == {"error": r.error(), "exit_code": code}


def test_progress_bar_only_on_a_terminal(cp: Any, dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    r = cp("data", "manifest", dataset, "--json")
    assert r.err == ""  # not a terminal: nothing on stderr
    monkeypatch.setattr(data_cmd, "_BAR_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    shown: list[tuple[int, int]] = []
    with data_cmd._progress("hashing") as update:
        assert update is not None
        build(dataset, on_progress=lambda d, t: (shown.append((d, t)), update(d, t)))
    assert shown[-1][0] == shown[-1][1] > 3 * 1024 * 1024


def test_the_console_script_prints_one_line_for_a_missing_path(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("chainproof")
    proc = subprocess.run(
        [str(exe), "data", "manifest", str(tmp_path / "nope")], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert proc.stderr == f"chainproof: error: {tmp_path}/nope: no such file or directory\n"
