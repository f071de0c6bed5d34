"""From hits to findings: each rule grades what a file's code does by where it sits and when it runs."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from chainproof._internal.text import plural
from chainproof.deps.model import Finding, Severity
from chainproof.deps.rules.base import FileRole
from chainproof.deps.rules.calls import _IPV4, _LOOPBACK
from chainproof.deps.rules.hits import Analysis, Hit, HitKind
from chainproof.deps.rules.syntax import WHITESPACE_RUN

EVIDENCE_CHARS = 120


@dataclass(frozen=True)
class Where:
    """Everything a finding needs to know about the file it is in."""

    path: str
    role: FileRole
    package: str | None
    version: str | None
    lines: tuple[bytes, ...]


def snippet(text: str | bytes, limit: int = EVIDENCE_CHARS) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def contextual(base: Severity, role: FileRole) -> Severity:
    """Tests only run when someone runs them: two steps lower, and never above medium."""
    if role is FileRole.TEST:
        return min(base.lowered(2), Severity.MEDIUM)
    return base


def _finding(
    where: Where, rule: str, sev: Severity, line: int | None, message: str, *, hosts: Iterable[str] = ()
) -> Finding:
    evidence = ""
    if line is not None and 0 < line <= len(where.lines):
        evidence = snippet(where.lines[line - 1])
    iocs = [h for h in hosts if not h.startswith(_LOOPBACK)][:3]
    if iocs:
        message = f"{message} (hosts named in this file: {', '.join(iocs)})"
    return Finding(
        rule, contextual(sev, where.role), where.package, where.version, where.path, line, message, evidence
    )


def _runs_early(where: Where, hit: Hit) -> bool:
    return where.role in (FileRole.STARTUP_HOOK, FileRole.INSTALL_SCRIPT) or hit.import_time


def findings_for(where: Where, a: Analysis) -> Iterator[Finding]:
    """Findings for one analysed Python file (one per rule, line and message: a payload written
    out several times is one finding)."""
    seen: set[tuple[str, int | None, str]] = set()
    if _program(where):
        a = replace(a, hits=tuple(replace(h, import_time=False) for h in a.hits))
    for found in _all_findings(where, a):
        key = (found.rule, found.line, found.message)
        if key not in seen:
            seen.add(key)
            yield found


_SDIST_ROOT = re.compile(r"[^/]+-\d[^/]*/")
"""An sdist's `name-version/` root: no importable package has a `-` in its name."""


def _program(where: Where) -> bool:
    """A file whose module-level code runs when someone runs it as a program, never on import:
    `__main__.py` (run by `python -m`), and in an sdist's tree a script that starts with a `#!` line
    (a package's `__init__.py` is never one)."""
    if where.role is not FileRole.MODULE:
        return False  # setup scripts and hooks carry `#!` lines too, and run all the same
    name = where.path.rsplit("/", 1)[-1]
    if name == "__main__.py":
        return True
    script = bool(where.lines) and where.lines[0].startswith(b"#!") and name != "__init__.py"
    return script and _SDIST_ROOT.match(where.path) is not None


def _all_findings(where: Where, a: Analysis) -> Iterator[Finding]:
    yield from _exec_findings(where, a)
    yield from _process_findings(where, a)
    yield from _flow_findings(where, a)
    yield from _credential_findings(where, a)
    yield from _obfuscation_findings(where, a)
    yield from _channel_findings(where, a)
    yield from _shell_findings(where, a)
    yield from _persistence_findings(where, a)
    if where.role is FileRole.INSTALL_SCRIPT:
        yield from _cmdclass_findings(where, a)


_FETCH_OR_RUN = frozenset(
    {HitKind.NETWORK, HitKind.DOWNLOAD_EXEC, HitKind.EXEC_DECODED, HitKind.PROCESS, HitKind.DROPPED_EXEC}
)


