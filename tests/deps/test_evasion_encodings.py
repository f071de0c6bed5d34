"""No encoding or parser limit hides a package's code from the guard.

Every payload is a harmless replica: base64 of `print('hello world')` handed to exec. Each file sits
in an importable module (the role whose files the pre-filter may skip) and in setup.py.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest
from deps_support import make_sdist

from chainproof.deps.model import Finding, Severity
from chainproof.deps.rules.code import parse_source
from chainproof.deps.rules.source_text import as_utf8, encoding_of, repaired
from chainproof.deps.scan import scan

P64 = "cHJpbnQoJ2hlbGxvIHdvcmxkJyk="
PAYLOAD = f"import base64\nexec(base64.b64decode('{P64}'))\n"


def module_findings(tmp_path: Path, source: bytes, where: str = "enc/__init__.py") -> list[Finding]:
    sdist = make_sdist(tmp_path, "enc", "1.0", {where: source})
    return [f for f in scan(sdist).findings if f.path == f"enc-1.0/{where}"]


def worst_rule(found: list[Finding]) -> tuple[str, Severity] | None:
    top = max(found, key=lambda f: f.severity, default=None)
    return None if top is None else (top.rule, top.severity)


ENCODED = {
    "utf-16-bom": PAYLOAD.encode("utf-16"),
    "utf-16-le-no-bom": PAYLOAD.encode("utf-16-le"),
    "utf-16-be-no-bom": PAYLOAD.encode("utf-16-be"),
    "utf-32-bom": PAYLOAD.encode("utf-32"),
    "utf-8-bom": codecs.BOM_UTF8 + PAYLOAD.encode(),
    "crlf": PAYLOAD.replace("\n", "\r\n").encode(),
    "cr": PAYLOAD.replace("\n", "\r").encode(),
    "form-feeds": ("\f" + PAYLOAD.replace("\n", "\n\f")).encode(),
    "utf-7-cookie": ("# coding: utf-7\n" + PAYLOAD.replace("exec", "+AGUAeABlAGM-")).encode(),
    "unicode-escape-cookie": (
        "# -*- coding: unicode_escape -*-\n" + PAYLOAD.replace("exec", r"\x65\x78\x65\x63")
    ).encode(),
    "huge-int-literal": (PAYLOAD + "KEY = " + "7" * 5000 + "\n").encode(),
    "null-byte": (PAYLOAD + "# \0\n").encode(),
}


@pytest.mark.parametrize("source", ENCODED.values(), ids=ENCODED.keys())
@pytest.mark.parametrize("where", ["enc/__init__.py", "setup.py"])
def test_encoded_payloads_are_analysed(tmp_path: Path, source: bytes, where: str) -> None:
    assert worst_rule(module_findings(tmp_path, source, where)) == ("code-exec-decoded", Severity.CRITICAL)


UNPARSABLE = {
    "nested-unary": (PAYLOAD + "x = " + "-" * 100_000 + "1\n").encode(),
    "long-chain": (PAYLOAD + "x = " + "1+" * 200_000 + "1\n").encode(),
    "nested-brackets": (PAYLOAD + "[" * 5000 + "\n").encode(),
    "python-2-syntax": (PAYLOAD + "print 'done'\n").encode(),
    "ebcdic-cookie-over-ascii": ("# coding: cp037\n" + PAYLOAD).encode(),
}


@pytest.mark.parametrize("source", UNPARSABLE.values(), ids=UNPARSABLE.keys())
def test_what_cannot_be_parsed_is_still_searched(tmp_path: Path, source: bytes) -> None:
    found = module_findings(tmp_path, source)
    assert worst_rule(found) in {
        ("code-unparsed-capability", Severity.HIGH),
        ("code-exec-decoded", Severity.CRITICAL),
    }
    assert all(f.line is None or f.line <= 3 for f in found if f.severity >= Severity.HIGH)


def test_the_statements_that_parse_are_analysed_and_the_rest_reported(tmp_path: Path) -> None:
    found = module_findings(tmp_path, b"import subprocess\nsubprocess.call(['ls'])\nprint 'done'\n")
    assert [(f.rule, f.severity, f.line) for f in found] == [
        ("code-exec-at-import", Severity.MEDIUM, 2),
        ("code-unparsed", Severity.LOW, None),
    ]
    assert "from line 3" in found[1].message


ONE_BAD_STATEMENT = (PAYLOAD.replace("\n", "; ") + "print 'done'\n").encode()
"""Nothing of it parses: the payload shares its statement with Python 2 syntax."""


def test_an_unparsable_statement_naming_a_payload_is_high(tmp_path: Path) -> None:
    found = module_findings(tmp_path, ONE_BAD_STATEMENT)
    assert [(f.rule, f.severity, f.line) for f in found] == [("code-unparsed-capability", Severity.HIGH, 1)]


def test_an_unparsable_test_file_is_lowered_like_every_code_finding(tmp_path: Path) -> None:
    found = module_findings(tmp_path, ONE_BAD_STATEMENT, "tests/test_x.py")
    assert worst_rule(found) == ("code-unparsed-capability", Severity.LOW)


def test_two_leading_bytes_alone_do_not_make_a_file_utf16() -> None:
    fake = b"\xff\xfe" + PAYLOAD.encode()
    assert encoding_of(fake) is None
    assert encoding_of(PAYLOAD.encode("utf-16")) == "utf-16"


def test_cookies_are_defused_once_the_text_is_utf8() -> None:
    text, encoding = as_utf8(b"# coding: utf-7\nx = '+AGU-'\n")
    assert (text, encoding) == (b"# c0ding: utf-7\nx = 'e'\n", "utf-7")
    assert as_utf8(b"# coding: utf-8\nx = 1\n") == (b"# coding: utf-8\nx = 1\n", None)


def test_codecs_that_are_not_text_encodings_leave_the_bytes_as_they_are() -> None:
    for cookie in (b"rot13", b"zlib", b"base64", b"no-such-codec"):
        source = b"# coding: " + cookie + b"\nexec(x)\n"
        assert b"exec(x)" in as_utf8(source)[0]


def test_repairs_keep_every_other_byte_in_place() -> None:
    source = b"a = " + b"9" * 4500 + b"\nb = '\0'\n"
    fixed = repaired(source)
    assert len(fixed) == len(source)
    assert fixed.splitlines()[1] == b"b = ' '"
    tree = parse_source(source)
    assert tree is not None
    assert len(tree.body) == 2


def test_a_module_in_a_newer_syntax_naming_exec_and_a_decoder_far_apart_stays_low(tmp_path: Path) -> None:
    # A class in a later Python's syntax (the parser here refuses it whole) that names a decoder
    # and `compile` a hundred lines apart: not a payload's shape in a library module; in an
    # install script anything unparsable that names both is.
    body = (
        "    raw = base64.b64decode(data)\n" + "    x = 1\n" * 100 + "    code = compile(src, 'f', 'exec')\n"
    )
    source = ("import base64\nclass Box[T]:\n" + body).encode()
    found = module_findings(tmp_path, source)
    assert [(f.rule, f.severity) for f in found] == [("code-unparsed", Severity.LOW)]
    assert worst_rule(module_findings(tmp_path / "setup", source, "setup.py")) == (
        "code-unparsed-capability",
        Severity.HIGH,
    )
