"""The analyser: one pass over a file's syntax tree, in source order, recording `Hit`s.

Every file is only ever parsed, never imported, compiled to bytecode or run. Each scope (the module
body, each function) is walked in source order; what it sees is recorded as hits: decoded data handed
to exec, processes spawned, network calls, downloads that get executed, environment dumps that leave
the process, credential locations named.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Callable

from chainproof.deps.rules.calls import (
    _ANY_CREDENTIAL,
    _IPV4,
    _PROCESS_PREFIXES,
    _READERS,
    _SENDING,
    _SUSPICIOUS_COMMAND,
    _URL,
    CREDENTIAL_PATTERNS,
    ENCODERS,
    EXEC_SINKS,
    MIN_PAYLOAD,
    PERSISTENCE,
    PLACING_PREFIXES,
    PLACING_SUFFIXES,
    PROCESS_CALLS,
    _tracked,
    exfil_channel,
    names_channel,
)
from chainproof.deps.rules.decoding import _static_decode
from chainproof.deps.rules.dropped import input_file, keys_of, names_key
from chainproof.deps.rules.folding import built_text
from chainproof.deps.rules.hits import Analysis, Hit, HitKind
from chainproof.deps.rules.prefilter import PERSIST, Marks
from chainproof.deps.rules.reach import called_from_class, dead_test, module_constants, run_at_import
from chainproof.deps.rules.resolve import _Resolver
from chainproof.deps.rules.syntax import (
    _FIELDS,
    _NODE_FLAGS,
    _SCOPE_NODES,
    WHITESPACE_RUN,
    _Budget,
    _children,
    _is_main_guard,
    _literal_str,
    _node_flags,
    _Scope,
    _walk,
)

MAX_NESTED_BYTES = 1024 * 1024
"""The most nested code (exec literals, decoded payloads) analysed for one file, in total."""
MAX_NESTING = 3
"""How deep literal code handed to exec or `python -c` is itself analysed."""

Reanalyze = Callable[..., Analysis | None]

_LOOKED_UP_BY_EVAL = frozenset({"compile", "getattr", "__import__", "globals", "vars", "chr", "ord"})
"""Besides the tracked calls and their modules: what a packer reaches through eval to build the rest."""


class _Analyzer(_Resolver):
    """One file's walk: what each call does, in which scope, and whether it runs at import."""

    def __init__(  # noqa: PLR0917 - built in one place, by code.analyze_source
        self, tree: ast.Module, depth: int, source: bytes, nested: _Budget, found: int, reanalyze: Reanalyze
    ) -> None:
        super().__init__(source, found)
        self.tree = tree
        self.reanalyze = reanalyze
        """`code.analyze_source`: nested code (exec literals, decoded payloads) is analysed alike."""
        self.depth = depth
        self.nested = nested
        self.module_only = False
        self.skip_quiet = False
        self.persist_capable = bool(found & PERSIST)
        self.called_elsewhere: frozenset[str] = frozenset()
        """Module functions that code in another file runs (a setup script): walked as import-time code."""
        self._line_ends: list[int] | None = None
        self._marks: Marks | None = None
        self.docstrings: set[int] = set()
        """ids of bare string statements (docstrings): text, never a path the code uses."""
        # Statement positions only matter to the whitespace rule, and only on long lines.
        self.want_starts = b" " * WHITESPACE_RUN in source or b"\t" * WHITESPACE_RUN in source
        self.starts: set[tuple[int, int]] = set()
        self.hits: list[Hit] = []
        self.calls: set[str] = set()
        self.credentials: dict[str, int] = {}
        self.hosts: list[str] = []
        self.cmdclass: dict[str, str] = {}
        self.classes: dict[str, tuple[tuple[str, ...], int, int]] = {}
        self.assigns_state = False
        self.owner = 0
        """First line of the function being walked (0: module level): tells flows within one function."""
        self.channels: list[str] = []
        self.class_nodes: dict[str, ast.ClassDef] = {}
        self.commands: list[tuple[ast.Call, str, bool, int, set[str], list[str]]] = []
        """Every command run: (call, its name, at import, function, names and strings it uses)."""
        self.dropped: dict[str, bool] = {}
        """Paths and base names of files this code wrote (see dropped.py) -> whether what was written
        had been decoded first."""
        self.dropped_names: dict[tuple[int, str], bool] = {}
        """The same for variables holding such a path, by function (a name means nothing elsewhere)."""

    def run(self) -> Analysis:
        """One pre-order pass in source order; each function body gets its own scope.

        Imports are recorded as they are met, so a name imported below its first use in a function
        is not resolved there: a rare layout, and the price of a single pass over the tree.
        """
        module = _Scope(None)
        # A file that names an exfiltration channel is read whole: what sends to it usually sits in
        # a function, which a file naming only a network call would otherwise not need walked.
        if self.module_only and names_channel(self.source):
            self.module_only = False
        running = run_at_import(self.tree, self.called_elsewhere)
        constants = module_constants(self.tree)
        stack: list[tuple[ast.AST, _Scope, bool]] = [(n, module, True) for n in reversed(self.tree.body)]
        while stack:
            node, scope, now = stack.pop()
            statement, active = _NODE_FLAGS.get(type(node)) or _node_flags(type(node))
            if statement or active:  # (names, attributes, operators: nothing to record)
                self.owner = scope.owner
                self._visit(node, scope, now)
            if isinstance(node, _SCOPE_NODES):
                if not isinstance(node, ast.Lambda) and scope is module:
                    self._maybe_decoder(node.name, node)
                body: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
                inner = _Scope(scope, node.lineno)
                # A function that module-level code calls runs at import like that code (reach.py).
                runs = id(node) in running
                if (runs or not self.module_only) and not self._quiet(node):
                    stack.extend((c, inner, runs) for c in reversed(body))
                # Decorators and defaults run when the function is defined, in the enclosing scope.
                outer: list[ast.AST] = [*getattr(node, "decorator_list", []), *node.args.defaults]
                outer.extend(d for d in node.args.kw_defaults if d is not None)
                stack.extend((c, scope, now) for c in reversed(outer))
                continue
            if not _FIELDS.get(type(node), True):
                continue  # a leaf type (names, constants): nothing to queue, no need to look
            children = _children(node)
            if isinstance(node, ast.If) and scope is module and dead_test(node.test, constants):
                children = [node.test, *node.orelse]  # `if DEBUG:` with DEBUG = False: never runs
            if children:
                inner_now = now and not (isinstance(node, ast.If) and _is_main_guard(node))
                stack += [(c, scope, inner_now) for c in reversed(children)]
        self._launched_dropped()
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
            channels=tuple(dict.fromkeys(self.channels)),
            command_helpers={
                cls: tuple(called_from_class(self.tree, self.class_nodes[cls]))
                for cls in set(self.cmdclass.values())
                if cls in self.class_nodes
            },
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
            self.class_nodes[node.name] = node

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
            elif isinstance(target, (ast.Tuple, ast.List)) and not isinstance(node, ast.AugAssign):
                self._unpack(target, value, scope)
            elif isinstance(target, (ast.Subscript, ast.Attribute)):
                owner = self.qualname(target.value) or ""
                if owner in ("os.environ", "sys.modules", "builtins", "__builtins__", "sys.meta_path"):
                    self.assigns_state = True
            self._bind(target, value, scope)

    def _unpack(self, target: ast.Tuple | ast.List, value: ast.AST, scope: _Scope) -> None:
        """`a, b = x, y` binds as `a = x; b = y` (packers bind their aliases so, in one line)."""
        if not isinstance(value, (ast.Tuple, ast.List)) or len(value.elts) != len(target.elts):
            return
        for name, part in zip(target.elts, value.elts, strict=True):
            if isinstance(name, ast.Name):
                scope.assigns[name.id] = part
                self._alias(name.id, part)

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
                scope.files[n] = value.args[0] if value.args else value
        if self.cred_capable and self._is_cred_source(value, scope):
            scope.cred.update(names)

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
        plain: bool = False,
    ) -> None:
        line = getattr(node, "lineno", 1)
        self.hits.append(Hit(kind, line, now, layers, suspicious, detail, self.owner, plain))

    def _call(self, node: ast.Call, now: bool, scope: _Scope) -> None:
        q = self.qualname(node.func)
        self.calls.add(q or "?")
        q = q or ""
        args: list[ast.AST] = [*node.args, *(k.value for k in node.keywords)]
        if q == "setup" or q.endswith((".setup", "setuptools.setup")):
            for k in node.keywords:
                if k.arg == "cmdclass" and isinstance(k.value, ast.Dict):
                    self._cmdclass(k.value)
        self._decoding(node, q, args, now)
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
        if self.persist_capable and self._places(node, q) and (place := self._persists(args, scope)):
            self._hit(HitKind.PERSISTENCE, node, now, detail=place)
        elif self.cred_capable and self._reads_credentials(node, q, scope):
            self._hit(HitKind.CREDENTIAL_READ, node, now, detail=q)
        self._flows(node, q, args, now, scope)

    def _places(self, node: ast.Call, q: str) -> bool:
        """Whether a call puts something somewhere: a write, a copy, a registry value, a command."""
        return (
            q.startswith(PLACING_PREFIXES)
            or q.endswith(PLACING_SUFFIXES)
            or q in PROCESS_CALLS
            or q.startswith(_PROCESS_PREFIXES)
            or self._opened_for_write(node, q)
        )

    def _persists(self, args: list[ast.AST], scope: _Scope) -> str | None:
        """The start-up location a call's arguments name (literals, joined parts, or a name bound
        to them in this scope), if any: a copy, a write, a registry value or a command put there."""
        for arg in args:
            value = scope.lookup(arg.id) if isinstance(arg, ast.Name) else arg
            if value is None:
                continue
            parts = [t for n in _walk(value) if (t := _literal_str(n)) is not None]
            text = "/".join(parts)  # `os.path.join(appdata, 'Programs', 'Startup', name)` too
            if (found := PERSISTENCE.search(text)) is not None:
                return found.group(0)
        return None

    def _flows(self, node: ast.Call, q: str, args: list[ast.AST], now: bool, scope: _Scope) -> None:
        """Fetched data reaching exec or a process; environment dumps reaching the outside."""
        fetched = any(self._is_net_source(a, scope) for a in args)
        runs = q in EXEC_SINKS or q in PROCESS_CALLS or q.startswith(_PROCESS_PREFIXES)
        if fetched and (runs or q in ("os.chmod", "marshal.loads", "importlib.util.spec_from_file_location")):
            self._hit(HitKind.DOWNLOAD_EXEC, node, now, detail=q)
        if q in ("urllib.request.urlretrieve", "urllib.urlretrieve") and len(node.args) > 1:
            self._taint_path(node.args[1], scope)
        writer = self._written_file(node, scope)
        if writer is not None:
            self._wrote(node, writer, scope)
            if any(self._is_net_source(a, scope) for a in node.args):
                self._taint_path(writer, scope)
        env = [a for a in args if self._is_env_source(a, scope)]
        if not env or q in ("print", "logging.debug", "logging.info"):
            return
        if self._is_network(node, q) or any(_URL.search(s) for a in args for s in self._strings(a)):
            self._hit(HitKind.ENV_EXFIL, node, now, suspicious=True, detail=q)
        elif writer is not None or q in ENCODERS or q.endswith(".send"):
            self._hit(HitKind.ENV_EXFIL, node, now, detail=q)

    def _wrote(self, node: ast.Call, path: ast.expr, scope: _Scope) -> None:
        """A file written: remember how it can be named, and read what was written as code."""
        value = scope.lookup(path.id) if isinstance(path, ast.Name) else path
        strings = [*self._strings(value)] if value is not None else []
        if (folded := self._folded(path)) is not None:
            strings.append(folded)
        if input_file(strings):
            return
        content = node.args[0] if node.args else None
        hidden = content is not None and self.layers(content, scope) > 0
        for key in keys_of(strings):
            self.dropped[key] = self.dropped.get(key, False) or hidden
        if isinstance(path, ast.Name):
            self.dropped_names[(self.owner, path.id)] = hidden
        handle = node.func.value if isinstance(node.func, ast.Attribute) else None
        if isinstance(handle, ast.Name):
            self.dropped_names[(self.owner, handle.id)] = hidden  # `tmp.name` names the file too
        if isinstance(content, ast.Constant):
            text = (
                content.value.decode("utf-8", "replace")
                if isinstance(content.value, bytes)
                else content.value
            )
            if isinstance(text, str) and len(text) >= MIN_PAYLOAD:
                self._nested(text, node, False)
        elif content is not None and (data := _static_decode(content, scope, self, MAX_NESTING * 4)):
            self._nested(data.decode("utf-8", "replace"), node, False)

    def _command(self, node: ast.Call, q: str, now: bool, args: list[ast.AST]) -> None:
        """Remember what a command names; whether it launches a file written here is known at the end
        (the launch may sit in a function defined above the code that writes the file)."""
        names = {n.id for a in args for n in _walk(a) if isinstance(n, ast.Name)}
        strings = [s for a in args for s in self._strings(a)]
        self.commands.append((node, q, now, self.owner, names, strings))

    def _launched_dropped(self) -> None:
        """A DROPPED_EXEC hit for every command that names a file this code wrote (see dropped.py);
        suspicious when what was written was decoded first."""
        for node, q, now, owner, names, strings in self.commands:
            launched = [self.dropped_names[(owner, n)] for n in names if (owner, n) in self.dropped_names]
            launched += [
                hidden for key, hidden in self.dropped.items() if any(names_key(s, {key}) for s in strings)
            ]
            if launched:
                self.owner = owner
                self._hit(HitKind.DROPPED_EXEC, node, now, suspicious=any(launched), detail=q)

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
            return func.value.args[0] if func.value.args else func.value
        if isinstance(func.value, ast.Name):
            return scope.files.get(func.value.id)
        return None

    def _taint_path(self, path: ast.AST, scope: _Scope) -> None:
        if isinstance(path, ast.Name):
            scope.net.add(path.id)
        elif (text := _literal_str(path)) is not None:
            scope.net.add(text)

    def _decoding(self, node: ast.Call, q: str, args: list[ast.AST], now: bool) -> None:
        if q == "os.dup2":
            self._hit(HitKind.SHELL_WIRING, node, now, detail=q)
        if self._is_decoder(node, q):
            self._hit(HitKind.DECODE, node, now, detail=q)
        if q == "<str>.join":
            self._hidden_text(node, now)
        for a in args:
            if isinstance(a, ast.BinOp) and isinstance(a.op, ast.Add) and isinstance(a.right, ast.Call):
                self._hidden_text(a, now)  # `chr(104) + chr(105) + ...` handed straight to a call

    def _hidden_text(self, node: ast.Call | ast.BinOp, now: bool) -> None:
        """Text spelled in character codes: a packer's string, read back like any literal."""
        text = built_text(node, self.qualname, _Budget(len(self.source) // 4 + 64))
        if text is None:
            return
        self._text(text[:4096], node.lineno, True)
        self._hit(HitKind.OBFUSCATED, node, now, detail=" ".join(text.split())[:60])

    def _exec(self, node: ast.Call, now: bool, scope: _Scope) -> None:
        code = node.args[0]
        if self.qualname(node.func) == "eval":
            named = self._evaluated(code)
            if named is not None and (named in _LOOKED_UP_BY_EVAL or _tracked(named)):
                # `eval('exec')`, `eval(compile("__import__('zlib')", '', 'eval'))`: a builtin or a
                # module reached without its name written, as packers do and nothing else needs to.
                self._hit(HitKind.OBFUSCATED, node, now, detail=f"eval names {named}")
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
        inner = self.reanalyze(data, depth=self.depth + 1, nested=self.nested)
        if inner is None:
            return
        line = getattr(node, "lineno", 1)
        for h in inner.hits:
            self.hits.append(
                Hit(
                    h.kind, line, now and h.import_time, h.layers, h.suspicious, h.detail, self.owner, h.plain
                )
            )
        self.calls.update(inner.calls)
        self.imports.update(inner.imports)
        self.hosts.extend(inner.hosts)
        for cat in inner.credentials:
            self.credentials.setdefault(cat, line)
        self.assigns_state = self.assigns_state or inner.assigns_state
        self.channels.extend(inner.channels)

    def _process(self, node: ast.Call, q: str, now: bool, scope: _Scope) -> None:
        args: list[ast.AST] = [*node.args, *(k.value for k in node.keywords if k.arg in ("args", "cmd"))]
        layers = max((self.layers(a, scope) for a in args), default=0)
        strings = [s for a in args for s in self._strings(a)]
        strings += [s for a in args if not isinstance(a, ast.Constant) and (s := self._folded(a))]
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
        self._command(node, q, now, args)
        if any(k.arg in ("stdin", "stdout") and _fileno(k.value) for k in node.keywords):
            self._hit(HitKind.SHELL_WIRING, node, now, detail=q)
        plain = bool(node.args) and _plain_words(node.args[0])
        self._hit(HitKind.PROCESS, node, now, suspicious=suspicious, detail=q, plain=plain)

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
        self._text(text, node.lineno, self.cred_capable)

    def _text(self, text: str, line: int, cred_capable: bool) -> None:
        """What a string names: credential locations and hosts (IOC hints)."""
        # (A file whose bytes name no credential location has no literal that is one.)
        if cred_capable and _ANY_CREDENTIAL.search(text):
            for cat, pattern in CREDENTIAL_PATTERNS.items():
                if cat not in self.credentials and pattern.search(text):
                    self.credentials[cat] = line
        if "://" in text:
            self.hosts.extend(m.group(1) for m in _URL.finditer(text))
        if (channel := exfil_channel(text)) is not None:
            self.channels.append(channel)

    def _cmdclass(self, value: ast.Dict) -> None:
        for k, v in zip(value.keys, value.values, strict=True):
            name = _literal_str(k)
            target = self.qualname(v)
            if name and target:
                self.cmdclass[name] = target.rsplit(".", 1)[-1]


def _plain_words(node: ast.AST) -> bool:
    """A command written as a fixed list of literal words (`('git', 'log', '--format=%h')`,
    `['nvidia-smi', '--query-gpu=compute_cap']`), nothing computed and nothing of a launcher."""
    if not isinstance(node, (ast.List, ast.Tuple)) or not node.elts:
        return False
    words = [_literal_str(e) for e in node.elts]
    return all(w is not None and not _SUSPICIOUS_COMMAND.search(w) for w in words)


def _fileno(node: ast.AST) -> bool:
    """`s.fileno()`: a raw descriptor, which is how a socket becomes a process's standard stream."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "fileno"
