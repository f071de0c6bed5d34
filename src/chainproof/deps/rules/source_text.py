"""Source bytes as UTF-8 text the rules can search, whatever encoding the file was written in.

`ast.parse` honours a UTF-8 BOM and a PEP 263 coding cookie, but the byte-level pre-filter, the
stream search and the evidence lines only see bytes: a module written in UTF-16, or under
`# coding: utf-7` or `unicode_escape`, spells `exec` in bytes no pattern matches. Such a file is
decoded the way the interpreter (or a loader that reads it as text) would, and handed on as UTF-8,
with its cookie defused so the parser does not decode the text a second time.

Two more things make `ast.parse` refuse source that is otherwise readable: integer literals past
the interpreter's 4,300-digit conversion limit, and null bytes. `repaired` replaces both without
moving any other byte, so line and column numbers still point into the original text.
"""

from __future__ import annotations

import codecs
import re
import warnings
from collections.abc import Callable

_COOKIE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
"""PEP 263's own expression, on the first or second line."""
_TEXT_COOKIE = re.compile(r"(coding)([:=])")
_PLAIN = frozenset({"utf-8", "ascii"})
"""Cookies that change nothing about how ASCII words are spelled in bytes (nor where they are)."""
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_SAMPLE = 4096
"""How much of a file's start is looked at to tell UTF-16 written without a byte-order mark."""


def encoding_of(head: bytes) -> str | None:
    """The encoding a file must be decoded from to search it as text, judged from its first bytes;
    None when its bytes can be searched as they are (UTF-8, ASCII, or a cookie naming either)."""
    for bom, name in _BOMS:
        # Two bytes alone do not make UTF-16: ASCII text behind them would decode to noise.
        if head.startswith(bom) and _wide(head[len(bom) : _SAMPLE], 4 if "32" in name else 2):
            return name
    wide = _utf16_without_bom(head[:_SAMPLE])
    if wide is not None:
        return wide
    declared = _cookie(head)
    return None if declared is None or declared in _PLAIN else declared


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 text of mostly ASCII characters: every other byte is zero."""
    if len(sample) < 16:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > len(odd) * 0.9 and even.count(0) < len(even) * 0.1:
        return "utf-16-le"
    if even.count(0) > len(even) * 0.9 and odd.count(0) < len(odd) * 0.1:
        return "utf-16-be"
    return None


def _wide(sample: bytes, width: int) -> bool:
    """Whether `sample` reads as mostly-ASCII text of `width`-byte units: a third of its bytes or
    more are zero (code is mostly ASCII, whatever language its strings are in)."""
    return len(sample) < width or sample.count(0) * 3 >= len(sample)


def ascii_compatible(encoding: str) -> bool:
    """Whether text in `encoding` spells every printable ASCII character as the byte itself: then
    the file's raw bytes and its decoded text say the same in code."""
    sample = bytes(range(32, 127)) + rb"\x65\u0065+AGU-"  # and what escape and UTF-7 codecs rewrite
    try:
        with warnings.catch_warnings():  # escape codecs warn about `\]`, which is the point
            warnings.simplefilter("ignore")
            return bool(codecs.decode(sample, encoding, "strict") == sample.decode("ascii"))
    except Exception:  # noqa: BLE001 - any codec a cookie names: its own errors included (zlib.error)
        return False


def _cookie(head: bytes) -> str | None:
    for line in head.split(b"\n", 2)[:2]:
        m = _COOKIE.match(line)
        if m is not None:
            try:
                return codecs.lookup(m.group(1).decode("ascii")).name
            except (LookupError, UnicodeDecodeError):
                return None  # the interpreter refuses such a file; its bytes are searched as they are
    return None


class Transcoder:
    """Turns a file's bytes, fed in pieces, into UTF-8 (see `encoding_of`); undecodable bytes become
    U+FFFD rather than stopping the search."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._decode: Callable[[bytes, bool], str] | None
        try:
            self._decode = codecs.getincrementaldecoder(encoding)("replace").decode
        except Exception:  # noqa: BLE001 - a codec without an incremental decoder
            self._decode = None
        self._first = True

    def feed(self, data: bytes, final: bool = False) -> bytes:
        try:
            with warnings.catch_warnings():  # the file's invalid escapes are not ours to print
                warnings.simplefilter("ignore")
                text = self._text(data, final)
        except Exception:  # noqa: BLE001 - any codec a cookie names, with its own errors (zlib.error)
            text = data.decode("utf-8", "replace")
        if not isinstance(text, str):  # a bytes-to-bytes codec named in a cookie
            text = data.decode("utf-8", "replace")
        if self._first:
            text = _defuse_cookie(text.removeprefix("\ufeff"))
            self._first = False
        return text.encode("utf-8", "replace")  # lone surrogates (from escapes) included

    def _text(self, data: bytes, final: bool) -> object:
        if self._decode is not None:
            return self._decode(data, final)
        return codecs.decode(data, self.encoding, "replace")


def _defuse_cookie(text: str) -> str:
    """The same text with its coding cookie made inert (`c0ding:`), now that it is UTF-8."""
    first, sep, rest = text.partition("\n")
    second, sep2, tail = rest.partition("\n")
    return _TEXT_COOKIE.sub(r"c0ding\2", first) + sep + _TEXT_COOKIE.sub(r"c0ding\2", second) + sep2 + tail


def as_read(data: bytes) -> bytes:
    """The file as a loader that reads it as UTF-8 text sees it: its cookie means nothing there."""
    return _defuse_cookie(data.decode("utf-8", "replace")).encode("utf-8")


def as_utf8(data: bytes) -> tuple[bytes, str | None]:
    """The file as UTF-8 bytes, and the encoding it was decoded from (None: used as it is)."""
    encoding = encoding_of(data[:_SAMPLE])
    if encoding is None:
        return data, None
    return Transcoder(encoding).feed(data, final=True), encoding


# --- what keeps `ast.parse` from reading otherwise valid source ------------------------------

_LONG_DECIMAL = re.compile(rb"(?<![\w.])[0-9][0-9_]{4000,}(?![\w.])")
"""A decimal literal near the interpreter's int-conversion limit (4,300 digits): `ast.parse`
converts it and fails. Its value does not matter to any rule; its length keeps the columns."""


def repaired(data: bytes) -> bytes:
    """`data` with what stops `ast.parse` on readable code replaced, every other byte in place:
    over-long decimal literals become hex literals of the same length (hex has no conversion
    limit), null bytes become blanks."""
    fixed = _LONG_DECIMAL.sub(lambda m: b"0x" + b"f" * (len(m.group(0)) - 2), data)
    return fixed.replace(b"\0", b" ")
