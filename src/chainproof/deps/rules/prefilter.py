"""Which files the code rules must parse, and how deeply, decided from their raw bytes.

Parsing and walking syntax trees is most of a scan's cost, and most files of a library can produce
no code finding: they name no exec, decoder, process, network, environment or credential API. One
multi-pattern (Aho-Corasick) pass over a file's bytes finds every word any rule keys on; what is
present decides the depth. The words are a superset of what the analyser can resolve (it only
follows names through imports, `__import__`, `importlib.import_module`, getattr and assignments),
so a file ruled out here is one the analyser would have found nothing in.

Some words are common in ordinary code and prose ("evaluate", "re.compile(", "requests.Session",
"platform.system()", "the urllib3 response"); a word like that counts only where its surroundings
could still make it an API the analyser knows, which the checks of each `_Token` decide at the match.
docs/adr/0007-code-rule-prefilter.md gives the reasoning for each.
"""

from __future__ import annotations

import enum
import re
from bisect import bisect_left
from dataclasses import dataclass

from ahocorasick_rs import BytesAhoCorasick, Implementation


class Depth(enum.Enum):
    """How much of a file the code rules need to look at."""

    NONE = 0
    MODULE = 1
    """Only code that runs at import time (module level): all a process or network call alone can
    matter for (in a function either is ordinary; at import time it is a finding)."""
    FULL = 2


# What a file names, as bits: cheaper than a set or an enum.Flag in the per-match loop.
NET = 1
CRED = 2
EXEC = 4
DECODE = 8
ENVIRON = 16
ENV_OUT = 32
PROCESS = 64
RUNS_FILE = 128
"""Calls that make a downloaded file run (`os.chmod`, loading a module from a path)."""
PICKLE = 256
LOADS = 512
"""`pickle.loads` is an exec sink: both words must appear, wherever they come from."""
PERSIST = 1024
"""A place the system starts programs from at login or boot (the Startup folder, a Run key, cron)."""


@dataclass(frozen=True)
class _Token:
    text: bytes
    signs: int
    then: re.Pattern[bytes] | None = None
    """Checked at the match's start: the word only counts where this matches."""
    looked_up: re.Pattern[bytes] | None = None
    """Also counts where this matches, in a file that names one of `_LOOKUPS`."""
    os_attribute: bool = False
    """A name in the `os` module that others share (`platform.system()`, a WSGI `environ`): counts
    as `os.name`, `<call>().name` or a quoted name, or anywhere in a file that imports from `os` or
    renames it."""
    builtin: bool = False
    """A builtin's name: as an attribute (`model.eval()`, `re.compile`) it only counts in a file
    that names the builtins module, the one object whose attribute is the builtin."""


def _word(*words: bytes) -> re.Pattern[bytes]:
    """A whole word, not part of a longer identifier ("evaluate", "executor", "myeval")."""
    return re.compile(
        rb"(?<![A-Za-z0-9_])(?:" + b"|".join(re.escape(w) for w in words) + rb")(?![A-Za-z0-9_])"
    )


def _starts_word(prefix: bytes) -> re.Pattern[bytes]:
    """The start of a word: `execv` in `execvpe`, not in `myexecv`."""
    return re.compile(rb"(?<![A-Za-z0-9_])" + re.escape(prefix))


def _module(module: bytes, *calls: bytes) -> re.Pattern[bytes]:
    """A module name where it leads to one of `calls`: `module.call` (blanks and line joins allowed
    around the dot), `import module as m` or `from module import call`. Not `module.other`, a
    longer identifier, a bare import (its calls are `module.call`) or the word in a sentence."""
    names = b"|".join(re.escape(c) for c in calls)
    return re.compile(
        rb"(?<![A-Za-z0-9_])"
        + re.escape(module)
        + rb"(?=[\s\\]*\.[\s\\]*(?:"
        + names
        + rb")(?![A-Za-z0-9_])|[ \t\\]+(?:as|import)(?![A-Za-z0-9_]))"
    )


def _looked_up(module: bytes) -> re.Pattern[bytes]:
    """A module name as `__import__("module")`, `globals()["module"]` or `getattr(module, ...)`
    write it: counts in files that look names up so."""
    return re.compile(rb"(?<![A-Za-z0-9_])" + re.escape(module) + rb"(?=[\s\\]*[,'\"])")


_LOOKUPS = (b"__import__", b"import_module", b"getattr", b"globals", b"vars", b"locals")