def _persistence_findings(where: Where, a: Analysis) -> Iterator[Finding]:
    """Something placed where the system starts it at login or boot: how a dropper survives a
    reboot. At import, install or start-up `high` (`critical` beside a download, a process or
    decoded code); in a function `high` beside those, `medium` alone (a desktop tool's own "start
    at login" switch looks the same)."""
    armed = any(h.kind in _FETCH_OR_RUN for h in a.hits)
    for h in _first(a.hits, HitKind.PERSISTENCE):
        if _runs_early(where, h):
            sev, when = (
                (Severity.CRITICAL if armed else Severity.HIGH),
                "as soon as it is imported or installed",
            )
        else:
            sev, when = (Severity.HIGH if armed else Severity.MEDIUM), "when called"
        yield _finding(
            where,
            "code-persistence",
            sev,
            h.line,
            f"puts something where the system starts it at login or boot ({h.detail}) {when}",
            hosts=a.hosts,
        )


def _first(hits: Iterable[Hit], kind: HitKind) -> list[Hit]:
    return [h for h in hits if h.kind is kind]


def _exec_findings(where: Where, a: Analysis) -> Iterator[Finding]:
    for h in _first(a.hits, HitKind.EXEC_DECODED):
        when = "at import time" if _runs_early(where, h) else "when called"
        if not h.suspicious:
            yield _finding(
                where,
                "code-exec-decoded",
                Severity.MEDIUM,
                h.line,
                f"decodes data received at run time and hands it to {h.detail} {when}",
                hosts=a.hosts,
            )
            continue
        sev = Severity.CRITICAL if _runs_early(where, h) or h.layers >= 2 else Severity.HIGH
        yield _finding(
            where,
            "code-exec-decoded",
            sev,
            h.line,
            f"executes data hidden behind {plural(h.layers, 'decoding layer')} via {h.detail} {when}",
            hosts=a.hosts,
        )


def _process_findings(where: Where, a: Analysis) -> Iterator[Finding]:
    for h in _first(a.hits, HitKind.PROCESS):
        if where.role is FileRole.INSTALL_SCRIPT:
            sev = Severity.HIGH if h.suspicious else Severity.MEDIUM
            yield _finding(
                where,
                "install-time-exec",
                sev,
                h.line,
                f"setup script runs a command ({h.detail}) when the package is built or installed",
                hosts=a.hosts,
            )
        elif h.import_time and where.role in (FileRole.MODULE, FileRole.TEST, FileRole.STARTUP_HOOK):
            sev = Severity.CRITICAL if h.suspicious else Severity.HIGH
            if not h.suspicious and where.role is not FileRole.STARTUP_HOOK:
                sev = Severity.MEDIUM if _plain_command(where, h) else Severity.HIGH
            yield _finding(
                where,
                "code-exec-at-import",
                sev,
                h.line,
                f"runs a command ({h.detail}) as soon as the module is imported",
                hosts=a.hosts,
            )
    for h in _first(a.hits, HitKind.NETWORK):
        if h.import_time and where.role is not FileRole.TEST:
            loopback = h.detail.startswith(_LOOPBACK)
            # A hard-coded host contacted on import: high when data goes out, the host is a bare IP
            # address, or the file is a setup script or hook; a plain fetch (a version check, a
            # dataset index) is medium.
            raw_ip = bool(_IPV4.match(h.detail.split("/")[0]))
            early = where.role in (FileRole.INSTALL_SCRIPT, FileRole.STARTUP_HOOK)
            strong = h.layers > 0 or raw_ip or early
            sev = Severity.HIGH if h.suspicious and not loopback and strong else Severity.MEDIUM
            yield _finding(
                where,
                "code-network-at-import",
                sev,
                h.line,
                f"contacts {h.detail} as soon as the module is imported or installed",
                hosts=a.hosts,
            )


