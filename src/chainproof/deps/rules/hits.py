"""What the analysis of one file records: hits (one per thing the code does) and their summary."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class HitKind(enum.Enum):
    EXEC_DECODED = "exec-decoded"
    """exec/eval/compile (or `python -c`) of data that went through decoding layers."""
    EXEC_DYNAMIC = "exec-dynamic"
    """exec/eval/compile of something that is neither a literal nor visibly decoded."""
    PROCESS = "process"
    NETWORK = "network"
    DOWNLOAD_EXEC = "download-exec"
    ENV_EXFIL = "env-exfil"
    DECODE = "decode"
    FILE_WRITE = "file-write"
    DYNAMIC_IMPORT = "dynamic-import"
    CREDENTIAL_READ = "credential-read"
    """A file is opened or copied from a path built out of a credential location."""
    DROPPED_EXEC = "dropped-exec"
    """A command launches a file the same code wrote (a second stage)."""
    SHELL_WIRING = "shell-wiring"
    """Standard streams tied to a descriptor (`os.dup2(s.fileno(), 0)`, `Popen(..., stdin=s.fileno())`):
    a shell's input and output handed to a connection."""
    PERSISTENCE = "persistence"
    """A file, registry value or scheduled job placed where the system starts it at login or boot
    (the Startup folder, a Run key, autostart, launch agents, cron)."""
    OBFUSCATED = "obfuscated"
    """A string spelled in character codes (`''.join(map(chr, [...]))`): text hidden from readers."""


@dataclass(frozen=True)
class Hit:
    kind: HitKind
    line: int
    import_time: bool
    """Runs when the module is imported (module level, outside `if __name__ == '__main__'`)."""
    layers: int = 0
    """EXEC_DECODED: how many decoding steps hide the payload; NETWORK: 1 when the call sends data."""
    suspicious: bool = False
    """EXEC_DECODED: the payload is carried by the package (a literal or a file it reads);
    PROCESS: the command looks like a payload launcher; NETWORK: the host is hard-coded;
    ENV_EXFIL: the dump reaches the network (not just a file or an encoder)."""
    detail: str = ""
    func: int = 0
    """First line of the function the hit is in (0: module level): flows inside one function."""
    plain: bool = False
    """PROCESS: the command is a fixed list of plain words (`('git', 'rev-parse')`), a build or probe step."""


@dataclass(frozen=True)
class Analysis:
    hits: tuple[Hit, ...] = ()
    imports: frozenset[str] = frozenset()
    """Modules imported anywhere (dotted names as written)."""
    calls: frozenset[str] = frozenset()
    """Resolved names of everything called (`?` for calls whose target cannot be named)."""
    credentials: Mapping[str, int] = field(default_factory=dict)
    """Credential-location category -> first line that names it."""
    hosts: tuple[str, ...] = ()
    """Hosts and IP addresses in URL or address literals: IOC hints for a person."""
    statement_starts: frozenset[tuple[int, int]] = frozenset()
    """(line, byte column) of every statement: tells code from string contents after whitespace."""
    class_spans: Mapping[str, tuple[tuple[str, ...], int, int]] = field(default_factory=dict)
    """Class name -> (base names, first line, last line), for setup.py cmdclass overrides."""
    cmdclass: Mapping[str, str] = field(default_factory=dict)
    """setup.py command name -> class name, from `cmdclass={...}`."""
    assigns_state: bool = False
    """Writes into `os.environ`, `sys.modules` or builtins: changes what every later import sees."""
    command_helpers: Mapping[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    """setup.py command class -> line spans of the module functions its methods call."""
    channels: tuple[str, ...] = ()
    """Exfiltration channels the file names (request catchers, webhooks with their secret, pastes)."""