# Python reads identifiers in NFKC form: `exec` spelled in fullwidth letters (UTF-8 EF BC/EF BD ..)
# or mathematical letters (F0 9D ..) is `exec` to it, so their first bytes count as a hint of any name.
_NFKC = (b"\xef\xbc", b"\xef\xbd", b"\xf0\x9d")


def _separated(*words: bytes) -> tuple[bytes, ...]:
    """A path part followed by a separator: `/` or a backslash (in source also the start of any
    escape, so `\\x2f` is covered)."""
    return tuple(w + end for w in words for end in (b"/", b"\\"))


def _ending(*words: bytes) -> tuple[bytes, ...]:
    """A path part at the end of a string: in source, before a closing quote or the `{` that ends an
    f-string's literal part."""
    return tuple(w + end for w in words for end in (b"'", b'"', b"{"))


def _part(*words: bytes) -> tuple[bytes, ...]:
    """A path part followed by a separator or the end of the string."""
    return (*_separated(*words), *_ending(*words))


_EXEC_TOKENS = (
    _Token(b"exec", EXEC, _word(b"exec", b"execfile"), builtin=True),
    _Token(b"eval", EXEC, _word(b"eval"), builtin=True),
    _Token(b"compile", EXEC, _word(b"compile"), builtin=True),
    _Token(b"FunctionType", EXEC),
    _Token(b"pickle", PICKLE),
    _Token(b"loads", LOADS),
    *(_Token(t, EXEC | PROCESS) for t in _NFKC),
)
_DECODE_TOKENS = (
    *(
        _Token(t, DECODE)
        for t in (
            *(b"b64decode", b"b32decode", b"b32hexdecode", b"b16decode", b"b85decode", b"a85decode"),
            *(b"decodebytes", b"decodestring", b"decompress", b"unhexlify", b"a2b_", b"fromhex", b"codecs"),
            *(b"rot13", b"rot_13"),
        )
    ),
    # Text rebuilt from numbers: `''.join(map(chr, ...))`, `bytes(c ^ k for c in ...)`.
    _Token(b"chr", DECODE, _word(b"chr")),
    _Token(b"bytes", DECODE, re.compile(rb"(?<![A-Za-z0-9_])bytes[\s\\]*\(")),
    _Token(b"bytearray", DECODE, re.compile(rb"(?<![A-Za-z0-9_])bytearray[\s\\]*\(")),
)
_REVERSED_SLICE = re.compile(rb":(?:[\s\\]|#[^\n]*\n)*:(?:[\s\\]|#[^\n]*\n)*(?:[-~+]|not(?![A-Za-z0-9_]))")
"""A slice with a negative (or any unary) step, `text[::-1]`: reversing a literal hides it too."""
_FROM_OS = re.compile(rb"from[\s\\]+os[\s\\]+import(?![A-Za-z0-9_])")
"""`from os import system`: a bare `system` is then `os.system`."""
_OS_AS = re.compile(rb"os[\s\\]+as(?![A-Za-z0-9_])")
"""`import os as o`: then `o.system` is `os.system`. (Each expression starts with a literal, which
the regex engine looks for quickly; one alternation of both was 15x slower.)"""
_PROCESS_TOKENS = (
    *(
        _Token(t, PROCESS)
        for t in (b"subprocess", b"posix_spawn", b"pty.spawn", b"from pty import", b"create_subprocess")
    ),
    *(_Token(t, PROCESS, _word(t), os_attribute=True) for t in (b"system", b"popen", b"startfile")),
    # os.execv, os.execlp, os.spawnve, ...
    *(
        _Token(t, PROCESS, _starts_word(t), os_attribute=True)
        for t in (b"execl", b"execv", b"spawnl", b"spawnv")
    ),
    *(_Token(t, PROCESS) for t in (b"'system'", b'"system"')),
)
_HTTP_VERBS = (b"get", b"post", b"put", b"patch", b"delete", b"head", b"request", b"stream")
_NET_TOKENS = (
    *(
        _Token(module, NET, _module(module, *calls), _looked_up(module))
        for module, calls in (
            (b"requests", _HTTP_VERBS),
            (b"httpx", _HTTP_VERBS),
            (b"socket", (b"socket", b"create_connection", b"gethostbyname")),
            (b"urllib3", (b"request",)),
        )
    ),
    *(
        _Token(t, NET)
        for t in (
            *(b"urlopen", b"urlretrieve", b"HTTPConnection", b"HTTPSConnection", b"smtplib", b"ftplib"),
            *(b"telnetlib", b"dns.resolver", b"from dns import"),
        )
    ),
)
_CRED_TOKENS = tuple(
    _Token(t, CRED)
    for t in (
        *_ending(b".env"),
        *_part(b".ssh", b".aws", b".kube", b".azure", b"Exodus", b"Electrum", b"MetaMask", b"Atomic"),
        *_separated(b".docker", b"User Data", b"Google", b"Mozilla", b"Firefox", b"bitcoin", b"ethereum"),
        *_separated(b"electrum"),
        *(b"git-credentials", b"pypirc", b"netrc", b"id_rsa", b"id_dsa", b"id_ecdsa"),
        *(b"id_ed25519", b"Login Data", b"Web Data", b"Local State", b"BraveSoftware", b"cookies.sqlite"),
        *(b"logins.json", b"key4.db", b"wallet", b"nkbihfbeogaeaoehlefnkodbefgpgknn", b"exodus"),
        *(b"Local Storage", b"gcloud", b"application_default_credentials"),
    )
)
_OTHER_TOKENS = (
    _Token(b"environ", ENVIRON, _word(b"environ"), os_attribute=True),
    _Token(b"marshal", DECODE | RUNS_FILE),
    *(_Token(t, ENV_OUT) for t in (b"b64encode", b"hexlify", b".write(", b".send")),
    *(_Token(t, RUNS_FILE) for t in (b"chmod", b"spec_from_file_location")),
)
_PERSIST_TOKENS = tuple(
    _Token(t, PERSIST)
    for t in (
        *(b"'Startup'", b'"Startup"', b"\\Startup", b"/Startup", b"shell:startup", b"shell:common startup"),
        *(b"CurrentVersion", b"autostart", b"LaunchAgents", b"LaunchDaemons", b"crontab", b"/etc/cron"),
        b"schtasks",
    )
)
_TOKENS = (
    *_EXEC_TOKENS,
    *_DECODE_TOKENS,
    *_PROCESS_TOKENS,
    *_NET_TOKENS,
    *_CRED_TOKENS,
    *_OTHER_TOKENS,
    *_PERSIST_TOKENS,
)
_SIGNS = tuple(t.signs for t in _TOKENS)
_THEN = tuple(t.then for t in _TOKENS)
_LOOKED_UP = tuple(t.looked_up for t in _TOKENS)
_BUILTIN = tuple(t.builtin for t in _TOKENS)
_OS_ATTRIBUTE = tuple(t.os_attribute for t in _TOKENS)
_LENGTH = tuple(len(t.text) for t in _TOKENS)
# A DFA: three times the speed of the default automaton here, for under a millisecond to build.
_AUTOMATON = BytesAhoCorasick([t.text for t in _TOKENS], implementation=Implementation.DFA)


