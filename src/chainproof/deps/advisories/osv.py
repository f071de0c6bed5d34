"""OSV advisory records (https://ossf.github.io/osv-schema/): parsing and version matching.

Pure code: records come in as text or parsed JSON and go out as frozen values; nothing here reads a
file or the network. Only the PyPI ecosystem is matched, with PEP 503 names and PEP 440 versions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from chainproof._internal import untrusted_json
from chainproof.deps.model import Severity
from chainproof.errors import FormatError

ECOSYSTEM = "PyPI"
MALICIOUS_PREFIXES = ("MAL-", "CHAINPROOF-MAL-")
_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


class AdvisoryFormatError(FormatError):
    """An advisory record is not valid OSV JSON (the message names the file it came from)."""


@dataclass(frozen=True)
class Event:
    kind: str
    """One of `introduced`, `fixed`, `last_affected`, `limit`."""
    version: str


@dataclass(frozen=True)
class Range:
    type: str
    """`ECOSYSTEM`, `SEMVER` or `GIT`; only ECOSYSTEM ranges are evaluated for PyPI."""
    events: tuple[Event, ...]


@dataclass(frozen=True)
class Affected:
    ecosystem: str
    name: str
    versions: tuple[str, ...] = ()
    ranges: tuple[Range, ...] = ()

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)


@dataclass(frozen=True)
class OsvRecord:
    id: str
    modified: str = ""
    aliases: tuple[str, ...] = ()
    summary: str = ""
    details: str = ""
    withdrawn: str | None = None
    affected: tuple[Affected, ...] = ()
    severity: tuple[tuple[str, str], ...] = ()
    """(type, score) pairs, e.g. ("CVSS_V3", "CVSS:3.1/AV:N/...")."""
    database_severity: str | None = None
    """`database_specific.severity` (GHSA writes LOW, MODERATE, HIGH, CRITICAL)."""
    iocs: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    malware_marked: bool = False
    """`database_specific` says the package is malicious (e.g. OpenSSF `malicious-packages-origins`)."""

    @property
    def ids(self) -> frozenset[str]:
        return frozenset((self.id, *self.aliases))

    @property
    def malicious(self) -> bool:
        """A malicious-package record rather than a vulnerability in a legitimate package."""
        if self.malware_marked or any(i.startswith(MALICIOUS_PREFIXES) for i in self.ids):
            return True
        return self.summary.lower().startswith("malicious code in")

    def packages(self) -> tuple[Affected, ...]:
        return tuple(a for a in self.affected if a.ecosystem == ECOSYSTEM)


# --- parsing -----------------------------------------------------------------------------------


def parse_text(data: bytes | str, source: str) -> OsvRecord:
    """One record from OSV JSON text; `source` names where it came from, for error messages."""
    try:
        obj = untrusted_json.loads(data, unique_keys=False)
    except (ValueError, RecursionError) as e:
        raise AdvisoryFormatError(f"{source}: not valid JSON ({_short(e)})") from None
    return parse_record(obj, source)


def parse_record(obj: object, source: str) -> OsvRecord:
    if not isinstance(obj, dict):
        raise AdvisoryFormatError(f"{source}: an OSV record must be a JSON object")
    rid = _string(obj, "id", source, required=True)
    db_specific = _mapping(obj.get("database_specific"), f"{source}: database_specific")
    return OsvRecord(
        id=rid,
        modified=_string(obj, "modified", source),
        aliases=_strings(obj.get("aliases"), f"{source}: {rid} aliases"),
        summary=_string(obj, "summary", source),
        details=_string(obj, "details", source),
        withdrawn=_string(obj, "withdrawn", source) or None,
        affected=tuple(
            _affected(a, f"{source}: {rid} affected[{i}]")
            for i, a in enumerate(_list(obj.get("affected"), f"{source}: {rid} affected"))
        ),
        severity=tuple(
            _severity(s, f"{source}: {rid} severity[{i}]")
            for i, s in enumerate(_list(obj.get("severity"), f"{source}: {rid} severity"))
        ),
        database_severity=_optional_str(db_specific.get("severity")),
        iocs=_iocs(db_specific.get("iocs")),
        malware_marked=_marks_malware(db_specific),
    )


def _affected(obj: object, where: str) -> Affected:
    if not isinstance(obj, dict):
        raise AdvisoryFormatError(f"{where}: must be an object")
    package = obj.get("package")
    if not isinstance(package, dict):
        raise AdvisoryFormatError(f"{where}: missing the `package` object")
    name = package.get("name")
    ecosystem = package.get("ecosystem")
    if not isinstance(name, str) or not name or not isinstance(ecosystem, str):
        raise AdvisoryFormatError(f"{where}: package needs a string `name` and `ecosystem`")
    return Affected(
        ecosystem=ecosystem,
        name=name,
        versions=_strings(obj.get("versions"), f"{where} versions"),
        ranges=tuple(
            _range(r, f"{where} ranges[{i}]") for i, r in enumerate(_list(obj.get("ranges"), where))
        ),
    )


def _range(obj: object, where: str) -> Range:
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise AdvisoryFormatError(f"{where}: a range needs a string `type`")
    events: list[Event] = []
    for i, e in enumerate(_list(obj.get("events"), f"{where} events")):
        if not isinstance(e, dict) or len(e) != 1:
            raise AdvisoryFormatError(f"{where} events[{i}]: an event is an object with one key")
        ((kind, version),) = e.items()
        if kind not in _EVENT_KINDS or not isinstance(version, str):
            raise AdvisoryFormatError(f"{where} events[{i}]: unknown event {kind!r} or non-string version")
        events.append(Event(kind, version))
    return Range(obj["type"], tuple(events))


def _severity(obj: object, where: str) -> tuple[str, str]:
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise AdvisoryFormatError(f"{where}: a severity needs a string `type` and `score`")
    score = obj.get("score")
    if not isinstance(score, str | int | float):
        raise AdvisoryFormatError(f"{where}: a severity needs a string `type` and `score`")
    return obj["type"], str(score)


def _iocs(obj: object) -> Mapping[str, tuple[str, ...]]:
    # Indicators are advisory extras, not part of the OSV schema: keep what is well-formed, drop the rest.
    if not isinstance(obj, dict):
        return MappingProxyType({})
    kept = {
        str(k): tuple(x for x in v if isinstance(x, str))
        for k, v in obj.items()
        if isinstance(v, list) and any(isinstance(x, str) for x in v)
    }
    return MappingProxyType(kept)


def _marks_malware(db_specific: Mapping[str, Any]) -> bool:
    if "malicious-packages-origins" in db_specific or db_specific.get("malicious") is True:
        return True
    return str(db_specific.get("type", "")).lower() in ("malware", "malicious")


def _string(obj: Mapping[str, Any], key: str, source: str, *, required: bool = False) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        what = "a non-empty string" if required else "a string"
        raise AdvisoryFormatError(f"{source}: `{key}` must be {what}")
    return value


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _strings(value: object, where: str) -> tuple[str, ...]:
    items = _list(value, where)
    if not all(isinstance(x, str) for x in items):
        raise AdvisoryFormatError(f"{where}: must be a list of strings")
    return tuple(items)


def _list(value: object, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise AdvisoryFormatError(f"{where}: must be a list")
    return value


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AdvisoryFormatError(f"{where}: must be an object")
    return value


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:120] if str(e) else type(e).__name__


# --- matching ----------------------------------------------------------------------------------


def parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def affects(record: OsvRecord, name: str, version: str) -> bool:
    """Whether `record` covers release `version` of PyPI project `name`; withdrawn records never do."""
    if record.withdrawn:
        return False
    key = canonicalize_name(name)
    return any(a.key == key and affected_version(a, version) for a in record.packages())


def affected_version(affected: Affected, version: str) -> bool:
    parsed = parse_version(version)
    if _listed(affected.versions, version, parsed):
        return True
    # A version that is not PEP 440 cannot be placed in a range: only an exact listing matches it.
    if parsed is None:
        return False
    return any(_in_range(r, parsed) for r in affected.ranges if r.type == "ECOSYSTEM")


def _listed(versions: Sequence[str], version: str, parsed: Version | None) -> bool:
    for listed in versions:
        if listed == version:
            return True
        if parsed is not None and parse_version(listed) == parsed:
            return True
    return False


def _event_key(event: Event) -> Version:
    # `introduced: "0"` is the OSV spelling of "before every version"; Version("0") already sorts first.
    return Version(event.version)


def _in_range(rng: Range, version: Version) -> bool:
    """The OSV evaluation: walk the events in version order, toggling on `introduced`, off past a fix."""
    if not _range_parses(rng):
        # One unparsable bound makes the whole range unknowable; the `versions` list still applies.
        return False
    if any(e.kind == "limit" and version >= _event_key(e) for e in rng.events):
        return False
    affected = False
    for event in sorted(rng.events, key=_event_key):
        bound = _event_key(event)
        if event.kind == "introduced" and version >= bound:
            affected = True
        elif (event.kind == "fixed" and version >= bound) or (
            event.kind == "last_affected" and version > bound
        ):
            affected = False
    return affected


def _range_parses(rng: Range) -> bool:
    return all(parse_version(e.version) is not None for e in rng.events)


def every_version(affected: Affected) -> bool:
    """Whether some range covers every version of the project (`introduced: "0"` with no end)."""
    return any(
        r.type == "ECOSYSTEM"
        and any(e.kind == "introduced" and parse_version(e.version) == Version("0") for e in r.events)
        and not any(e.kind != "introduced" for e in r.events)
        for r in affected.ranges
    )


def describe_versions(affected: Affected) -> str:
    """A short human summary of what `affected` covers: listed versions and ranges."""
    parts = [_describe_range(r) for r in affected.ranges if r.type == "ECOSYSTEM"]
    if affected.versions and not any(p == "all versions" for p in parts):
        shown = ", ".join(affected.versions[:6])
        more = len(affected.versions) - 6
        parts.insert(0, shown + (f" (+{more} more)" if more > 0 else ""))
    return "; ".join(p for p in parts if p) or "no versions"


def _describe_range(rng: Range) -> str:
    ops = {"introduced": ">=", "fixed": "<", "last_affected": "<=", "limit": "<"}
    if [e.kind for e in rng.events] == ["introduced"] and rng.events[0].version == "0":
        return "all versions"
    return ",".join(f"{ops[e.kind]}{e.version}" for e in rng.events)


# --- severity ----------------------------------------------------------------------------------

_GHSA_LEVELS = {"low": Severity.LOW, "moderate": Severity.MEDIUM, "medium": Severity.MEDIUM}
_GHSA_LEVELS |= {"high": Severity.HIGH, "critical": Severity.CRITICAL}


def record_severity(record: OsvRecord) -> Severity:
    """Severity of a vulnerability record: a CVSS v3 base score, else the database's word, else medium."""
    for kind, score in record.severity:
        level = _cvss_level(kind, score)
        if level is not None:
            return level
    if record.database_severity and record.database_severity.lower() in _GHSA_LEVELS:
        return _GHSA_LEVELS[record.database_severity.lower()]
    return Severity.MEDIUM