def _plain_command(where: Where, hit: Hit) -> bool:
    """A fixed command list of literals (`['git', 'describe']`): a build or probe step, not a payload."""
    if hit.plain:
        return True
    if not 0 < hit.line <= len(where.lines):
        return False
    line = where.lines[hit.line - 1].decode("utf-8", "replace")
    return bool(re.search(r"\(\s*\[\s*['\"][\w./-]+['\"](\s*,\s*['\"][\w./= -]*['\"])*\s*\]", line))


def _flow_findings(where: Where, a: Analysis) -> Iterator[Finding]:
    for h in _first(a.hits, HitKind.DROPPED_EXEC):
        # A build tool writing a script template and running it on request is ordinary (and in a
        # file that names only a process, function bodies are not even read); hidden text written,
        # or anything written and launched at install or import, is a second stage.
        if _runs_early(where, h):
            sev = Severity.CRITICAL
        elif h.suspicious:
            sev = Severity.HIGH
        else:
            continue  # a plain file written and run on request: what build tools do
        yield _finding(
            where,
            "code-dropped-exec",
            sev,
            h.line,
            f"writes a file and launches it ({h.detail}): a second stage kept out of the package's source",
            hosts=a.hosts,
        )
    for h in _first(a.hits, HitKind.DOWNLOAD_EXEC):
        sev = Severity.CRITICAL if _runs_early(where, h) else Severity.HIGH
        yield _finding(
            where,
            "code-download-exec",
            sev,
            h.line,
            f"downloaded data reaches {h.detail}: fetch-and-execute",
            hosts=a.hosts,
        )
    for h in _first(a.hits, HitKind.ENV_EXFIL):
        if h.suspicious:
            sev = Severity.CRITICAL if _runs_early(where, h) else Severity.HIGH
            what = "sends a dump of every environment variable (tokens, keys) to a remote address"
        else:
            sev = Severity.HIGH if _runs_early(where, h) else Severity.MEDIUM
            what = f"encodes or writes out a dump of every environment variable ({h.detail})"
        yield _finding(where, "code-env-dump", sev, h.line, what, hosts=a.hosts)


def _credential_findings(where: Where, a: Analysis) -> Iterator[Finding]:
    """Naming one store is what an SDK does; reading several, or reading and sending, is a stealer."""
    cats = dict(a.credentials)
    if not cats:
        return
    count = len(cats)
    reads = _first(a.hits, HitKind.CREDENTIAL_READ)
    sev = Severity.LOW if count == 1 else Severity.MEDIUM if count == 2 else Severity.HIGH
    outward = any(
        h.kind in (HitKind.ENV_EXFIL, HitKind.FILE_WRITE)
        or (h.kind is HitKind.NETWORK and (h.suspicious or h.layers))
        for h in a.hits
    )
    if reads and (count >= 2 or any(_runs_early(where, h) for h in reads)):
        sev = max(sev, Severity.HIGH)
    if reads and outward:
        sev = sev.raised()
    if _sent_where_read(reads, a.hits):
        sev = max(sev, Severity.HIGH)
    if where.role in (FileRole.STARTUP_HOOK, FileRole.INSTALL_SCRIPT):
        sev = sev.raised()
    names = ", ".join(sorted(cats))
    what = "reads" if reads else "names"
    line = reads[0].line if reads else min(cats.values())
    tail = " and sends or writes data out" if reads and outward else ""
    yield _finding(
        where,
        "code-credential-read",
        sev,
        line,
        f"{what} credential locations ({names}){tail}",
        hosts=a.hosts,
    )


