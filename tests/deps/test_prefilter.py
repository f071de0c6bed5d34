"""The parse prefilter: which words count, and that ruling files out never loses a finding."""

from __future__ import annotations

import itertools
import re
import sysconfig
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chainproof.deps.model import Finding
from chainproof.deps.rules import code, prefilter
from chainproof.deps.rules.base import FileRole
from chainproof.deps.rules.prefilter import (
    CRED,
    DECODE,
    ENVIRON,
    EXEC,
    NET,
    PROCESS,
    Depth,
    Marks,
    parse_depth,
    signs,
)


@pytest.mark.parametrize(
    ("source", "bit"),
    [
        (b"requests.get(url)", NET),
        (b"import requests as r\n", NET),
        (b"from requests import post", NET),
        (b"getattr(requests, 'post')", NET),
        (b"__import__('requests')", NET),
        (b"(requests\n .post)(url)", NET),
        (b"requests .get(url)", NET),
        (b"getattr(\n    socket\n    , 'create_connection')", NET),
        (b"globals()['requests'].get(u)", NET),
        (b"socket.create_connection(a)", NET),
        (b"from urllib3 import request", NET),
        (b"exec(code)", EXEC),
        (b"run = eval\n", EXEC),
        (b"builtins.compile(src, 'f', 'exec')", EXEC),
        (b"import builtins as re\nre.compile(src)", EXEC),
        (b"__builtins__ . eval(src)", EXEC),
        (b"from pickle import loads as L", EXEC),
        (b"\xef\xbd\x85xec(x)", EXEC | PROCESS),
        (b"os.path.join(home, '.kube', 'config')", CRED),
        (b"f'{home}/.ssh{sep}config'", CRED),
        (b"'~/.aws\\\\credentials'", CRED),
        (b"''.join(map(chr, data))", DECODE),
        (b"bytes (c ^ 7 for c in D)", DECODE),
        (b"exec(P[::-1])", DECODE),
        (b"exec(P[: # reversed\n  : ~0])", DECODE),
        (b"base64.b32hexdecode(P)", DECODE),
        (b"import os\nx = dict(os . environ)", ENVIRON),
        (b"from os import (path, environ)", ENVIRON),
        (b"import os as o\no.environ.copy()", ENVIRON),
        (b"getattr(os, 'environ')", ENVIRON),
        (b"__import__('os').environ", ENVIRON),
        (b"os.system(cmd)", PROCESS),
        (b"from os import path, system as s", PROCESS),
        (b"import os as o\no.execvpe(f, a, e)", PROCESS),
        (b"getattr(__import__('os'), 'system')(cmd)", PROCESS),
        (b"__import__('os') . popen(cmd)", PROCESS),
        (b"import os\ngetattr(os, 'execvp')(f, a)", PROCESS),
    ],
)
def test_what_counts(source: bytes, bit: int) -> None:
    assert signs(source) & bit == bit


@pytest.mark.parametrize(
    ("source", "bit"),
    [
        (b"session = requests.Session()", NET),
        (b"import requests_mock\n", NET),
        (b"import requests\n", NET),
        (b"path='/apis/certificates.k8s.io/v1/certificatesigningrequests'", NET),
        (b"limits = spec['requests']", NET),
        (b"the server handles requests for you", NET),
        (b"if False, the urllib3.HTTPResponse object is returned", NET),
        (b"socket.AF_INET", NET),
        (b"evaluate(x); executor.submit(f)", EXEC),
        (b"import re\nPATTERN = re.compile(r'x')\n", EXEC),
        (b"model.eval(); cursor.exec(q); query.compile()", EXEC),
        (b"myeval(x); _exec(y)", EXEC),
        (b"import kubernetes.kube_config", CRED),
        (b"class AtomicString(str): ...", CRED),
        (b"Chrome, Firefox and Safari accept it", CRED),
        (b"def app(environ, start_response):\n    return environ['PATH_INFO']", ENVIRON),
        (b"import os\nos.environment = 1", ENVIRON),
        (b"kwargs.environ = {}; 'environ_key'; macos.environ", ENVIRON),
        (b"import os, platform\nplatform.system(); filesystem; myexecv()", PROCESS),
    ],
)
def test_what_does_not_count(source: bytes, bit: int) -> None:
    assert signs(source) & bit == 0


def test_depth() -> None:
    assert parse_depth(b"import os\nx = 1\n") is Depth.NONE
    assert parse_depth(b"import subprocess\n") is Depth.MODULE
    assert parse_depth(b"import requests\nrequests.get(u)\n") is Depth.MODULE
    assert parse_depth(b"import requests, os\nrequests.post(u, json=dict(os.environ))\n") is Depth.FULL
    assert parse_depth(b"requests.get(u)\nsubprocess.run(x)\n") is Depth.FULL
    assert parse_depth(b"import base64\nexec(base64.b64decode(p))\n") is Depth.FULL
    assert parse_depth(b"subprocess.run([sys.executable, '-c', base64.b64decode(p)])") is Depth.FULL
    assert parse_depth(b"open(os.path.expanduser('~/.ssh/id_rsa'))") is Depth.FULL