def _cvss_level(kind: str, score: str) -> Severity | None:
    number: float | None
    try:
        number = float(score)
    except ValueError:
        number = cvss3_base_score(score) if kind == "CVSS_V3" else None
    if number is None or not 0 <= number <= 10:
        return None
    return score_level(number)


def score_level(score: float) -> Severity:
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW if score > 0 else Severity.INFO


_AV = {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
_AC = {"L": 0.77, "H": 0.44}
_UI = {"N": 0.85, "R": 0.62}
_CIA = {"H": 0.56, "L": 0.22, "N": 0.0}
_PR_UNCHANGED = {"N": 0.85, "L": 0.62, "H": 0.27}
_PR_CHANGED = {"N": 0.85, "L": 0.68, "H": 0.5}


def cvss3_base_score(vector: str) -> float | None:
    """The CVSS v3.x base score of a vector string (specification section 7.1), or None if malformed."""
    parts = vector.split("/")
    if not parts[0].startswith("CVSS:3"):
        return None
    metrics = dict(p.split(":", 1) for p in parts[1:] if ":" in p)
    try:
        changed = {"U": False, "C": True}[metrics["S"]]
        pr = (_PR_CHANGED if changed else _PR_UNCHANGED)[metrics["PR"]]
        exploitability = 8.22 * _AV[metrics["AV"]] * _AC[metrics["AC"]] * pr * _UI[metrics["UI"]]
        iss = 1 - (1 - _CIA[metrics["C"]]) * (1 - _CIA[metrics["I"]]) * (1 - _CIA[metrics["A"]])
    except KeyError:
        return None
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    if impact <= 0:
        return 0.0
    total = (impact + exploitability) * (1.08 if changed else 1.0)
    return _roundup(min(total, 10.0))


def _roundup(value: float) -> float:
    # The specification's Roundup, which avoids float artefacts such as 4.000000001 -> 4.1.
    scaled = round(value * 100_000)
    if scaled % 10_000 == 0:
        return scaled / 100_000
    return (math.floor(scaled / 10_000) + 1) / 10.0
