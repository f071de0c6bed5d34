"""The custody predicate types: records to in-toto Statements v1 and back, each with its schema check.

`transform` and `train` are SLSA Provenance v1 predicates (so that SLSA tooling reads them): the
datasets they read, the packages of their environment (as package URLs with the SHA-256 of each
RECORD file) and the environment's SBOM are `resolvedDependencies`, told apart by the annotation
`role` (`input`, `package`, `sbom`); the hop's own fields are `externalParameters`; what was
captured of the environment (its findings, the credential names present) is `internalParameters`.
The other hops, actors, grants and grant revocations are chainproof types. The JSON schemas are
documented in docs/custody.md.

Every type is one `PredicateSpec` in `SPECS`: adding one needs no edit elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from packaging.utils import canonicalize_name

from chainproof.attest.statement import Statement, Subject
from chainproof.custody.hops import Hop
from chainproof.custody.records import (
    ActorRecord,
    Digest,
    EnvFinding,
    Environment,
    GrantRecord,
    GrantRevocation,
    HopRecord,
    Package,
    Record,
    digest,
    hex_of,
)
from chainproof.deps.model import Severity
from chainproof.errors import FormatError

BASE = "https://chainproof.dev/custody"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
BUILDER_ID = f"{BASE}/recorder/v1"
ACTOR = f"{BASE}/actor/v1"
GRANT = f"{BASE}/grant/v1"
GRANT_REVOCATION = f"{BASE}/grant-revocation/v1"
CYCLONEDX_MEDIA_TYPE = "application/vnd.cyclonedx+json"


def hop_type(hop: Hop) -> str:
    """The predicate type of a chainproof hop, or the SLSA build type of `transform` and `train`."""
    return f"{BASE}/{hop.value}/v1"


_SLSA_HOPS = (Hop.TRANSFORM, Hop.TRAIN)

HOP_FIELDS: Mapping[Hop, tuple[str, ...]] = {
    Hop.INGEST: ("source", "licence", "location", "classification"),
    Hop.ANNOTATE: ("organisation", "worker", "task", "guidelines"),
    Hop.TRANSFORM: ("description", "code"),
    Hop.TRAIN: ("description", "code"),
    Hop.EVALUATE: ("suite",),
    Hop.RELEASE: ("channel", "approver"),
    Hop.ACCESS: ("grant", "purpose"),
}
"""Each hop's own text fields, all optional; `evaluate` also takes `metrics` (name -> number), and
every hop an `annotations` object for anything else."""


class PredicateError(FormatError):
    """A custody statement does not follow its predicate type's schema."""


# -- small readers -------------------------------------------------------------------------


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise PredicateError(f"{where} must be a JSON object")
    return value