def signs(data: bytes) -> int:
    """The bits of everything the file names, in one pass over its bytes."""
    counted: set[int] = set()
    facts = _FileFacts(data)
    for index, start, _end in _AUTOMATON.find_matches_as_indexes(data, overlapping=True):
        if index not in counted and _counts(index, data, start, facts):
            counted.add(index)
    found = 0
    for index in counted:
        found |= _SIGNS[index]
    if found & PICKLE and found & LOADS:
        found |= EXEC
    # Colons are everywhere, so the slice is only looked for where it could feed exec or a process.
    if found & (EXEC | PROCESS) and not found & DECODE and _REVERSED_SLICE.search(data):
        found |= DECODE
    return found


def sign_offsets(data: bytes) -> list[tuple[int, int]]:
    """(bits, offset) of every place the file names something `signs` counts: where a person
    should look in a file the code rules could not analyse, and what stands close together."""
    found: list[tuple[int, int]] = []
    facts = _FileFacts(data)
    pickles: list[int] = []
    loads: list[int] = []
    for index, start, _end in _AUTOMATON.find_matches_as_indexes(data, overlapping=True):
        if not _counts(index, data, start, facts):
            continue
        bits = _SIGNS[index]
        found.append((bits, start))
        if bits & PICKLE:
            pickles.append(start)
        if bits & LOADS:
            loads.append(start)
    # `pickle.loads`, however it is spelled: exec where the two words meet.
    found += [(EXEC, q) for q in loads] if pickles else []
    if any(bits & (EXEC | PROCESS) for bits, _ in found):
        found += [(DECODE, m.start()) for m in _REVERSED_SLICE.finditer(data)]
    return found


