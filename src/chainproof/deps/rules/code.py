"""Code rules: what a package's Python files would do, read from their syntax tree alone.

Every file is only ever parsed (`ast.parse`), never imported, compiled to bytecode or run. The
analysis walks each scope (the module body, each function) in source order and records what it
sees as `Hit`s: decoded data handed to exec, processes spawned, network calls, downloads that get
executed, environment dumps that leave the process, credential locations named. The rules at the
bottom turn hits into findings, graded by where the file sits (`FileRole`) and whether the code runs
at import time. The startup-hook rules reuse the same analysis on `.pth` lines.
"""

from __future__ import annotations

import ast
import base64
import binascii
import enum
import itertools
import posixpath
import re
import warnings
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chainproof._internal.text import plural
from chainproof.deps.files import CHUNK_BYTES, FileTree, TargetKind, TreeError, read_chunks
from chainproof.deps.model import Distribution, Finding, Severity
from chainproof.deps.rules.base import FileRole, ScanContext
from chainproof.deps.rules.parallel import map_items
from chainproof.deps.rules.prefilter import CRED, ENVIRON, NET, Depth, Marks, depth_for, signs
from chainproof.deps.rules.roles import classify, installed_path, startup_modules
from chainproof.deps.rules.source_text import as_read, as_utf8, ascii_compatible, encoding_of, repaired

if TYPE_CHECKING:
    from chainproof.deps.rules.stream_search import Seen

MAX_PARSE_BYTES = 4 * 1024 * 1024
"""Larger .py files are reported as unanalysed instead of parsed (parsing is linear but not free)."""
MAX_NESTED_BYTES = 1024 * 1024
"""The most nested code (exec literals, decoded payloads) analysed for one file, in total."""
MAX_NESTING = 3
"""How deep literal code handed to exec or `python -c` is itself analysed."""
EVIDENCE_CHARS = 120
WHITESPACE_RUN = 150

# --- what calls mean -------------------------------------------------------------------------

EXEC_SINKS = frozenset({"exec", "eval", "compile", "types.FunctionType", "execfile", "pickle.loads"})
DECODERS = frozenset(
    {
        *(
            f"base64.{n}"
            for n in [
                "b64decode",
                "b32decode",
                "b32hexdecode",
                "b16decode",
                "b85decode",
                "a85decode",
                "decodebytes",
                "decodestring",
                "urlsafe_b64decode",
                "standard_b64decode",
            ]
        ),
        "binascii.a2b_base64",
        "binascii.unhexlify",
        "binascii.a2b_hex",
        "binascii.a2b_uu",
        "zlib.decompress",
        "gzip.decompress",
        "lzma.decompress",
        "bz2.decompress",
        "marshal.loads",
        "codecs.decode",
        "bytes.fromhex",
        "bytearray.fromhex",
    }
)
ENCODERS = frozenset(
    {"base64.b64encode", "base64.urlsafe_b64encode", "base64.b32encode", "base64.b16encode"}
    | {"base64.b85encode", "binascii.hexlify", "binascii.b2a_base64", "zlib.compress"}
)
_CODEC_NAMES = frozenset({"rot13", "rot_13", "hex", "hex_codec", "base64", "base_64", "zlib", "bz2", "uu"})
PROCESS_CALLS = frozenset(
    {
        *(
            f"subprocess.{n}"
            for n in ["Popen", "run", "call", "check_call", "check_output", "getoutput", "getstatusoutput"]
        ),
        "os.system",
        "os.popen",
        "os.posix_spawn",
        "os.posix_spawnp",
        "os.startfile",
        "pty.spawn",
        "commands.getoutput",
        "asyncio.create_subprocess_exec",
        "asyncio.create_subprocess_shell",
    }
)
_PROCESS_PREFIXES = ("os.exec", "os.spawn")
NETWORK_CALLS = frozenset(
    {
        "urllib.request.urlopen",
        "urllib.request.urlretrieve",
        "urllib.urlopen",
        "urllib.urlretrieve",
        "urllib2.urlopen",
        *(
            f"{m}.{v}"
            for m in ("requests", "httpx")
            for v in ["get", "post", "put", "patch", "delete", "head", "request", "stream"]
        ),
        "http.client.HTTPConnection",
        "http.client.HTTPSConnection",
        "httplib.HTTPConnection",
        "httplib.HTTPSConnection",
        "socket.socket",
        "socket.create_connection",
        "socket.gethostbyname",
        "smtplib.SMTP",
        "smtplib.SMTP_SSL",
        "ftplib.FTP",
        "telnetlib.Telnet",
        "urllib3.request",
        "dns.resolver.resolve",
        "dns.resolver.query",
    }
)
_SENDING = (
    ".post",
    ".put",
    ".patch",
    "socket.socket",
    "socket.create_connection",
    "smtplib.SMTP",
    "SMTP_SSL",
)
_FETCH_METHODS = frozenset({"read", "recv", "json", "iter_content", "readlines", "content", "text"})
_WRITE_MODES = re.compile(r"[wax]")
# Literals in a command line that mark a payload launcher rather than a build or version step.
_SUSPICIOUS_COMMAND = re.compile(
    r"\b(curl|wget|powershell|certutil|bitsadmin|mshta|nc|ncat|base64\s+-d)\b|https?://|/dev/tcp/|\|\s*(ba)?sh\b"
    r"|(^|\s)-c(\s|$)|\bsh\s+-c\b",
    re.IGNORECASE,
)
_URL = re.compile(r"\b(?:https?|ftp|wss?)://([A-Za-z0-9.\-_\[\]:]+)")
_IPV4 = re.compile(r"^(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?$")
_LOOPBACK = ("127.", "localhost", "0.0.0.0", "[::1]")  # noqa: S104 - compared against, never bound

CREDENTIAL_PATTERNS: Mapping[str, re.Pattern[str]] = {
    "ssh": re.compile(r"(^|[/\\~])\.ssh([/\\]|$)|\bid_(rsa|dsa|ecdsa|ed25519)\b"),
    "aws": re.compile(r"\.aws[/\\](credentials|config)|^\.aws$"),
    "kube": re.compile(r"\.kube[/\\]config|^\.kube$"),
    "gcloud": re.compile(r"\.config[/\\]gcloud|application_default_credentials\.json|^gcloud$"),
    "azure": re.compile(r"(^|[/\\~])\.azure([/\\]|$)"),
    "dotenv": re.compile(r"(^|[/\\~])\.env$"),
    "git-credentials": re.compile(r"\.git-credentials"),
    "pypirc": re.compile(r"\.pypirc"),
    "netrc": re.compile(r"(^|[/\\~])[._]netrc$"),
    "docker": re.compile(r"\.docker[/\\]config\.json"),
    "browser": re.compile(
        r"Login Data|Web Data|Local State|User Data[/\\]|Google[/\\]Chrome|BraveSoftware|Mozilla[/\\]Firefox"
        r"|Firefox[/\\]Profiles|cookies\.sqlite|logins\.json|key4\.db"
    ),
    "wallet": re.compile(
        r"wallet\.dat|(^|[/\\])(Exodus|Electrum|MetaMask|Atomic)([/\\]|$)|nkbihfbeogaeaoehlefnkodbefgpgknn"
        r"|exodus\.wallet|[/\\]\.?(bitcoin|electrum|ethereum)[/\\]"
    ),
    "discord": re.compile(r"discord(canary|ptb)?[/\\]Local Storage|Local Storage[/\\]leveldb"),
}

_ANY_CREDENTIAL = re.compile("|".join(f"(?:{p.pattern})" for p in CREDENTIAL_PATTERNS.values()))
"""One search per literal; the per-category patterns only run on the few that match."""

# --- hits ------------------------------------------------------------------------------------


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


