"""Read a policy file: TOML in, a checked `Policy` out, and every error pointing at its line.

`tomllib` says where a syntax error is but keeps no positions for the values it returns, so the
errors about what a value *means* (an unknown hop, a role that is not defined) find their line with
`_Lines`, a small index of where each table and key of the file stands.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from chainproof.custody.hops import Hop
from chainproof.deps.model import Severity
from chainproof.errors import FormatError, UsageError
from chainproof.policy.model import ANY, FindingRule, Policy, Requirement, RoleRule

VERSION = 1
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")

KeyPath = tuple[str | int, ...]
"""Where a value stands: table names and keys, with the position in an array of tables."""


class PolicyError(FormatError):
    """The policy file is not valid TOML or does not say something a policy can say."""


def template() -> str:
    """The complete, commented starting policy that `chainproof policy template` prints."""
    return (resources.files("chainproof.policy") / "template.toml").read_text(encoding="utf-8")


def load(path: Path) -> Policy:
    """Read and check the policy file at `path`."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read the policy {path}: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: the policy is not UTF-8 text") from None
    return parse(text, str(path))


def parse(text: str, source: str = "<policy>") -> Policy:
    """Check `text` as a policy; errors read `SOURCE:LINE: what is wrong`."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(_syntax_message(source, str(e), text)) from None
    except ValueError as e:  # integers past the digit limit, among others
        raise PolicyError(f"{source}: {e}") from None
    return _Reader(doc, _Lines(text), source).policy()


_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*\Z")


def _syntax_message(source: str, message: str, text: str) -> str:
    m = _AT.search(message)
    if m is not None:
        return f"{source}:{m[1]}:{m[2]}: not valid TOML: {message[: m.start()]}"
    end = " (at end of document)"
    if message.endswith(end):  # the line is the last one: say which it is
        return f"{source}:{max(1, len(text.splitlines()))}: not valid TOML: {message[: -len(end)]} at the end"
    return f"{source}: not valid TOML: {message}"


class _Reader:
    """Checks the parsed document table by table; the first wrong value raises, with its line."""

    def __init__(self, doc: dict[str, Any], lines: _Lines, source: str) -> None:
        self.doc, self.lines, self.source = doc, lines, source

    def fail(self, where: KeyPath, message: str) -> PolicyError:
        line = self.lines.find(where)
        at = f"{self.source}:{line}" if line else self.source
        return PolicyError(f"{at}: {message}")

    def policy(self) -> Policy:
        doc = self.doc
        self.known_keys(
            (),
            doc,
            {"version", "classifications", "roles", "grants", "organisations", "requires", "dependencies"},
        )
        if doc.get("version") != VERSION:
            raise self.fail(("version",), f"version must be {VERSION} (got {doc.get('version')!r})")
        classifications = self.names(("classifications",), doc.get("classifications"))
        if not classifications:
            raise self.fail(("classifications",), "classifications must name at least one")
        roles = self.roles(self.table(("roles",), doc.get("roles", {})))
        return Policy(
            classifications=classifications,
            roles=roles,
            organisations=self.organisations(set(classifications)),
            grant_issuers=self.grant_issuers(roles),
            requires=self.requires(),
            deny_findings=self.deny_rules(),
        )

    # -- shapes ------------------------------------------------------------------------------

    def table(self, where: KeyPath, value: object) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, f"{_dotted(where)} must be a table")
        return value

    def tables(self, where: KeyPath, value: object) -> list[dict[str, Any]]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(where, f"{_dotted(where)} must be an array of tables ([[{_dotted(where)}]])")
        return value

    def known_keys(self, where: KeyPath, table: Mapping[str, Any], known: set[str]) -> None:
        for key in table:
            if key not in known:
                raise self.fail(
                    (*where, key),
                    f"unknown key {_dotted((*where, key))}; known here: {', '.join(sorted(known))}",
                )

    def names(self, where: KeyPath, value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(where, f"{_dotted(where)} must be a list of strings")
        if len(set(value)) != len(value):
            raise self.fail(where, f"{_dotted(where)} names something twice")
        return tuple(value)

    def hops(self, where: KeyPath, value: object) -> frozenset[Hop]:
        out = set()
        for name in self.names(where, value):
            try:
                out.add(Hop(name))
            except ValueError:
                raise self.fail(
                    where, f"unknown hop {name!r} in {_dotted(where)}; hops are {Hop.names()}"
                ) from None
        return frozenset(out)

    def hop(self, where: KeyPath, value: object) -> Hop:
        if not isinstance(value, str):
            raise self.fail(where, f"{_dotted(where)} must be a hop name ({Hop.names()})")
        return next(iter(self.hops(where, [value])))

    # -- sections ----------------------------------------------------------------------------

    def roles(self, table: dict[str, Any]) -> dict[str, RoleRule]:
        roles = {}
        for name, value in table.items():
            where: KeyPath = ("roles", name)
            if not _NAME.match(name):
                raise self.fail(where, f"role name {name!r} must be letters, digits, '.', '_' or '-'")
            body = self.table(where, value)
            self.known_keys(where, body, {"hops", "under_grant"})
            hops = self.hops((*where, "hops"), body.get("hops", []))
            under = self.hops((*where, "under_grant"), body.get("under_grant", []))
            if not under <= hops:
                extra = ", ".join(sorted(under - hops))
                raise self.fail(
                    (*where, "under_grant"), f"role {name!r} lists {extra} under_grant but not in hops"
                )
            roles[name] = RoleRule(name=name, hops=hops, under_grant=under)
        if not roles:
            raise self.fail(("roles",), "the policy defines no roles ([roles.NAME])")
        return roles

    def grant_issuers(self, roles: Mapping[str, RoleRule]) -> frozenset[str]:
        where: KeyPath = ("grants",)
        body = self.table(where, self.doc.get("grants", {}))
        self.known_keys(where, body, {"issuers"})
        issuers = self.names((*where, "issuers"), body.get("issuers", []))
        for role in issuers:
            if role not in roles:
                raise self.fail(
                    (*where, "issuers"),
                    f"unknown role {role!r} in grants.issuers; defined roles: {', '.join(roles)}",
                )
        return frozenset(issuers)

    def organisations(self, classifications: set[str]) -> dict[str, frozenset[str]]:
        out = {}
        for name, value in self.table(("organisations",), self.doc.get("organisations", {})).items():
            where: KeyPath = ("organisations", name)
            if name != ANY and not _NAME.match(name):
                raise self.fail(where, f"organisation name {name!r} must be letters, digits, '.', '_' or '-'")
            body = self.table(where, value)
            self.known_keys(where, body, {"classifications"})
            allowed = self.names((*where, "classifications"), body.get("classifications", []))
            for c in allowed:
                if c != ANY and c not in classifications:
                    raise self.fail(
                        (*where, "classifications"),
                        f"unknown classification {c!r}; declared: {', '.join(sorted(classifications))}",
                    )
            out[name] = frozenset(allowed)
        return out

    def requires(self) -> tuple[Requirement, ...]:
        out = []
        for i, body in enumerate(self.tables(("requires",), self.doc.get("requires"))):
            where: KeyPath = ("requires", i)
            self.known_keys(where, body, {"hop", "after"})
            for key in ("hop", "after"):
                if key not in body:
                    raise self.fail(where, f'[[requires]] needs {key} = "HOP"')
            hop, after = self.hop((*where, "hop"), body["hop"]), self.hop((*where, "after"), body["after"])
            if hop is after:
                raise self.fail((*where, "after"), f"{hop.value} cannot require itself")
            out.append(Requirement(hop=hop, after=after))
        return tuple(out)

    def deny_rules(self) -> tuple[FindingRule, ...]:
        section = self.table(("dependencies",), self.doc.get("dependencies", {}))
        self.known_keys(("dependencies",), section, {"deny"})
        out = []
        for i, body in enumerate(self.tables(("dependencies", "deny"), section.get("deny"))):
            where: KeyPath = ("dependencies", "deny", i)
            self.known_keys(where, body, {"rules", "at_or_above"})
            rules = self.names((*where, "rules"), body.get("rules"))
            if not rules:
                raise self.fail((*where, "rules"), "rules must name at least one rule id or pattern")
            level = body.get("at_or_above", "info")
            try:
                severity = Severity[str(level).upper()] if isinstance(level, str) else None
            except KeyError:
                severity = None
            if severity is None:
                names = ", ".join(str(s) for s in Severity)
                raise self.fail(
                    (*where, "at_or_above"), f"at_or_above must be one of {names} (got {level!r})"
                )
            out.append(FindingRule(rules=rules, at_or_above=severity))
        return tuple(out)


def _dotted(where: KeyPath) -> str:
    return ".".join(str(k) for k in where if isinstance(k, str)) or "the policy"


_HEADER = re.compile(r"\s*(\[\[?)\s*(.*?)\s*\]\]?\s*(?:#.*)?\Z")
_KEY = re.compile(
    r"\s*((?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+))*)\s*="
)
_PART = re.compile(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_-]+)")


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(a or b or c for a, b, c in _PART.findall(dotted))


class _Lines:
    """Where each table and key of a TOML text stands: path -> line number (1-based).

    Enough of TOML for pointing at a line: table headers, arrays of tables (counted, so that the
    second `[[requires]]` is `("requires", 1)`) and keys, dotted or quoted. Multi-line strings and
    arrays are skipped over only in that their inner lines do not look like `key =` at the start.
    """

    def __init__(self, text: str) -> None:
        self.at: dict[KeyPath, int] = {}
        counts: dict[tuple[str, ...], int] = {}
        table: KeyPath = ()
        for number, line in enumerate(text.splitlines(), 1):
            header = _HEADER.match(line)
            if header and not line.lstrip().startswith("#"):
                names = _parts(header[2])
                if header[1] == "[[":
                    n = counts.get(names, 0)
                    counts[names] = n + 1
                    table = (*names, n)
                else:
                    table = names
                self.at.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                self.at.setdefault((*table, *_parts(key[1])), number)

    def find(self, where: KeyPath) -> int | None:
        """The line of `where`, or of the nearest table around it that the text shows."""
        path = tuple(where)
        while path:
            if path in self.at:
                return self.at[path]
            path = path[:-1]
        return None