class _FileFacts:
    """What some matches depend on in the rest of the file, each looked for once, when first asked."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._builtins: bool | None = None
        self._lookups: bool | None = None
        self._os: bool | None = None

    def names_builtins(self) -> bool:
        if self._builtins is None:
            self._builtins = b"builtin" in self.data  # builtins, __builtins__, __builtin__
        return self._builtins

    def looks_up_names(self) -> bool:
        if self._lookups is None:
            self._lookups = any(w in self.data for w in _LOOKUPS)
        return self._lookups

    def imports_from_os(self) -> bool:
        if self._os is None:
            data = self.data
            self._os = _FROM_OS.search(data) is not None or any(
                m.start() == 0 or data[m.start() - 1] not in _IDENTIFIER_OR_DOT for m in _OS_AS.finditer(data)
            )
        return self._os


def _counts(index: int, data: bytes, start: int, facts: _FileFacts) -> bool:
    """Whether the match of token `index` at `start` counts."""
    then = _THEN[index]
    if then is not None and not then.match(data, start):
        looked_up = _LOOKED_UP[index]
        if looked_up is None or not looked_up.match(data, start) or not facts.looks_up_names():
            return False
    if _BUILTIN[index] and _attribute(data, start) and not facts.names_builtins():
        return False
    return not _OS_ATTRIBUTE[index] or _os_attribute(data, start, _LENGTH[index]) or facts.imports_from_os()


def _os_attribute(data: bytes, start: int, length: int) -> bool:
    """Whether the name at `start` is visibly the `os` module's: `os.name`, `__import__("os").name`
    or a quoted name (`getattr(os, "name")`)."""
    end = start + length
    while end < len(data) and data[end] in _IDENTIFIER:  # the rest of `execvpe`
        end += 1
    if start > 0 and data[start - 1] in _QUOTES and data[end : end + 1] in (b"'", b'"'):
        return True
    before = _skip_blanks(data, start - 1)
    if before < 0 or data[before] != _DOT:
        return False
    base_end = _skip_blanks(data, before - 1)
    if base_end >= 0 and data[base_end] == _CLOSE:
        return True
    return data[max(0, base_end - 1) : base_end + 1] == b"os" and (
        base_end < 2 or data[base_end - 2] not in _IDENTIFIER_OR_DOT
    )


def _skip_blanks(data: bytes, at: int) -> int:
    while at >= 0 and data[at] in _BLANKS:
        at -= 1
    return at


def _attribute(data: bytes, start: int) -> bool:
    """Whether the word at `start` follows a dot (Python allows blanks and line joins around it)."""
    at = _skip_blanks(data, start - 1)
    return at >= 0 and data[at] == _DOT


_BLANKS = frozenset(b" \t\r\n\f\\")
_DOT, _CLOSE = ord("."), ord(")")
_QUOTES = frozenset(b"'\"")
_IDENTIFIER = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_IDENTIFIER_OR_DOT = _IDENTIFIER | {ord(".")}


def depth_for(found: int) -> Depth:
    """The depth the code rules need for a file that names `found`.

    Full analysis (function bodies too) where some rule can fire from inside a function: decoded
    data reaching exec, credential locations, an environment dump leaving the process, or a fetch
    that something could run. A process or network call alone only matters at import time.
    """
    # A process can run decoded code too (`python -c`).
    if (
        found & (CRED | PERSIST)
        or (found & (EXEC | PROCESS) and found & DECODE)
        or (found & ENVIRON and found & ENV_OUT)
    ):
        return Depth.FULL
    if found & NET and found & (EXEC | PROCESS | ENVIRON | RUNS_FILE):
        return Depth.FULL
    return Depth.MODULE if found & (NET | PROCESS) else Depth.NONE


def parse_depth(data: bytes) -> Depth:
    """How deep any code rule could need to look at a file, from its bytes alone."""
    return depth_for(signs(data))


_BODY_WORDS = (b"environ", b"://", b"import", b"class", b"open(", b".write_")
"""Besides every token above, what makes a function body worth walking in a file that is: a URL
(hosts named in the file), an import (the alias map is shared), a class (install-command spans) or
a file opened or written (what turns a credential read into a theft)."""
_BODY_AUTOMATON = BytesAhoCorasick(
    [*(t.text for t in _TOKENS), *_BODY_WORDS], implementation=Implementation.DFA
)


class Marks:
    """Where a file names anything a rule keys on, to tell quiet function bodies without a walk."""

    def __init__(self, data: bytes) -> None:
        # Matches that overlap a reported one are not reported, which loses nothing here: no word
        # spans a line, bodies are whole lines, so one of the overlapping words starts in the body.
        self.starts = [start for _i, start, _e in _BODY_AUTOMATON.find_matches_as_indexes(data)]

    def any_within(self, start: int, end: int) -> bool:
        """Whether some word starts in data[start:end]."""
        i = bisect_left(self.starts, start)
        return i < len(self.starts) and self.starts[i] < end