def parse_source(data: bytes) -> ast.Module | None:
    """The syntax tree of untrusted source, or None when it is not Python we can safely parse.

    Hostile input can make the parser recurse deeply or allocate a lot; both are contained here.
    Source the parser refuses only for an over-long integer literal or a null byte is parsed with
    those replaced in place; source in an encoding its bytes do not spell ASCII in (UTF-16 without
    a cookie) is parsed from its text.
    """
    if len(data) > MAX_PARSE_BYTES:
        return None
    tree = _parse(data)
    if tree is None and encoding_of(data[:4096]) is not None:
        data = as_utf8(data)[0]
        tree = _parse(data)
    if tree is None:
        fixed = repaired(data)
        tree = _parse(fixed) if fixed != data else None
    return tree


def _parse(data: bytes) -> ast.Module | None:
    try:
        # The parser's warnings (invalid escapes, `1if`) are about someone else's style, not ours to print.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


def analyze_source(
    data: bytes,
    *,
    depth: int = 0,
    nested: _Budget | None = None,
    module_only: bool = False,
    skip_quiet: bool = False,
    found: int | None = None,
) -> Analysis | None:
    """What one file's code does.

    `nested` bounds the bytes of nested code analysed below it; `module_only` skips function
    bodies (for files where only import-time behaviour can matter); `skip_quiet` skips the bodies
    of functions whose source names nothing any code rule keys on (for the scan's findings; the
    calls and imports it records are then incomplete). `found`: the file's `prefilter.signs`, when
    already known.
    """
    tree = parse_source(data)
    if tree is None:
        return None
    try:
        found = signs(data) if found is None else found
        analyzer = _Analyzer(tree, depth, data, nested or _Budget(MAX_NESTED_BYTES), found)
        analyzer.module_only = module_only
        analyzer.skip_quiet = skip_quiet and not analyzer.want_starts
        return analyzer.run()
    except RecursionError:
        return None


def _literal_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


_SKIP_FIELDS = frozenset({"ctx", "op", "ops", "type_comment", "type_ignores"})
_SCALAR_FIELDS: Mapping[type, frozenset[str]] = {
    ast.Constant: frozenset({"value", "kind"}),
    ast.Name: frozenset({"id"}),
    ast.Attribute: frozenset({"attr"}),
    ast.keyword: frozenset({"arg"}),
    ast.arg: frozenset({"arg"}),
    ast.alias: frozenset({"name", "asname"}),
    ast.ImportFrom: frozenset({"module", "level"}),
    ast.Global: frozenset({"names"}),
    ast.Nonlocal: frozenset({"names"}),
    ast.FormattedValue: frozenset({"conversion"}),
    ast.comprehension: frozenset({"is_async"}),
}
"""Fields that the parser only ever fills with names, numbers or strings, never with nodes: the most
common nodes (names, constants, attributes) are leaves or near-leaves, and are known as such."""
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    skip = _SKIP_FIELDS | _SCALAR_FIELDS.get(cls, frozenset())
    fields: tuple[str, ...] = getattr(cls, "_fields", ())
    _FIELDS[cls] = found = tuple(f for f in fields if f not in skip)
    return found


def _children(node: ast.AST) -> list[ast.AST]:
    """Child nodes, without expression contexts and operators (a third of all nodes, never useful)."""
    fields = _FIELDS.get(type(node))
    if fields is None:
        fields = _fields(type(node))
    out: list[ast.AST] = []
    for name in fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            out += [v for v in value if isinstance(v, ast.AST)]
        elif isinstance(value, ast.AST):
            out.append(value)
    return out


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """`ast.walk` (breadth first, same order) without the contexts and operators `_children` drops.

    Those are leaves that no query here looks at, so every query sees the same nodes in the same
    order (step budgets are spent alike) for a third less work.
    """
    todo = deque([node])
    while todo:
        current = todo.popleft()
        if _FIELDS.get(type(current), True):  # leaf types have no children to look for
            todo.extend(_children(current))
        yield current


def _is_main_guard(node: ast.AST) -> bool:
    """`if __name__ == "__main__":` (possibly `and`-ed with other tests): not import-time code."""
    if not isinstance(node, ast.If):
        return False
    tests = (
        node.test.values
        if isinstance(node.test, ast.BoolOp) and isinstance(node.test.op, ast.And)
        else [node.test]
    )
    for test in tests:
        if isinstance(test, ast.Compare):
            sides = [test.left, *test.comparators]
            if any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides) and any(
                _literal_str(s) == "__main__" for s in sides
            ):
                return True
    return False


_SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_ACTIVE_NODES = (
    *(ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr, ast.For, ast.AsyncFor, ast.comprehension),
    *(ast.withitem, ast.Call, ast.Constant, ast.Import, ast.ImportFrom, ast.ClassDef),
)
"""Every node type `_Analyzer._visit` acts on; the rest (names, attributes, operators: most of a
tree) are only descended into."""
_NODE_FLAGS: dict[type, tuple[bool, bool]] = {}


def _node_flags(cls: type) -> tuple[bool, bool]:
    """(is a statement, is acted on) for a node type: one dict lookup per node instead of a chain
    of isinstance tests on every name, attribute and operator of the tree."""
    flags = _NODE_FLAGS.get(cls)
    if flags is None:
        flags = _NODE_FLAGS[cls] = (issubclass(cls, ast.stmt), issubclass(cls, _ACTIVE_NODES))
    return flags


class _Budget:
    """A step allowance shared by one recursive query: hostile code can make names refer to each
    other in wide, deep webs, and no query may follow more than this many steps in total."""

    def __init__(self, steps: int = 256) -> None:
        self.steps = steps

    def spend(self, cost: int = 1) -> bool:
        self.steps -= cost
        return self.steps >= 0


class _Scope:
    def __init__(self, parent: _Scope | None) -> None:
        self.parent = parent
        self.assigns: dict[str, ast.expr] = {}
        self.net: set[str] = set()
        """Names (and literal paths) holding fetched data or files written from it."""
        self.env: set[str] = set()
        """Names holding a bulk copy of the environment."""
        self.files: dict[str, ast.expr] = {}
        """Names bound to files opened for writing -> the path expression."""
        self.cred: set[str] = set()
        """Names holding a path built from a credential location."""

    def lookup(self, name: str) -> ast.expr | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.assigns:
                return scope.assigns[name]
            scope = scope.parent
        return None


