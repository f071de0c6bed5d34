"""What names and values mean in one file: call targets through imports and aliases, decoding layers
between a literal and an expression, and where a value's data comes from (the network, the
environment, a credential location).

The analyser (`analysis.py`) builds on this as it walks a file; both only ever read syntax trees.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from chainproof.deps.rules.calls import (
    _ANY_CREDENTIAL,
    _CODEC_NAMES,
    _FILE_READS,
    _KEYED_METHODS,
    _WRITE_MODES,
    DECODERS,
    MIN_PAYLOAD,
    NETWORK_CALLS,
    _tracked,
)
from chainproof.deps.rules.decoding import LocalDecoder, local_decoder
from chainproof.deps.rules.folding import built_text, fold_str
from chainproof.deps.rules.prefilter import CRED, ENVIRON, NET
from chainproof.deps.rules.syntax import _Budget, _literal_str, _Scope, _strip_builtins, _walk, quiet_parse

_EVALUATED_CHARS = 200
"""Literal text longer than this handed to eval is code, not a name: the analyser reads it as such."""


class _Resolver:
    def __init__(self, source: bytes, found: int) -> None:
        self.source = source
        self.aliases: dict[str, str] = {}
        self.imports: set[str] = set()
        """Modules imported anywhere (dotted names as written)."""
        self.renamed: set[str] = set()
        """Names bound to a tracked API under another name (`run = exec`, `import subprocess as sp`)."""
        self._renamed_re: re.Pattern[bytes] | None = None
        # Most files never touch the environment or the network: skip those flow checks for them.
        self.env_capable = bool(found & ENVIRON)
        self.net_capable = bool(found & NET)
        self.cred_capable = bool(found & CRED)
        self.local_decoders: dict[str, LocalDecoder] = {}
        """Functions of this file that wrap a decoder (`def b64d(s): ...`): calls to them decode."""

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
            arg = self._folded(node.args[0]) if node.args else None
            if func == "__import__" and arg:
                return arg.split(".")[0]
            if func == "importlib.import_module" and arg:
                return arg
            if func == "getattr" and len(node.args) >= 2:
                base = self.qualname(node.args[0])
                attr = self._folded(node.args[1])
                return _strip_builtins(f"{base}.{attr}") if base and attr else None
            if func in ("globals", "vars", "locals"):
                return "__builtins__"
            if func == "eval" and node.args:
                return self._evaluated(node.args[0])
        return None

    def _evaluated(self, code: ast.AST) -> str | None:
        """What `eval(code)` names when `code` is literal text naming something: `eval('exec')` is
        exec itself, and `eval(compile("__import__('zlib')", '', 'eval'))` the zlib module (a
        packer's way to reach builtins and modules without writing their names)."""
        if isinstance(code, ast.Call) and self.qualname(code.func) == "compile" and code.args:
            code = code.args[0]
        text = self._folded(code)
        if not text or len(text) > _EVALUATED_CHARS:
            return None
        if text.isidentifier():
            return _strip_builtins(self.aliases.get(text, text))
        try:
            parsed = quiet_parse(text.strip(), mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None
        assert isinstance(parsed, ast.Expression)  # what mode="eval" gives
        expression = parsed.body
        if isinstance(expression, ast.Call) and self.qualname(expression.func) == "eval":
            return None  # one level: a chain of evals of evals names nothing we follow
        return self.qualname(expression)

    def _folded(self, node: ast.AST) -> str | None:
        """A name spelled so no word search finds it: `'ex' + 'ec'`, `'cexe'[::-1]`, character codes."""
        text = _literal_str(node)
        if text is not None or isinstance(node, (ast.Name, ast.Constant)):
            return text
        return fold_str(node, self.qualname, _Budget(512))

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
        if q in DECODERS or q in self.local_decoders:
            return True
        if q.endswith(".decode") and call.args and (_literal_str(call.args[0]) or "").lower() in _CODEC_NAMES:
            return True
        arg = call.args[0] if call.args else None
        if q == "<str>.join" and arg is not None:
            # ''.join(chr(c) for c in ...) / ''.join(map(chr, ...)): text rebuilt from numbers.
            return any(isinstance(n, ast.Name) and n.id == "chr" for n in _walk(arg)) or (
                built_text(call, self.qualname, _Budget(len(self.source) // 4 + 64)) is not None
            )
        if q in ("bytes", "bytearray") and isinstance(arg, (ast.GeneratorExp, ast.ListComp, ast.Call)):
            return any(isinstance(n, ast.BinOp) for n in _walk(arg)) or isinstance(arg, ast.Call)
        return False

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

    def _maybe_decoder(self, name: str, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        """Register a short function (or lambda) around a decoding call as a decoder of its own."""
        shape = local_decoder(node)
        if shape is None:
            return
        parts: list[ast.AST] = [shape.result, *(v for _n, v in shape.assigns)]
        if any(isinstance(n, ast.Call) and self._is_decoder(n) for p in parts for n in _walk(p)):
            self.local_decoders[name] = shape
            # Bodies that call it name no decoder the prefilter knows: they must be walked.
            self.renamed.add(name)
            self._renamed_re = None

    def _alias(self, name: str, value: ast.AST) -> None:
        """`run = exec`, `b = base64.b64decode`, `b = __import__('base64')`: the new name calls
        (or leads to) the same thing."""
        if isinstance(value, ast.Lambda):
            self._maybe_decoder(name, value)
        if isinstance(value, (ast.Name, ast.Attribute, ast.Subscript, ast.Call)):
            q = self.qualname(value)
            if q and _tracked(q):
                self._set_alias(name, q)

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
        if q == "tempfile.NamedTemporaryFile":
            # Opened for writing unless a mode says otherwise (the default is w+b).
            mode = next((k.value for k in call.keywords if k.arg == "mode"), None)
            return mode is None or bool(_WRITE_MODES.search(_literal_str(mode) or "+"))
        if q not in ("open", "io.open", "os.fdopen", "codecs.open") or not call.args:
            return False
        mode = (
            call.args[1]
            if len(call.args) > 1
            else next((k.value for k in call.keywords if k.arg == "mode"), None)
        )
        return bool(_WRITE_MODES.search(_literal_str(mode) or ""))

    def _strings(self, node: ast.AST) -> Iterator[str]:
        for n in _walk(node):
            if (text := _literal_str(n)) is not None:
                yield text