def _channel_findings(where: Where, a: Analysis) -> Iterator[Finding]:
    """A file that names an exfiltration channel and talks to the network: the channel is where the
    data goes. High when the contact runs at import or install, or sends data; critical when it does
    both, or when the same file also reads credentials or dumps the environment."""
    if not a.channels:
        return
    net = _first(a.hits, HitKind.NETWORK)
    if not net:
        return
    early = [h for h in net if _runs_early(where, h)]
    sends = [h for h in net if h.layers]
    loot = any(h.kind in (HitKind.CREDENTIAL_READ, HitKind.ENV_EXFIL) for h in a.hits)
    if early and (sends or loot):
        sev = Severity.CRITICAL
    elif early or sends:
        sev = Severity.HIGH
    else:
        sev = Severity.MEDIUM
    first = (early or sends or net)[0]
    when = "at import or install" if early else "when called"
    yield _finding(
        where,
        "code-exfil-channel",
        sev,
        first.line,
        f"contacts the network {when} in a file naming an exfiltration channel ({', '.join(a.channels[:3])})",
        hosts=a.hosts,
    )


_SOCKETS = ("socket.socket", "socket.create_connection")


def _shell_findings(where: Where, a: Analysis) -> Iterator[Finding]:
    """A reverse shell: a connection opened, standard streams tied to it, a shell or process started.
    Each piece alone is ordinary (servers dup2, tools spawn); all three in one file are a remote
    prompt on the victim's machine."""
    wiring = _first(a.hits, HitKind.SHELL_WIRING)
    connects = [h for h in _first(a.hits, HitKind.NETWORK) if h.detail in _SOCKETS or h.suspicious]
    if not wiring or not connects or not (a.calls & {"socket.socket", "socket.create_connection"}):
        return
    shells = _first(a.hits, HitKind.PROCESS)
    if not shells:
        return
    early = any(_runs_early(where, h) for h in (*wiring, *shells))
    yield _finding(
        where,
        "code-reverse-shell",
        Severity.CRITICAL if early else Severity.HIGH,
        wiring[0].line,
        f"ties a process's standard streams to a network connection ({shells[0].detail}): a reverse shell"
        + (" started at import or install" if early else ""),
        hosts=a.hosts,
    )


_CAPABILITIES = frozenset(
    {
        HitKind.PROCESS,
        HitKind.NETWORK,
        HitKind.EXEC_DECODED,
        HitKind.EXEC_DYNAMIC,
        HitKind.DOWNLOAD_EXEC,
        HitKind.ENV_EXFIL,
        HitKind.FILE_WRITE,
        HitKind.CREDENTIAL_READ,
        HitKind.DROPPED_EXEC,
    }
)
"""What code can do to a machine; a hidden string only matters beside one of these."""


def _obfuscation_findings(where: Where, a: Analysis) -> Iterator[Finding]:
    """Strings spelled in character codes: nothing a library needs to hide, least of all in a setup
    script or a startup hook, where they hide what runs at install or start."""
    hidden = _first(a.hits, HitKind.OBFUSCATED)
    if not hidden:
        return
    count = len({h.line for h in hidden})
    capable = [h for h in a.hits if h.kind in _CAPABILITIES]
    if where.role in (FileRole.INSTALL_SCRIPT, FileRole.STARTUP_HOOK):
        sev = Severity.HIGH if count >= 2 or capable else Severity.MEDIUM
        when = "when the package is installed" if where.role is FileRole.INSTALL_SCRIPT else "at start-up"
    elif any(h.import_time for h in hidden) and any(h.import_time for h in capable):
        sev, when = Severity.HIGH, "at import, beside code that acts on the machine"
    else:
        # In a module, hidden text alone is a table or a puzzle, not a payload: reported only
        # together with something it can act through, both at import (which is also all the code
        # rules read of a file that names nothing else they key on).
        return
    shown = "; ".join(dict.fromkeys(repr(h.detail) for h in hidden[:3]))
    yield _finding(
        where,
        "code-obfuscated-strings",
        sev,
        hidden[0].line,
        f"spells {plural(count, 'string')} in character codes {when} ({shown})",
        hosts=a.hosts,
    )


def _sent_where_read(reads: list[Hit], hits: Iterable[Hit]) -> bool:
    """A credential read and a network send in the same function: theft that runs when called."""
    funcs = {h.func for h in reads}
    return any(h.kind is HitKind.NETWORK and h.layers and h.func in funcs for h in hits)