class _Analyzer:
    def __init__(self, tree: ast.Module, depth: int, source: bytes, nested: _Budget, found: int) -> None:
        self.tree = tree
        self.depth = depth
        self.nested = nested
        self.module_only = False
        self.skip_quiet = False
        self.source = source
        self._line_ends: list[int] | None = None
        self._marks: Marks | None = None
        self.aliases: dict[str, str] = {}
        self.renamed: set[str] = set()
        """Names bound to a tracked API under another name (`run = exec`, `import subprocess as sp`)."""
        self._renamed_re: re.Pattern[bytes] | None = None
        # Most files never touch the environment or the network: skip those flow checks for them.
        self.env_capable = bool(found & ENVIRON)
        self.net_capable = bool(found & NET)
        self.cred_capable = bool(found & CRED)
        self.docstrings: set[int] = set()
        """ids of bare string statements (docstrings): text, never a path the code uses."""
        # Statement positions only matter to the whitespace rule, and only on long lines.
        self.want_starts = b" " * WHITESPACE_RUN in source or b"\t" * WHITESPACE_RUN in source
        self.starts: set[tuple[int, int]] = set()
        self.hits: list[Hit] = []
        self.calls: set[str] = set()
        self.imports: set[str] = set()
        self.credentials: dict[str, int] = {}
        self.hosts: list[str] = []
        self.cmdclass: dict[str, str] = {}
        self.classes: dict[str, tuple[tuple[str, ...], int, int]] = {}
        self.assigns_state = False

    def run(self) -> Analysis:
        """One pre-order pass in source order; each function body gets its own scope.

        Imports are recorded as they are met, so a name imported below its first use in a function
        is not resolved there: a rare layout, and the price of a single pass over the tree.
        """
        module = _Scope(None)
        stack: list[tuple[ast.AST, _Scope, bool]] = [(n, module, True) for n in reversed(self.tree.body)]
        while stack:
            node, scope, now = stack.pop()
            statement, active = _NODE_FLAGS.get(type(node)) or _node_flags(type(node))
            if statement or active:  # (names, attributes, operators: nothing to record)
                self._visit(node, scope, now)
            if isinstance(node, _SCOPE_NODES):
                body: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
                inner = _Scope(scope)
                if not self.module_only and not self._quiet(node):
                    stack.extend((c, inner, False) for c in reversed(body))
                # Decorators and defaults run when the function is defined, in the enclosing scope.
                outer: list[ast.AST] = [*getattr(node, "decorator_list", []), *node.args.defaults]
                outer.extend(d for d in node.args.kw_defaults if d is not None)
                stack.extend((c, scope, now) for c in reversed(outer))
                continue
            if not _FIELDS.get(type(node), True):
                continue  # a leaf type (names, constants): nothing to queue, no need to look
            children = _children(node)
            if children:
                inner_now = now and not (isinstance(node, ast.If) and _is_main_guard(node))
                stack += [(c, scope, inner_now) for c in reversed(children)]
        starts = frozenset(self.starts)
        return Analysis(
            hits=tuple(self.hits),
            imports=frozenset(self.imports),
            calls=frozenset(self.calls),
            credentials=dict(self.credentials),
            hosts=tuple(dict.fromkeys(self.hosts)),
            statement_starts=starts,
            class_spans=dict(self.classes),
            cmdclass=dict(self.cmdclass),
            assigns_state=self.assigns_state,
        )

    def _quiet(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> bool:
        """Whether a function's body names nothing any rule keys on, so walking it can find nothing.

        Most of a large library is such functions; a byte search of their lines is far cheaper
        than visiting their nodes.
        """
        if not self.skip_quiet or isinstance(node, ast.Lambda):
            return False
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring: text, which no rule reads (its examples are not code)
        if not body:
            return True
        if self._line_ends is None or self._marks is None:
            self._line_ends = list(itertools.accumulate(map(len, self.source.splitlines(keepends=True))))
            self._marks = Marks(self.source)
        first, last = body[0].lineno, node.end_lineno or body[-1].lineno
        ends = self._line_ends
        start, end = ends[first - 2] if first >= 2 else 0, ends[min(last, len(ends)) - 1]
        if self._marks.any_within(start, end):
            return False
        if not self.renamed:
            return True
        if self._renamed_re is None:
            words = b"|".join(re.escape(n.encode()) for n in sorted(self.renamed))
            self._renamed_re = re.compile(rb"(?<![A-Za-z0-9_])(?:" + words + rb")(?![A-Za-z0-9_])")
        return self._renamed_re.search(self.source, start, end) is None

    # -- names ----------------------------------------------------------------------------

    def qualname(self, node: ast.AST) -> str | None:
        """The dotted name a call target resolves to through imports, `__import__` and getattr."""
        if isinstance(node, ast.Name):
            return _strip_builtins(self.aliases.get(node.id, node.id))
        if isinstance(node, ast.Attribute):
            base = self.qualname(node.value)
            return _strip_builtins(f"{base}.{node.attr}") if base else None
        if isinstance(node, ast.Subscript):
            key = _literal_str(node.slice)
            base = self.qualname(node.value)
            return _strip_builtins(f"{base}.{key}") if base and key else None
        if isinstance(node, ast.Constant):
            return (
                "<str>"
                if isinstance(node.value, str)
                else "<bytes>"
                if isinstance(node.value, bytes)
                else None
            )
        if isinstance(node, ast.Call):
            func = self.qualname(node.func)
            arg = _literal_str(node.args[0]) if node.args else None
            if func == "__import__" and arg:
                return arg.split(".")[0]
            if func == "importlib.import_module" and arg:
                return arg
            if func == "getattr" and len(node.args) >= 2:
                base = self.qualname(node.args[0])
                attr = _literal_str(node.args[1])
                return _strip_builtins(f"{base}.{attr}") if base and attr else None
            if func in ("globals", "vars", "locals"):
                return "__builtins__"
        return None

    # -- decoding layers ------------------------------------------------------------------

    def layers(
        self, node: ast.AST, scope: _Scope, seen: frozenset[str] = frozenset(), budget: _Budget | None = None
    ) -> int:
        """How many decoding steps stand between literal data and this expression."""
        budget = budget or _Budget()
        if not budget.spend():
            return 0
        if isinstance(node, ast.Name):
            value = scope.lookup(node.id)
            if value is None or node.id in seen:
                return 0
            return self.layers(value, scope, seen | {node.id}, budget)
        if isinstance(node, ast.Call):
            parts: list[ast.AST] = [*node.args, *(k.value for k in node.keywords)]
            if isinstance(node.func, ast.Attribute):
                parts.append(node.func.value)
            inner = max((self.layers(p, scope, seen, budget) for p in parts), default=0)
            return inner + 1 if self._is_decoder(node) else inner
        if isinstance(node, ast.Subscript):
            inner = self.layers(node.value, scope, seen, budget)
            sl = node.slice
            # `text[::-1]` hides a literal; reversing a runtime list (of names, of parts) hides nothing.
            reversed_ = isinstance(sl, ast.Slice) and isinstance(sl.step, ast.UnaryOp)
            return inner + 1 if reversed_ and self.embedded(node.value, scope) else inner
        if isinstance(
            node, (ast.BinOp, ast.BoolOp, ast.JoinedStr, ast.FormattedValue, ast.Starred, ast.List, ast.Tuple)
        ):
            return max((self.layers(c, scope, seen, budget) for c in ast.iter_child_nodes(node)), default=0)
        return 0

    def embedded(
        self, node: ast.AST, scope: _Scope, seen: frozenset[str] = frozenset(), budget: _Budget | None = None
    ) -> bool:
        """Whether the data comes from the package itself: a long literal or a file it reads.

        Malware carries its payload; code that decodes what it receives at run time (a pickled
        reply from a child process, a parameter) is a different, much weaker signal.
        """
        budget = budget or _Budget()
        if not budget.spend():
            return False
        if isinstance(node, ast.Constant):
            return isinstance(node.value, (str, bytes)) and len(node.value) >= MIN_PAYLOAD
        if isinstance(node, ast.Name):
            value = scope.lookup(node.id)
            return (
                value is not None
                and node.id not in seen
                and self.embedded(value, scope, seen | {node.id}, budget)
            )
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in _FILE_READS:
                # A file that ships beside the module (found through __file__), not a cache the
                # library wrote itself at run time.
                return self._beside_module(func.value, scope, seen, budget)
            if self.qualname(func) in ("pkgutil.get_data", "importlib.resources.read_binary"):
                return True
            if (
                isinstance(func, ast.Attribute)
                and func.attr in _KEYED_METHODS
                and not (isinstance(func.value, ast.Name) and func.value.id in self.aliases)
            ):
                # `d.get("__pickle__")`, `text.encode("raw_unicode_escape")`: the literal is a key
                # or a codec name; the data is the object (a module's `codecs.decode(x, ..)` is not).
                return self.embedded(func.value, scope, seen, budget)
            # The data of `decode(x)` is x, of `x.decode()` is x, of `map(chr, x)` is x: short
            # literals (codec names, separators) never count, so both places can be looked at.
            data: list[ast.AST] = [*node.args, *([func.value] if isinstance(func, ast.Attribute) else [])]
            return any(self.embedded(d, scope, seen, budget) for d in data)
        if isinstance(node, (ast.BinOp, ast.BoolOp, ast.JoinedStr, ast.FormattedValue, ast.Starred)):
            return any(self.embedded(c, scope, seen, budget) for c in ast.iter_child_nodes(node))
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            # A list of numbers (chr codes, xor'ed bytes) is embedded data once it is long enough.
            return len(node.elts) >= MIN_PAYLOAD or any(
                self.embedded(e, scope, seen, budget) for e in node.elts
            )
        if isinstance(node, (ast.GeneratorExp, ast.ListComp)):
            return any(self.embedded(g.iter, scope, seen, budget) for g in node.generators)
        if isinstance(node, ast.Subscript):
            return self.embedded(node.value, scope, seen, budget)
        return False

    def _beside_module(self, node: ast.AST, scope: _Scope, seen: frozenset[str], budget: _Budget) -> bool:
        for n in _walk(node):
            if isinstance(n, ast.Name):
                if n.id in ("__file__", "__path__", "__spec__"):
                    return True
                value = scope.lookup(n.id)
                if value is None or n.id in seen or not budget.spend():
                    continue
                if self._beside_module(value, scope, seen | {n.id}, budget):
                    return True
        return False

    def _is_decoder(self, call: ast.Call, q: str | None = None) -> bool:
        """`q`: the call's resolved name, when the caller has it already (resolving is not free)."""
        q = (self.qualname(call.func) or "") if q is None else q
        if q in DECODERS:
            return True
        if q.endswith(".decode") and call.args and (_literal_str(call.args[0]) or "").lower() in _CODEC_NAMES:
            return True
        arg = call.args[0] if call.args else None
        if q == "<str>.join" and arg is not None:
            # ''.join(chr(c) for c in ...) / ''.join(map(chr, ...)): text rebuilt from numbers.
            return any(isinstance(n, ast.Name) and n.id == "chr" for n in _walk(arg))
        if q in ("bytes", "bytearray") and isinstance(arg, (ast.GeneratorExp, ast.ListComp, ast.Call)):
            return any(isinstance(n, ast.BinOp) for n in _walk(arg)) or isinstance(arg, ast.Call)
        return False

    # -- scopes ---------------------------------------------------------------------------

    def _visit(self, node: ast.AST, scope: _Scope, now: bool) -> None:
        statement, active = _node_flags(type(node))
        if statement and isinstance(node, ast.stmt):
            if self.want_starts:
                self.starts.add((node.lineno, node.col_offset))
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                self.docstrings.add(id(node.value))
        if not active:
            return
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
            self._assign(node, scope)
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            self._bind(node.target, node.iter, scope)
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            self._bind(node.optional_vars, node.context_expr, scope)
        elif isinstance(node, ast.Call):
            self._call(node, now, scope)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            self._literal(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            self._import(node)
        elif isinstance(node, ast.ClassDef):
            bases = tuple(self.qualname(b) or "?" for b in node.bases)
            self.classes[node.name] = (bases, node.lineno, node.end_lineno or node.lineno)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")[0]
                self._set_alias(a.asname or top, a.name if a.asname else top)
            self.imports.update(a.name for a in node.names)
            return
        if node.module and not node.level:
            for a in node.names:
                self._set_alias(a.asname or a.name, f"{node.module}.{a.name}")
        self.imports.add("." * node.level + (node.module or ""))

    def _set_alias(self, name: str, target: str) -> None:
        self.aliases[name] = target
        # A new name for an API a rule tracks makes its calls invisible to the prefilter's words:
        # a function body that uses the name has to be walked.
        if name != target and _tracked(_strip_builtins(target)) and name not in self.renamed:
            self.renamed.add(name)
            self._renamed_re = None

    def _assign(
        self, node: ast.Assign | ast.AnnAssign | ast.AugAssign | ast.NamedExpr, scope: _Scope
    ) -> None:
        value = node.value
        if value is None:
            return
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                if not isinstance(node, ast.AugAssign):
                    scope.assigns[target.id] = value
                    self._alias(target.id, value)
                if target.id == "cmdclass" and isinstance(value, ast.Dict):
                    self._cmdclass(value)
            elif isinstance(target, (ast.Subscript, ast.Attribute)):
                owner = self.qualname(target.value) or ""
                if owner in ("os.environ", "sys.modules", "builtins", "__builtins__", "sys.meta_path"):
                    self.assigns_state = True
            self._bind(target, value, scope)

    def _alias(self, name: str, value: ast.AST) -> None:
        """`run = exec`, `b = base64.b64decode`: the new name calls the same thing."""
        if isinstance(value, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
            q = self.qualname(value)
            if q in _TRACKED or (q or "").startswith(_PROCESS_PREFIXES):
                self._set_alias(name, q or "")

    def _bind(self, target: ast.AST, value: ast.AST, scope: _Scope) -> None:
        # A plain name is by far the most common target: no walk needed for it.
        names = (
            [target.id]
            if isinstance(target, ast.Name)
            else [n.id for n in _walk(target) if isinstance(n, ast.Name)]
        )
        if self._is_env_source(value, scope):
            scope.env.update(names)
        if self._is_net_source(value, scope):
            scope.net.update(names)
        if isinstance(value, ast.Call) and self._opened_for_write(value):
            for n in names:
                scope.files[n] = value.args[0]
        if self.cred_capable and self._is_cred_source(value, scope):
            scope.cred.update(names)

    def _is_cred_source(self, node: ast.AST, scope: _Scope, budget: _Budget | None = None) -> bool:
        """A value built from a credential location: a literal, or a name (or list) holding one."""
        for n in _walk(node):
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and _ANY_CREDENTIAL.search(n.value):
                return True
            if isinstance(n, ast.Name):
                chain: _Scope | None = scope
                while chain is not None:
                    if n.id in chain.cred:
                        return True
                    chain = chain.parent
                budget = budget or _Budget(32)
                value = scope.lookup(n.id)
                if value is not None and budget.spend() and self._is_cred_source(value, scope, budget):
                    return True
        return False

    def _refs(self, node: ast.AST, names: set[str]) -> bool:
        if not names:
            return False
        for n in _walk(node):
            if isinstance(n, ast.Name) and n.id in names:
                return True
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in names:
                return True
        return False

    def _is_env_source(self, node: ast.AST, scope: _Scope) -> bool:
        """A bulk copy of the environment: every variable, not one looked up by name."""
        if not self.env_capable:
            return False
        if self._refs(node, scope.env):
            return True
        for n in _walk(node):
            if isinstance(n, ast.Dict) and any(
                k is None and self.qualname(v) == "os.environ" for k, v in zip(n.keys, n.values, strict=True)
            ):
                return True
            if not isinstance(n, ast.Call):
                continue
            q = self.qualname(n.func)
            if q in ("os.environ.copy", "os.environ.items", "os.environ.values", "os.environ.keys"):
                return True
            if q in ("dict", "json.dumps", "str", "repr", "list", "sorted", "pickle.dumps") and any(
                self.qualname(a) == "os.environ" for a in n.args
            ):
                return True
        return self.qualname(node) == "os.environ"

    def _is_net_source(self, node: ast.AST, scope: _Scope) -> bool:
        if self._refs(node, scope.net):
            return True
        if not self.net_capable:
            return False
        return any(isinstance(n, ast.Call) and self._is_network(n) for n in _walk(node))

    def _is_network(self, call: ast.Call, q: str | None = None) -> bool:
        q = (self.qualname(call.func) or "") if q is None else q
        return q in NETWORK_CALLS

    def _opened_for_write(self, call: ast.Call, q: str | None = None) -> bool:
        q = (self.qualname(call.func) or "") if q is None else q
        if q not in ("open", "io.open", "os.fdopen", "codecs.open") or not call.args:
            return False
        mode = (
            call.args[1]
            if len(call.args) > 1
            else next((k.value for k in call.keywords if k.arg == "mode"), None)
        )
        return bool(_WRITE_MODES.search(_literal_str(mode) or ""))

    # -- calls ----------------------------------------------------------------------------

    def _hit(
        self,
        kind: HitKind,
        node: ast.AST,
        now: bool,
        *,
        layers: int = 0,
        suspicious: bool = False,
        detail: str = "",
    ) -> None:
        self.hits.append(Hit(kind, getattr(node, "lineno", 1), now, layers, suspicious, detail))

    def _call(self, node: ast.Call, now: bool, scope: _Scope) -> None:
        q = self.qualname(node.func)
        self.calls.add(q or "?")
        q = q or ""
        args: list[ast.AST] = [*node.args, *(k.value for k in node.keywords)]
        if q == "setup" or q.endswith((".setup", "setuptools.setup")):
            for k in node.keywords:
                if k.arg == "cmdclass" and isinstance(k.value, ast.Dict):
                    self._cmdclass(k.value)
        if self._is_decoder(node, q):
            self._hit(HitKind.DECODE, node, now, detail=q)
        if q in EXEC_SINKS and node.args:
            self._exec(node, now, scope)
        elif q in PROCESS_CALLS or q.startswith(_PROCESS_PREFIXES):
            self._process(node, q, now, scope)
        elif self._is_network(node, q):
            host = self._host_of(node, scope)
            # layers=1 marks a call that sends data out rather than only fetching.
            sends = q.endswith(_SENDING) or any(k.arg in ("data", "json", "files") for k in node.keywords)
            self._hit(
                HitKind.NETWORK, node, now, layers=int(sends), suspicious=host is not None, detail=host or q
            )
        elif q in ("__import__", "importlib.import_module") and node.args:
            module = _literal_str(node.args[0])
            if module is None:
                self._hit(HitKind.DYNAMIC_IMPORT, node, now, detail=q)
            else:
                self.imports.add(module)
        if self._opened_for_write(node, q) or q.endswith((".write_text", ".write_bytes")):
            self._hit(HitKind.FILE_WRITE, node, now, detail=q)
        elif self.cred_capable and self._reads_credentials(node, q, scope):
            self._hit(HitKind.CREDENTIAL_READ, node, now, detail=q)
        self._flows(node, q, args, now, scope)

    def _flows(self, node: ast.Call, q: str, args: list[ast.AST], now: bool, scope: _Scope) -> None:
        """Fetched data reaching exec or a process; environment dumps reaching the outside."""
        fetched = any(self._is_net_source(a, scope) for a in args)
        runs = q in EXEC_SINKS or q in PROCESS_CALLS or q.startswith(_PROCESS_PREFIXES)
        if fetched and (runs or q in ("os.chmod", "marshal.loads", "importlib.util.spec_from_file_location")):
            self._hit(HitKind.DOWNLOAD_EXEC, node, now, detail=q)
        if q in ("urllib.request.urlretrieve", "urllib.urlretrieve") and len(node.args) > 1:
            self._taint_path(node.args[1], scope)
        writer = self._written_file(node, scope)
        if writer is not None and any(self._is_net_source(a, scope) for a in node.args):
            self._taint_path(writer, scope)
        env = [a for a in args if self._is_env_source(a, scope)]
        if not env or q in ("print", "logging.debug", "logging.info"):
            return
        if self._is_network(node, q) or any(_URL.search(s) for a in args for s in self._strings(a)):
            self._hit(HitKind.ENV_EXFIL, node, now, suspicious=True, detail=q)
        elif writer is not None or q in ENCODERS or q.endswith(".send"):
            self._hit(HitKind.ENV_EXFIL, node, now, detail=q)

    def _reads_credentials(self, node: ast.Call, q: str, scope: _Scope) -> bool:
        if q in _READERS and node.args:
            return self._is_cred_source(node.args[0], scope)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("read_text", "read_bytes", "open"):
            return self._is_cred_source(func.value, scope)
        return False

    def _written_file(self, node: ast.Call, scope: _Scope) -> ast.expr | None:
        func = node.func
        if not isinstance(func, ast.Attribute) or func.attr not in ("write", "writelines"):
            return None
        if isinstance(func.value, ast.Call) and self._opened_for_write(func.value):
            return func.value.args[0]
        if isinstance(func.value, ast.Name):
            return scope.files.get(func.value.id)
        return None

    def _taint_path(self, path: ast.AST, scope: _Scope) -> None:
        if isinstance(path, ast.Name):
            scope.net.add(path.id)
        elif (text := _literal_str(path)) is not None:
            scope.net.add(text)

    def _strings(self, node: ast.AST) -> Iterator[str]:
        for n in _walk(node):
            if (text := _literal_str(n)) is not None:
                yield text

    def _exec(self, node: ast.Call, now: bool, scope: _Scope) -> None:
        code = node.args[0]
        text = _literal_str(code)
        if text is not None:
            self._nested(text, node, now)
            return
        layers = self.layers(code, scope)
        kind = HitKind.EXEC_DECODED if layers else HitKind.EXEC_DYNAMIC
        carried = bool(layers) and self.embedded(code, scope)
        self._hit(
            kind, node, now, layers=layers, suspicious=carried, detail=self.qualname(node.func) or "exec"
        )
        if layers:
            self._peel(code, node, now, scope)

    def _peel(self, code: ast.AST, node: ast.AST, now: bool, scope: _Scope) -> None:
        """Decode a literal payload (base64, hex, zlib: data transforms only) and analyse it too.

        This is what turns an opaque blob into evidence: the hosts it contacts, the files it
        reads. Nothing decoded is ever executed or unmarshalled.
        """
        payload = _static_decode(code, scope, self, MAX_NESTING * 4)
        if payload is not None:
            self._nested(payload.decode("utf-8", "replace"), node, now)

    def _nested(self, text: str, node: ast.AST, now: bool) -> None:
        """Literal code handed to exec or `python -c`: what it does is what this line does."""
        data = text.encode("utf-8", "replace")
        # One shared allowance for every nested payload of a file: a thousand decompression bombs
        # cost no more than one.
        if self.depth >= MAX_NESTING or not self.nested.spend(len(data)):
            return
        inner = analyze_source(data, depth=self.depth + 1, nested=self.nested)
        if inner is None:
            return
        line = getattr(node, "lineno", 1)
        for h in inner.hits:
            self.hits.append(Hit(h.kind, line, now and h.import_time, h.layers, h.suspicious, h.detail))
        self.calls.update(inner.calls)
        self.imports.update(inner.imports)
        self.hosts.extend(inner.hosts)
        for cat in inner.credentials:
            self.credentials.setdefault(cat, line)
        self.assigns_state = self.assigns_state or inner.assigns_state

    def _process(self, node: ast.Call, q: str, now: bool, scope: _Scope) -> None:
        args: list[ast.AST] = [*node.args, *(k.value for k in node.keywords if k.arg in ("args", "cmd"))]
        layers = max((self.layers(a, scope) for a in args), default=0)
        strings = [s for a in args for s in self._strings(a)]
        suspicious = layers > 0 or any(_SUSPICIOUS_COMMAND.search(s) for s in strings)
        if "-c" in strings:
            # `python -c CODE`: the code after -c is analysed like an exec of a literal.
            for a in args:
                if isinstance(a, (ast.List, ast.Tuple)):
                    texts = [_literal_str(e) for e in a.elts]
                    for i, text in enumerate(texts[:-1]):
                        code = texts[i + 1]
                        if text == "-c" and code is not None:
                            self._nested(code, node, now)
        if layers:
            carried = any(self.embedded(a, scope) for a in args)
            self._hit(HitKind.EXEC_DECODED, node, now, layers=layers, suspicious=carried, detail=q)
            for a in args:
                items: list[ast.AST] = list(a.elts) if isinstance(a, (ast.List, ast.Tuple)) else [a]
                for item in items:
                    if self.layers(item, scope):
                        self._peel(item, node, now, scope)
        self._hit(HitKind.PROCESS, node, now, suspicious=suspicious, detail=q)

    def _host_of(self, node: ast.Call, scope: _Scope) -> str | None:
        for a in node.args[:1]:
            value = scope.lookup(a.id) if isinstance(a, ast.Name) else a
            for text in self._strings(value) if value is not None else ():
                if m := _URL.search(text):
                    return m.group(1)
                if _IPV4.match(text) or (
                    text.count(".") >= 1 and re.fullmatch(r"[a-z0-9.-]+\.[a-z]{2,}", text)
                ):
                    return text
        return None

    def _literal(self, node: ast.Constant) -> None:
        text = node.value
        if id(node) in self.docstrings or not isinstance(text, str) or len(text) > 4096:
            return
        # (A file whose bytes name no credential location has no literal that is one.)
        if self.cred_capable and _ANY_CREDENTIAL.search(text):
            for cat, pattern in CREDENTIAL_PATTERNS.items():
                if cat not in self.credentials and pattern.search(text):
                    self.credentials[cat] = node.lineno
        if "://" in text:
            self.hosts.extend(m.group(1) for m in _URL.finditer(text))

    def _cmdclass(self, value: ast.Dict) -> None:
        for k, v in zip(value.keys, value.values, strict=True):
            name = _literal_str(k)
            target = self.qualname(v)
            if name and target:
                self.cmdclass[name] = target.rsplit(".", 1)[-1]


_READERS = frozenset(
    {"open", "io.open", "codecs.open", "shutil.copy", "shutil.copy2", "shutil.copyfile", "shutil.copytree"}
    | {"sqlite3.connect", "zipfile.ZipFile.write", "tarfile.open"}
)
MIN_PAYLOAD = 16
_KEYED_METHODS = frozenset({"get", "pop", "setdefault", "encode", "decode"})
"""Shorter literals are codec names, separators and keys, not payloads."""
_FILE_READS = frozenset({"read", "read_bytes", "read_text", "readlines"})
_TRACKED = EXEC_SINKS | DECODERS | PROCESS_CALLS | NETWORK_CALLS
_TRACKED_MODULES = frozenset(q.rsplit(".", i)[0] for q in _TRACKED for i in range(1, q.count(".") + 1)) | {
    *("os", "builtins", "__builtins__", "__builtin__")
}


def _tracked(target: str) -> bool:
    """Whether a name bound to `target` can reach a tracked call: the call itself, or its module."""
    return target in _TRACKED or target in _TRACKED_MODULES or target.startswith(_PROCESS_PREFIXES)


MAX_DECODED = 256 * 1024


def _fromhex(data: bytes) -> bytes:
    return bytes.fromhex(data.decode("ascii"))


_STATIC_DECODERS: Mapping[str, Callable[[bytes], bytes]] = {
    "base64.b64decode": base64.b64decode,
    "base64.standard_b64decode": base64.standard_b64decode,
    "base64.urlsafe_b64decode": base64.urlsafe_b64decode,
    "base64.decodebytes": base64.decodebytes,
    "base64.b32decode": base64.b32decode,
    "base64.b16decode": base64.b16decode,
    "base64.b85decode": base64.b85decode,
    "base64.a85decode": base64.a85decode,
    "binascii.a2b_base64": binascii.a2b_base64,
    "binascii.unhexlify": binascii.unhexlify,
    "bytes.fromhex": _fromhex,
}


def _inflate(data: bytes) -> bytes:
    """zlib with a ceiling on the output: a decompression bomb stops at MAX_DECODED."""
    return zlib.decompressobj().decompress(data, MAX_DECODED)


def _static_decode(node: ast.AST, scope: _Scope, an: _Analyzer, budget: int) -> bytes | None:
    """The bytes a chain of pure decoding calls over a literal produces, or None."""
    if budget <= 0:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        raw = node.value.encode("utf-8", "replace") if isinstance(node.value, str) else node.value
        return raw if len(raw) <= MAX_DECODED else None
    if isinstance(node, ast.Name):
        value = scope.lookup(node.id)
        return None if value is None else _static_decode(value, scope, an, budget - 1)
    if not isinstance(node, ast.Call):
        return None
    q = an.qualname(node.func) or ""
    if isinstance(node.func, ast.Attribute) and node.func.attr in ("decode", "encode") and not node.args:
        return _static_decode(node.func.value, scope, an, budget - 1)
    if not node.args:
        return None
    inner = _static_decode(node.args[0], scope, an, budget - 1)
    if inner is None:
        return None
    try:
        if q in _STATIC_DECODERS:
            return _STATIC_DECODERS[q](inner)[:MAX_DECODED]
        if q == "zlib.decompress":
            return _inflate(inner)
    except (ValueError, TypeError, binascii.Error, zlib.error):
        return None
    return None


def _strip_builtins(name: str) -> str:
    for prefix in ("builtins.", "__builtins__.", "__builtin__."):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


# --- from hits to findings -------------------------------------------------------------------


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
    """Findings for one analysed Python file."""
    yield from _exec_findings(where, a)
    yield from _process_findings(where, a)
    yield from _flow_findings(where, a)
    yield from _credential_findings(where, a)
    if where.role is FileRole.INSTALL_SCRIPT:
        yield from _cmdclass_findings(where, a)


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
    if not 0 < hit.line <= len(where.lines):
        return False
    line = where.lines[hit.line - 1].decode("utf-8", "replace")
    return bool(re.search(r"\(\s*\[\s*['\"][\w./-]+['\"](\s*,\s*['\"][\w./= -]*['\"])*\s*\]", line))


def _flow_findings(where: Where, a: Analysis) -> Iterator[Finding]:
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
        inside = [h for h in a.hits if first <= h.line <= last]
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


# --- the rules -------------------------------------------------------------------------------


def _owner(ctx: ScanContext, path: str) -> Distribution | None:
    return ctx.owners.get(path)


def where_of(ctx: ScanContext, path: str, role: FileRole, data: bytes) -> Where:
    dist = _owner(ctx, path)
    return Where(
        path, role, dist.name if dist else None, dist.version if dist else None, tuple(data.splitlines())
    )


def _unparsed(where: Where, why: str, seen: Seen | None = None) -> Finding:
    """A file the code rules could not fully analyse: `high` (before the role lowers it) when what
    its text names carries a dangerous capability, since the payload may be in what went unread."""
    if seen is None or not _looks_dangerous(where.role, seen):
        return Finding(
            "code-unparsed",
            contextual(Severity.LOW, where.role),
            where.package,
            where.version,
            where.path,
            None,
            f"not analysed: {why}; review by hand if the package is not trusted",
        )
    from chainproof.deps.rules.stream_search import capability_names  # noqa: PLC0415 - see search_text

    names = ", ".join(capability_names(seen.found))
    first = seen.close or seen.first_line(seen.found)
    line, text = first if first is not None else (None, b"")
    return Finding(
        "code-unparsed-capability",
        contextual(Severity.HIGH, where.role),
        where.package,
        where.version,
        where.path,
        line,
        f"not fully analysed ({why}), and its text names {names}: a payload can hide in what the "
        "analysis could not read; review by hand",
        snippet(text),
    )


def _looks_dangerous(role: FileRole, seen: Seen) -> bool:
    """Whether the text of a file that could not be analysed names a payload's shape: anywhere in
    an install script or a startup hook (which rarely fail to parse), within a few lines elsewhere
    (a large library module names exec and a decoder far apart; a newer Python's syntax the parser
    here refuses must not make that a finding)."""
    from chainproof.deps.rules.stream_search import dangerous  # noqa: PLC0415 - see search_text

    if role in (FileRole.STARTUP_HOOK, FileRole.INSTALL_SCRIPT):
        return dangerous(seen.found)
    return seen.close is not None


def _depth_of(role: FileRole, data: bytes, found: int) -> Depth:
    """How deep the code rules look at a file of this role (hooks and setup scripts: always fully)."""
    if role in (FileRole.STARTUP_HOOK, FileRole.INSTALL_SCRIPT) or _has_blank_run(data):
        return Depth.FULL
    return depth_for(found)


_QUIET_ROLES = frozenset({FileRole.MODULE, FileRole.TEST, FileRole.OTHER})
"""Roles whose quiet function bodies are skipped; hooks and install scripts are always read whole."""


def scan_python_file(where: Where, data: bytes, found: int | None = None) -> Iterator[Finding]:
    """Every code finding for one .py file's bytes (`found`: its `prefilter.signs`, when known).

    What cannot be analysed (over the parse limit, refused by the parser, too deep for the
    analysis) is still searched as text, and reported by `_unparsed`.
    """
    if len(data) > MAX_PARSE_BYTES:
        seen = search_text(data)
        yield _unparsed(where, f"{len(data)} bytes, over the {MAX_PARSE_BYTES}-byte parse limit", seen)
        yield from hidden_whitespace(where, None)
        return
    found = signs(data) if found is None else found
    depth = _depth_of(where.role, data, found)
    if depth is Depth.NONE:
        yield from hidden_whitespace(where, None)
        return
    analysis = analyze_source(
        data, module_only=depth is Depth.MODULE, skip_quiet=where.role in _QUIET_ROLES, found=found
    )
    if _has_blank_run(data):  # without a long run of blanks no line can hide code: skip the line loop
        yield from hidden_whitespace(where, analysis)
    if analysis is not None:
        yield from findings_for(where, analysis)
        return
    # Not one tree: what parses is analysed all the same, and the rest is searched as text.
    from chainproof.deps.rules.recover import recover  # noqa: PLC0415 - see search_text

    recovered = recover(data)
    partial = None if recovered is None else analyze_source(recovered.kept)
    if recovered is None or partial is None:
        yield _unparsed(where, "the parser refuses it or it nests too deeply", search_text(data))
        return
    yield from findings_for(where, partial)
    dropped = recovered.dropped
    first = dropped[: len(dropped) - len(dropped.lstrip())].count(b"\n") + 1
    why = f"statements from line {first} on are not Python the parser here reads; the rest was analysed"
    yield _unparsed(where, why, search_text(dropped))


def search_text(data: bytes) -> Seen:
    """The streamed search over a file already in memory.

    The search and the recovery of parsable statements are imported where a file needs them:
    few do, and every command line start would pay for them otherwise.
    """
    from chainproof.deps.rules.stream_search import search  # noqa: PLC0415 - only for such files

    return search((data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)), MAX_PARSE_BYTES)


@dataclass(frozen=True)
class FileJob:
    """One .py file to analyse: everything `file_findings` needs, so it can run in a worker."""

    path: str
    data: bytes
    role: FileRole
    package: str | None
    version: str | None
    seen: Seen | None = None
    """A file too large to read whole: what its streamed search found (`data` is then its text
    with comment-only lines blanked, when that fits the parse limit, else empty)."""
    unread: str = ""
    """Why the file could not be read at all."""


def _job_size(job: FileJob) -> int:
    return len(job.data)


def file_findings(job: FileJob) -> list[Finding]:
    """Every code finding for one .py file (a plain function of its bytes: runs in workers too).

    A defect of the analysis on one hostile file is reported as that file's finding, and never
    stops the analysis of the others.
    """
    where = Where(job.path, job.role, job.package, job.version, ())
    if job.unread:
        return [_unparsed(where, f"could not be read: {job.unread}")]
    try:
        return _file_findings(job)
    except Exception as e:  # noqa: BLE001 - whatever the analysis trips on, the file is reported
        seen = job.seen or search_text(job.data)
        return [_unparsed(where, f"the analysis failed ({type(e).__name__})", seen)]


def _file_findings(job: FileJob) -> list[Finding]:
    if job.seen is not None:
        return _oversized_findings(job, job.seen)
    kind_name = _binary_kind(job.data[:4096])
    if kind_name is not None:
        return [
            Finding(
                "binary-unexpected",
                Severity.HIGH,
                job.package,
                job.version,
                job.path,
                None,
                f"{kind_name} executable disguised as a Python source file",
                snippet(repr(job.data[:16])),
            )
        ]
    # Whatever the file's encoding, the rules search and parse it as UTF-8: as the import system
    # decodes it. Where that text differs from the bytes read as they are (a cookie naming UTF-7 or
    # unicode_escape), the bytes are analysed too: a loader that reads the file as UTF-8 runs those.
    data, encoding = as_utf8(job.data)
    found = _text_findings(job, data)
    if encoding is not None and not ascii_compatible(encoding):
        found += [f for f in _text_findings(job, as_read(job.data)) if f not in found]
    return found


def _text_findings(job: FileJob, data: bytes) -> list[Finding]:
    # The pre-filter runs once: a file no code rule looks at is not even split into lines.
    found = None
    if len(data) <= MAX_PARSE_BYTES:
        found = signs(data)
        if _depth_of(job.role, data, found) is Depth.NONE:
            return []
    where = Where(job.path, job.role, job.package, job.version, tuple(data.splitlines()))
    return list(scan_python_file(where, data, found))


def _oversized_findings(job: FileJob, seen: Seen) -> list[Finding]:
    """A file over the parse limit: analysed without its comments when that fits, else reported
    from its streamed search."""
    where = Where(job.path, job.role, job.package, job.version, tuple(job.data.splitlines()))
    if seen.compact is not None:
        # Comment-only lines were blanked, every line kept: findings point into the real file.
        return list(scan_python_file(where, seen.compact))
    why = f"{seen.size} bytes, over the {MAX_PARSE_BYTES}-byte parse limit even without its comments"
    return [_unparsed(where, why, seen)]


class _FileJobs:
    """Every .py file the code rules look at, with its role and owner, read by the tree as the
    analysis asks for it: workers start on the first files while the rest are still being read."""

    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx
        kind = ctx.tree.kind
        self.early = startup_modules(ctx.tree)
        self.files: list[tuple[str, FileRole, str]] = []
        """(path, role, the path whose bytes it has: itself, or a link's target in the tree)"""
        for path in ctx.tree.paths():
            if not path.endswith(_SOURCE_SUFFIXES):
                continue
            if path.endswith(".py") and _role_of(path, kind) is FileRole.STARTUP_HOOK:
                continue  # sitecustomize/usercustomize: the hook rules judge them (not `.pyw`)
            self.files.append((path, self._role(path), path))
        if kind is not TargetKind.WHEEL:  # pip writes a wheel's link members as plain files
            self.files += [(p, self._role(p), t) for p, t in _linked_sources(ctx.tree)]

    def _role(self, path: str) -> FileRole:
        kind = self.ctx.tree.kind
        return FileRole.STARTUP_HOOK if installed_path(path, kind) in self.early else _role_of(path, kind)

    def __len__(self) -> int:
        return len(self.files)

    def __iter__(self) -> Iterator[FileJob]:
        for path, role, source in self.files:
            dist = _owner(self.ctx, path) or _owner(self.ctx, source)
            package, version = (dist.name, dist.version) if dist else (None, None)
            try:
                yield self._job(path, role, source, (package, version))
            except TreeError as e:
                yield FileJob(path, b"", role, package, version, unread=str(e))

    def _job(self, path: str, role: FileRole, source: str, owner: tuple[str | None, str | None]) -> FileJob:
        tree = self.ctx.tree
        if tree.size(source) <= MAX_PARSE_BYTES:
            return FileJob(path, tree.read(source), role, *owner)
        # Too large to parse whole: searched here as it streams past, bounded in memory, and only
        # what is left without comments goes on to the analysis.
        from chainproof.deps.rules.stream_search import search  # noqa: PLC0415 - see search_text

        seen = search(read_chunks(tree, source), MAX_PARSE_BYTES)
        return FileJob(path, seen.compact or b"", role, owner[0], owner[1], seen)


def _linked_sources(tree: FileTree) -> Iterator[tuple[str, str]]:
    """(link path, target path) for every link named like source whose target is a regular file
    of the tree: extracted, `setup.py -> docs/notes.txt` runs the notes, so they are its code."""
    files = set(tree.paths())
    flat = getattr(tree, "flat_root", "")  # where a flat sdist's top-level members now are
    for path, target in tree.links():
        if not path.endswith(_SOURCE_SUFFIXES):
            continue
        top = path.partition("/")[0]
        # A symbolic link is relative to its folder; a hard link to the archive's root (which a
        # flat sdist's presentation moved under one folder).
        relative = posixpath.join(posixpath.dirname(path), target)
        for candidate in (relative, target, f"{top}/{target}", f"{flat}/{target}"):
            resolved = posixpath.normpath(candidate.replace("\\", "/"))
            if resolved in files:
                yield path, resolved
                break


_SOURCE_SUFFIXES = (".py", ".pyw")
"""What the import system loads as source (`.pyw` too, on Windows)."""


def _role_of(path: str, kind: TargetKind) -> FileRole:
    """The file's role, a `.pyw` judged as the `.py` it stands for; a path the classification
    trips on is still analysed, as importable code."""
    try:
        return classify(path.removesuffix("w") if path.endswith(".pyw") else path, kind)
    except (ValueError, IndexError):
        return FileRole.MODULE


def code_rules(ctx: ScanContext) -> Iterator[Finding]:
    """The code rules over every .py file of the tree (startup-hook modules included).

    Files are read here and analysed by `file_findings`, across worker processes for large trees
    (`CHAINPROOF_JOBS` sets how many); findings come out in path order either way.
    """
    jobs = _FileJobs(ctx)
    # The analysis of every .py file is most of a scan's time: that is what progress counts.
    for found in ctx.watch(map_items(file_findings, jobs, _job_size), len(jobs), ctx.tree.label):
        yield from found


# --- shipped bytecode and binaries -----------------------------------------------------------

_BINARY_MAGIC = {
    b"\x7fELF": "ELF",
    b"MZ": "PE",
    b"\xfe\xed\xfa\xce": "Mach-O",
    b"\xfe\xed\xfa\xcf": "Mach-O",
    b"\xce\xfa\xed\xfe": "Mach-O",
    b"\xcf\xfa\xed\xfe": "Mach-O",
}
_NATIVE_SUFFIX = re.compile(r"\.(so(\.\d+)*|pyd|dll|dylib|exe|a|lib|node|bin)$", re.IGNORECASE)
_NATIVE_DIRS = re.compile(
    r"(^|/)(bin|scripts|[^/]*\.libs|\.dylibs|lib|libs|[^/]+\.data/scripts|[^/]+\.data/data)/"
)
# A binary wearing a text or data name is disguised: nothing legitimate needs that.
_TEXT_SUFFIX = re.compile(
    r"\.(py|pyi|pth|txt|md|rst|json|toml|cfg|ini|ya?ml|html?|css|js|csv|xml|png|jpe?g|gif|svg|typed)$",
    re.IGNORECASE,
)
_SKIP_READ = re.compile(r"\.(so(\.\d+)*|pyd|dll|dylib|pyc|pyo|py)$", re.IGNORECASE)
MAX_BINARY_PROBE = 8 * 1024 * 1024


def _binary_kind(head: bytes) -> str | None:
    for magic, name in _BINARY_MAGIC.items():
        if head.startswith(magic):
            # "MZ" alone is two common letters; a PE file also carries "PE\0\0" at e_lfanew.
            if name == "PE" and not _is_pe(head):
                continue
            return name
    return None


def _is_pe(data: bytes) -> bool:
    if len(data) < 0x40:
        return False
    offset = int.from_bytes(data[0x3C:0x40], "little")
    return data[offset : offset + 4] == b"PE\0\0"


def _pyc_finding(ctx: ScanContext, path: str, paths: set[str]) -> Finding | None:
    parts = path.split("/")
    name = parts[-1]
    if len(parts) >= 2 and parts[-2] == "__pycache__":
        stem = name.split(".")[0]
        source = "/".join([*parts[:-2], f"{stem}.py"])
        if source in paths:
            return None
        # Python ignores a __pycache__ file without its source, but a loader shipped beside it can
        # load it by path, which is how bytecode-only payloads run.
        sev = Severity.LOW if ctx.tree.kind is TargetKind.ENVIRONMENT else Severity.HIGH
        why = "compiled bytecode without its source: what runs cannot be reviewed"
    else:
        source = path[: -len(".pyc")] + ".py" if path.endswith(".pyc") else path[:-4] + ".py"
        if source in paths:
            sev, why = Severity.MEDIUM, "bytecode outside __pycache__ beside its source"
        else:
            sev = Severity.HIGH
            why = "importable bytecode shipped without source: it runs instead of reviewable code"
    dist = _owner(ctx, path)
    role = classify(path.replace(".pyc", ".py"), ctx.tree.kind)
    return Finding(
        "binary-pyc-without-source",
        contextual(sev, role),
        dist.name if dist else None,
        dist.version if dist else None,
        path,
        None,
        why,
    )


def _binary_finding(ctx: ScanContext, path: str) -> Finding | None:
    if _SKIP_READ.search(path):
        return None  # .py files are probed by the code rules, which read them anyway
    try:
        size = ctx.tree.size(path)
        if size < 4 or size > MAX_BINARY_PROBE:
            return None
        head = ctx.tree.read(path, MAX_BINARY_PROBE)
    except (TreeError, KeyError):
        return None
    kind = _binary_kind(head)
    if kind is None:
        return None
    disguised = bool(_TEXT_SUFFIX.search(path))
    if not disguised and (_NATIVE_SUFFIX.search(path) or _NATIVE_DIRS.search("/" + path)):
        return None
    if disguised:
        sev, why = Severity.HIGH, f"{kind} executable disguised under a text or data file name"
    else:
        sev = Severity.MEDIUM if ctx.tree.kind is not TargetKind.SDIST else Severity.HIGH
        why = f"{kind} executable where Python source or data is expected"
    dist = _owner(ctx, path)
    return Finding(
        "binary-unexpected",
        sev,
        dist.name if dist else None,
        dist.version if dist else None,
        path,
        None,
        why,
        snippet(repr(head[:16])),
    )


def binary_rules(ctx: ScanContext) -> Iterator[Finding]:
    """Bytecode without source and native executables in places meant for source or data."""
    paths = set(ctx.tree.paths())
    for path in sorted(paths):
        if path.endswith((".pyc", ".pyo")):
            found = _pyc_finding(ctx, path, paths)
        else:
            found = _binary_finding(ctx, path)
        if found is not None:
            yield found