def _text(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    """An optional text field."""
    return None if obj.get(key) is None else _required(obj, key, where)


def _required(obj: Mapping[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise PredicateError(f"{where}.{key} must be a non-empty string")
    return value


def _only(obj: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    if obj.keys() <= set(known):  # the usual case, checked without building the message
        return
    unknown = sorted(set(obj) - set(known))
    if unknown:
        raise PredicateError(f"{where} has unknown field(s) {', '.join(unknown)}; known: {', '.join(known)}")


def _time(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    """An optional RFC 3339 timestamp, kept as written (it is signed) once it parses."""
    value = _text(obj, key, where)
    if value is not None:
        parse_time(value, f"{where}.{key}")
    return value


def parse_time(text: str, what: str) -> datetime:
    """An RFC 3339 date-time with its offset, as a timezone-aware datetime."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        value = None
    if value is None or value.tzinfo is None or "T" not in text.upper():
        raise PredicateError(f"{what} {text!r} is not an RFC 3339 time such as 2026-03-24T10:00:00Z")
    return value


def _digest_of(descriptor: Mapping[str, Any], where: str) -> Digest:
    d = _object(descriptor.get("digest"), f"{where}.digest")
    value = d.get("sha256")
    if not isinstance(value, str):
        raise PredicateError(f"{where}.digest needs a sha256")
    return digest(f"sha256:{value}", where)


def _descriptor(d: Digest, **extra: Any) -> dict[str, Any]:
    return {**extra, "digest": {"sha256": hex_of(d)}}


def _subjects(digests: Sequence[Digest]) -> tuple[Subject, ...]:
    return tuple(Subject(d, {"sha256": hex_of(d)}) for d in digests)


def _subject_digests(st: Statement) -> tuple[Digest, ...]:
    out = []
    for s in st.subjects:
        value = s.digest.get("sha256")
        if value is None:
            raise PredicateError(f"subject {s.name!r} has no sha256 digest")
        out.append(digest(f"sha256:{value}", f"subject {s.name!r}"))
    return tuple(out)


def _details(hop: Hop, obj: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in HOP_FIELDS[hop]:
        value = _text(obj, key, where)
        if value is not None:
            out[key] = value
    if hop is Hop.EVALUATE and "metrics" in obj:
        metrics = _object(obj["metrics"], f"{where}.metrics")
        for name, value in metrics.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise PredicateError(f"{where}.metrics.{name} must be a number")
        out["metrics"] = dict(metrics)
    if "annotations" in obj:
        out["annotations"] = dict(_object(obj["annotations"], f"{where}.annotations"))
    return out


def _detail_keys(hop: Hop) -> tuple[str, ...]:
    return (*HOP_FIELDS[hop], "annotations", *(("metrics",) if hop is Hop.EVALUATE else ()))


def check_details(hop: Hop, obj: Mapping[str, Any], where: str = "predicate") -> dict[str, Any]:
    """A hop's own fields from user input (`record --predicate FILE`), checked against its schema."""
    _only(obj, _detail_keys(hop), where)
    return _details(hop, obj, where)


# -- chainproof hop types ------------------------------------------------------------------


def _plain_hop_statement(r: HopRecord) -> Statement:
    predicate: dict[str, Any] = {**r.details, "inputs": [_descriptor(d) for d in r.inputs]}
    if r.time is not None:
        predicate["time"] = r.time
    return Statement(_subjects(r.concerns), hop_type(r.hop), predicate)


def _plain_hop(hop: Hop) -> Callable[[Statement], HopRecord]:
    def parse(st: Statement) -> HopRecord:
        where = f"the {hop.value} predicate"
        p = st.predicate
        _only(p, (*_detail_keys(hop), "inputs", "time"), where)
        raw_inputs = p.get("inputs", [])
        if not isinstance(raw_inputs, list):
            raise PredicateError(f"{where}.inputs must be a list")
        inputs = tuple(
            _digest_of(_object(i, f"{where}.inputs[{n}]"), f"{where}.inputs[{n}]")
            for n, i in enumerate(raw_inputs)
        )
        subjects = _subject_digests(st)
        # A hop that made nothing names what it concerns as its subjects, and those are its inputs.
        made_nothing = hop in (Hop.EVALUATE, Hop.RELEASE, Hop.ACCESS)
        if made_nothing and set(subjects) != set(inputs):
            raise PredicateError(f"the subjects of a {hop.value} statement must be its inputs")
        return HopRecord(
            hop=hop,
            inputs=inputs,
            outputs=() if made_nothing else subjects,
            details=_details(hop, p, where),
            time=_time(p, "time", where),
        )

    return parse


# -- SLSA Provenance v1: transform and train ----------------------------------------------


@lru_cache(maxsize=4096)
def _canonical(name: str) -> str:
    # A training names every installed distribution, and a pipeline trains in a few environments:
    # the same names, thousands of times.
    return str(canonicalize_name(name))


def _purl(p: Package) -> str:
    return f"pkg:pypi/{_canonical(p.name)}@{p.version}"


def _slsa_statement(r: HopRecord) -> Statement:
    deps: list[dict[str, Any]] = [_descriptor(d, name=d, annotations={"role": "input"}) for d in r.inputs]
    internal: dict[str, Any] = {"succeeded": r.succeeded}
    if not r.outputs:  # a run that failed early made nothing: its subjects are its inputs
        internal["no_outputs"] = True
    env = r.environment
    if env is not None:
        for p in env.packages:
            package: dict[str, Any] = {
                "uri": _purl(p),
                "name": p.name,
                "annotations": {"role": "package", "version": p.version},
            }
            if p.record_sha256 is not None:
                package["digest"] = {"sha256": p.record_sha256}
            deps.append(package)
        deps.append(
            _descriptor(
                env.sbom,
                name="environment.cdx.json",
                mediaType=CYCLONEDX_MEDIA_TYPE,
                annotations={"role": "sbom"},
            )
        )
        internal["environment"] = {
            "python": env.python,
            "credentials": list(env.credentials),
            "findings": [
                {"rule": f.rule, "severity": str(f.severity), "package": f.package} for f in env.findings
            ],
        }
    predicate = {
        "buildDefinition": {
            "buildType": hop_type(r.hop),
            "externalParameters": dict(r.details),
            "internalParameters": internal,
            "resolvedDependencies": deps,
        },
        "runDetails": {
            "builder": {"id": BUILDER_ID},
            **({"metadata": {"finishedOn": r.time}} if r.time is not None else {}),
        },
    }
    return Statement(_subjects(r.concerns), SLSA_PROVENANCE, predicate)


def _slsa_parse(st: Statement) -> HopRecord:
    where = "the provenance predicate"
    build = _object(st.predicate.get("buildDefinition"), f"{where}.buildDefinition")
    build_type = build.get("buildType")
    hop = next((h for h in _SLSA_HOPS if hop_type(h) == build_type), None)
    if hop is None:
        raise PredicateError(f"buildType {build_type!r} is not a chainproof transform or train")
    internal = _object(build.get("internalParameters", {}), f"{where}.internalParameters")
    succeeded = internal.get("succeeded", True)
    if not isinstance(succeeded, bool):
        raise PredicateError(f"{where}.internalParameters.succeeded must be true or false")
    inputs: list[Digest] = []
    packages: list[Package] = []
    sbom: Digest | None = None
    raw_deps = build.get("resolvedDependencies", [])
    if not isinstance(raw_deps, list):
        raise PredicateError(f"{where}.resolvedDependencies must be a list")
    for n, dep in enumerate(raw_deps):
        # A training record lists every installed package: its location in an error message is
        # built only when there is an error (a third of the parse, built for every package).
        annotations = dep.get("annotations", {}) if isinstance(dep, dict) else None
        role = annotations.get("role") if isinstance(annotations, dict) else None
        if role == "package" and isinstance(annotations, dict):
            packages.append(_package(dep, annotations) or _bad_package(f"{where}.resolvedDependencies[{n}]"))
        elif role == "input":
            inputs.append(_digest_of(dep, f"{where}.resolvedDependencies[{n}]"))
        elif role == "sbom":
            sbom = _digest_of(dep, f"{where}.resolvedDependencies[{n}]")
        else:
            at = f"{where}.resolvedDependencies[{n}]"
            _object(dep, at)
            _object(annotations, f"{at}.annotations")
            raise PredicateError(f"{at}.annotations.role must be input, package or sbom")
    env_obj = internal.get("environment")
    environment = None
    if env_obj is not None:
        if sbom is None:
            raise PredicateError(f"{where}: an environment needs its SBOM among resolvedDependencies")
        environment = _environment(
            _object(env_obj, f"{where}.internalParameters.environment"), sbom, tuple(packages)
        )
    return HopRecord(
        hop=hop,
        inputs=tuple(inputs),
        outputs=() if internal.get("no_outputs") is True else _subject_digests(st),
        details=_details(
            hop,
            _object(build.get("externalParameters", {}), f"{where}.externalParameters"),
            f"{where}.externalParameters",
        ),
        environment=environment,
        time=_run_time(st.predicate),
        succeeded=succeeded,
    )


def _run_time(predicate: Mapping[str, Any]) -> str | None:
    run = _object(predicate.get("runDetails", {}), "the provenance predicate.runDetails")
    metadata = _object(run.get("metadata", {}), "the provenance predicate.runDetails.metadata")
    return _time(metadata, "finishedOn", "the provenance predicate.runDetails.metadata")


_HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")


def _package(dep: Mapping[str, Any], annotations: Mapping[str, Any]) -> Package | None:
    """A package's descriptor as a `Package`, or None when it is not one."""
    name, version, digest_set = dep.get("name"), annotations.get("version"), dep.get("digest")
    if not (isinstance(name, str) and name and isinstance(version, str) and version):
        return None
    record = None
    if digest_set is not None:
        record = digest_set.get("sha256") if isinstance(digest_set, dict) else None
        if not isinstance(record, str) or not _HEX64.match(record):
            return None
        record = record.lower()
    return Package(name=name, version=version, record_sha256=record)


def _bad_package(at: str) -> Package:
    raise PredicateError(
        f"{at}: a package needs a non-empty name, annotations.version, and a sha256 digest of 64 "
        "hex digits when it has a digest"
    )


def _environment(obj: Mapping[str, Any], sbom: Digest, packages: tuple[Package, ...]) -> Environment:
    where = "the environment"
    python = _required(obj, "python", where)
    credentials = obj.get("credentials", [])
    if not isinstance(credentials, list) or not all(isinstance(c, str) for c in credentials):
        raise PredicateError(f"{where}.credentials must be a list of names")
    findings = []
    for n, raw in enumerate(obj.get("findings", [])):
        f = _object(raw, f"{where}.findings[{n}]")
        rule = _required(f, "rule", f"{where}.findings[{n}]")
        severity = Severity.parse(str(f.get("severity")))
        package = f.get("package")
        if package is not None and not isinstance(package, str):
            raise PredicateError(f"{where}.findings[{n}].package must be a string")
        findings.append(EnvFinding(rule=rule, severity=severity, package=package))
    return Environment(
        python=python, sbom=sbom, packages=packages, findings=tuple(findings), credentials=tuple(credentials)
    )


# -- actors, grants, revocations -------------------------------------------------------------


def _actor_statement(r: ActorRecord) -> Statement:
    predicate = {"name": r.name, "role": r.role, "organisation": r.organisation, "keyid": r.keyid}
    return Statement((Subject(r.name, {"sha256": r.keyid}),), ACTOR, predicate)


def _actor_parse(st: Statement) -> ActorRecord:
    where = "the actor predicate"
    p = st.predicate
    _only(p, ("name", "role", "organisation", "keyid"), where)
    name, role, org, keyid = (_required(p, k, where) for k in ("name", "role", "organisation", "keyid"))
    return ActorRecord(name=name, role=role, organisation=org, keyid=keyid)


def _grant_statement(r: GrantRecord) -> Statement:
    predicate = {"grantee": r.grantee, "purpose": r.purpose, "expires": r.expires}
    return Statement(_subjects([r.artifact]), GRANT, predicate)


def _grant_parse(st: Statement) -> GrantRecord:
    where = "the grant predicate"
    p = st.predicate
    _only(p, ("grantee", "purpose", "expires"), where)
    grantee, purpose, expires = (_required(p, k, where) for k in ("grantee", "purpose", "expires"))
    subjects = _subject_digests(st)
    if len(subjects) != 1:
        raise PredicateError("a grant names exactly one artifact")
    return GrantRecord(grantee=grantee, artifact=subjects[0], purpose=purpose, expires=expires)


def _revocation_statement(r: GrantRevocation) -> Statement:
    return Statement(_subjects([r.grant_id]), GRANT_REVOCATION, {"reason": r.reason})


def _revocation_parse(st: Statement) -> GrantRevocation:
    where = "the grant revocation predicate"
    _only(st.predicate, ("reason",), where)
    subjects = _subject_digests(st)
    if len(subjects) != 1:
        raise PredicateError("a grant revocation names exactly one grant")
    reason = st.predicate.get("reason", "")
    if not isinstance(reason, str):
        raise PredicateError(f"{where}.reason must be a string")
    return GrantRevocation(grant_id=subjects[0], reason=reason)


# -- the registry -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PredicateSpec:
    """One predicate type: how its statements read as records."""

    predicate_type: str
    parse: Callable[[Statement], Record]


SPECS: Mapping[str, PredicateSpec] = {
    **{hop_type(h): PredicateSpec(hop_type(h), _plain_hop(h)) for h in Hop if h not in _SLSA_HOPS},
    SLSA_PROVENANCE: PredicateSpec(SLSA_PROVENANCE, _slsa_parse),
    ACTOR: PredicateSpec(ACTOR, _actor_parse),
    GRANT: PredicateSpec(GRANT, _grant_parse),
    GRANT_REVOCATION: PredicateSpec(GRANT_REVOCATION, _revocation_parse),
}


def to_statement(record: Record) -> Statement:
    """The in-toto Statement v1 that records `record`."""
    if isinstance(record, HopRecord):
        return _slsa_statement(record) if record.hop in _SLSA_HOPS else _plain_hop_statement(record)
    if isinstance(record, ActorRecord):
        return _actor_statement(record)
    if isinstance(record, GrantRecord):
        return _grant_statement(record)
    return _revocation_statement(record)


def from_statement(st: Statement) -> Record | None:
    """The custody record `st` states, None when its type is not a custody type; a statement of a
    custody type that breaks its schema raises `PredicateError`."""
    spec = SPECS.get(st.predicate_type)
    if spec is None:
        return None
    if st.predicate_type == SLSA_PROVENANCE:
        build = st.predicate.get("buildDefinition")
        if not isinstance(build, dict) or not str(build.get("buildType", "")).startswith(BASE):
            return None  # someone else's SLSA provenance: evidence, but not a custody hop
    return spec.parse(st)