def _naive_os_name(data: bytes, at: int, name: bytes) -> bool:
    """`os.name`, `(...).name`, `"name"`, or a file that imports from os or renames it."""
    if re.search(rb"(?:(?<![A-Za-z0-9_.])os|\))[\s\\]*\.[\s\\]*\Z", data[:at]):
        return True
    if at and re.match(rb"['\"]" + name + rb"[A-Za-z0-9_]*['\"]", data[at - 1 :]):
        return True
    return re.search(rb"from[\s\\]+os[\s\\]+import\b|(?<![A-Za-z0-9_.])os[\s\\]+as\b", data) is not None


def _naive_signs(data: bytes) -> int:
    """The same answer without the automaton: every token searched for at every position."""
    found = 0
    for token in prefilter._TOKENS:
        at = data.find(token.text)
        while at >= 0:
            attribute = token.builtin and data[:at].rstrip(b" \t\r\n\f\\").endswith(b".")
            foreign = token.os_attribute and not _naive_os_name(data, at, token.text)
            then = token.then is None or token.then.match(data, at) is not None
            looked_up = token.looked_up is not None and token.looked_up.match(data, at) is not None
            if (then or (looked_up and any(w in data for w in prefilter._LOOKUPS))) and not (
                (attribute and b"builtin" not in data) or foreign
            ):
                found |= token.signs
                break
            at = data.find(token.text, at + 1)
    if found & prefilter.PICKLE and found & prefilter.LOADS:
        found |= EXEC
    if found & (EXEC | PROCESS) and not found & DECODE and prefilter._REVERSED_SLICE.search(data):
        found |= DECODE
    return found


_PIECES = st.sampled_from(
    [t.text for t in prefilter._TOKENS]
    + [
        b" ",
        b".",
        b"\n",
        b"(",
        b")",
        b"'",
        b'"',
        b"\\",
        b"re.",
        b"get",
        b"Session",
        b"_x",
        b"import ",
        b" as ",
        b"{",
    ]
    + [b"os", b"from os import ", b"builtins", b"[", b":", b"-", b",", b"getattr", b"__import__", b"os as "]
)


@given(st.lists(_PIECES, max_size=12).map(b"".join))
def test_the_automaton_finds_what_a_search_for_every_token_finds(data: bytes) -> None:
    """Overlapping tokens ("from socket" and "socket") are all seen, whatever their order."""
    assert signs(data) == _naive_signs(data)


@given(st.lists(_PIECES, max_size=16).map(b"".join), st.integers(0, 8), st.integers(0, 8))
def test_marks_answer_like_a_substring_search(data: bytes, first: int, count: int) -> None:
    """For whole lines, as function bodies are: overlapping words may go unreported, not missed."""
    words = [t.text for t in prefilter._TOKENS] + list(prefilter._BODY_WORDS)
    assert not any(b"\n" in w for w in words)
    ends = list(itertools.accumulate(len(line) for line in data.splitlines(keepends=True)))
    starts = [0, *ends]
    start = starts[min(first, len(starts) - 1)]
    end = starts[min(first + count, len(starts) - 1)]
    expected = any(start <= i < end for w in words for i in _all(data, w))
    assert Marks(data).any_within(start, end) == expected


def _all(data: bytes, word: bytes) -> list[int]:
    out, at = [], data.find(word)
    while at >= 0:
        out.append(at)
        at = data.find(word, at + 1)
    return out


def _findings(data: bytes, *, prefiltered: bool) -> list[Finding]:
    where = code.Where("m.py", FileRole.MODULE, "pkg", "1", tuple(data.splitlines()))
    if prefiltered:
        return list(code.scan_python_file(where, data))
    analysis = code.analyze_source(data)
    return [] if analysis is None else list(code.findings_for(where, analysis))


@pytest.mark.slow
def test_ruling_files_out_changes_no_finding() -> None:
    """Real code: every third stdlib and site-packages file, analysed at the depth the prefilter
    chose (quiet function bodies skipped) and analysed whole."""
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    checked = ruled_out = 0
    for path in sorted(p for root in roots for p in root.rglob("*.py"))[::3]:
        data = path.read_bytes()
        if len(data) > code.MAX_PARSE_BYTES or code.parse_source(data) is None:
            continue
        ruled_out += parse_depth(data) is not Depth.FULL
        assert _findings(data, prefiltered=True) == _findings(data, prefiltered=False), path
        checked += 1
    assert checked > 1000
    assert ruled_out > checked // 2