_INSTALL_COMMANDS = frozenset(
    {
        "install",
        "develop",
        "egg_info",
        "bdist_egg",
        "install_lib",
        "install_scripts",
        "easy_install",
        "bdist_wheel",
        "dist_info",
    }
)
_BUILD_COMMANDS = frozenset({"build_py", "build_ext", "build", "sdist", "build_clib", "build_scripts"})


def _cmdclass_findings(where: Where, a: Analysis) -> Iterator[Finding]:
    for command, cls in sorted(a.cmdclass.items()):
        if cls not in a.class_spans or command not in _INSTALL_COMMANDS | _BUILD_COMMANDS:
            continue
        _bases, first, last = a.class_spans[cls]
        spans = [(first, last), *a.command_helpers.get(cls, ())]
        inside = [h for h in a.hits if any(lo <= h.line <= hi for lo, hi in spans)]
        risky = [
            h
            for h in inside
            if h.kind
            in (
                HitKind.PROCESS,
                HitKind.NETWORK,
                HitKind.EXEC_DECODED,
                HitKind.EXEC_DYNAMIC,
                HitKind.DOWNLOAD_EXEC,
                HitKind.ENV_EXFIL,
            )
        ]
        if command in _INSTALL_COMMANDS:
            sev = Severity.HIGH if risky else Severity.LOW
        else:
            sev = Severity.MEDIUM if any(h.kind is not HitKind.PROCESS for h in risky) else Severity.INFO
        if sev is Severity.INFO:
            continue
        doing = f"; it runs {', '.join(sorted({h.detail or h.kind.value for h in risky}))}" if risky else ""
        yield _finding(
            where,
            "install-cmdclass",
            sev,
            first,
            f"setup.py replaces the `{command}` command with {cls}{doing}",
            hosts=a.hosts,
        )


# --- whitespace-hidden code ------------------------------------------------------------------

_HIDDEN = re.compile(rb"\S([ \t]{%d,})(\S)" % WHITESPACE_RUN)
_HIDDEN_DANGER = re.compile(
    rb"exec|eval|__import__|base64|subprocess|os\.system|urlopen|requests|socket|marshal"
)
_HIDDEN_CODE_START = re.compile(rb"[;]|(import|from|exec|eval|__import__|os\.|subprocess)\b")


_BLANK_RUN = re.compile(rb"[ \t]{%d}" % WHITESPACE_RUN)


def _has_blank_run(data: bytes) -> bool:
    """Substring tests for the common case; the regex only for files that mix in tabs."""
    if b" " * WHITESPACE_RUN in data or b"\t" * WHITESPACE_RUN in data:
        return True
    return b"\t" in data and _BLANK_RUN.search(data) is not None


def hidden_whitespace(where: Where, a: Analysis | None) -> Iterator[Finding]:
    """Code pushed far right on a line so an editor or a diff view shows nothing (W4SP)."""
    for number, raw in enumerate(where.lines, start=1):
        if len(raw) < WHITESPACE_RUN:
            continue
        m = _HIDDEN.search(raw)
        if m is None:
            continue
        col = m.start(2)
        tail = raw[col:]
        if tail.startswith(b"#"):
            continue
        if a is not None:
            hidden = tail.startswith(b";") or any(ln == number and c >= col for ln, c in a.statement_starts)
        else:
            hidden = bool(_HIDDEN_CODE_START.match(tail))
        if not hidden:
            continue
        sev = Severity.CRITICAL if _HIDDEN_DANGER.search(tail) else Severity.HIGH
        yield Finding(
            "code-hidden-whitespace",
            contextual(sev, where.role),
            where.package,
            where.version,
            where.path,
            number,
            f"code hidden after {len(m.group(1))} blanks on one line, out of sight in editors and diffs",
            snippet(tail),
        )
