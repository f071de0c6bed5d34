"""A scan as a CycloneDX 1.6 JSON SBOM, built with cyclonedx-python-lib's models.

Every installed distribution and every locked requirement is a `library` component named by its
`pkg:pypi/` package URL; findings that matched an advisory become `vulnerabilities` that point at
the affected components. Other findings (code rules, hooks) describe files, not components, and
belong in the JSON or SARIF reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from cyclonedx.model import HashAlgorithm, HashType, Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.tool import ToolRepository
from cyclonedx.model.vulnerability import (
    BomTarget,
    Vulnerability,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508
from packaging.utils import canonicalize_name

import chainproof
from chainproof.deps.model import AdvisoryRef, Distribution, Finding, Requirement, ScanResult, Severity

PROPERTY_PREFIX = "chainproof:"
OSV_URL = "https://osv.dev/vulnerability/"

_ALGORITHMS: Mapping[str, HashAlgorithm] = {
    "sha256": HashAlgorithm.SHA_256,
    "sha384": HashAlgorithm.SHA_384,
    "sha512": HashAlgorithm.SHA_512,
}
_SEVERITIES: Mapping[Severity, VulnerabilitySeverity] = {
    Severity.INFO: VulnerabilitySeverity.INFO,
    Severity.LOW: VulnerabilitySeverity.LOW,
    Severity.MEDIUM: VulnerabilitySeverity.MEDIUM,
    Severity.HIGH: VulnerabilitySeverity.HIGH,
    Severity.CRITICAL: VulnerabilitySeverity.CRITICAL,
}
_ALIAS_SOURCES = (("PYSEC-", "PyPA"), ("GHSA-", "GitHub Advisory Database"), ("CVE-", "NVD"), ("MAL-", "OSV"))


def purl(name: str, version: str | None) -> PackageURL:
    """`pkg:pypi/<PEP 503 name>@<version>`: how SBOM consumers and advisory feeds name it."""
    return PackageURL(type="pypi", name=canonicalize_name(name), version=version)


def hash_types(hashes: Iterable[str]) -> list[HashType]:
    """`sha256:HEX` strings as CycloneDX hashes; algorithms CycloneDX has no name for are left out."""
    out: list[HashType] = []
    for text in hashes:
        algorithm, _, digest = text.partition(":")
        alg = _ALGORITHMS.get(algorithm.lower())
        if alg is not None and digest:
            out.append(HashType(alg=alg, content=digest.lower()))
    return out


def _properties(values: Mapping[str, str | None]) -> list[Property]:
    return [Property(name=PROPERTY_PREFIX + k, value=v) for k, v in values.items() if v]


def _direct_url(dist: Distribution) -> str | None:
    url = dist.direct_url.get("url") if dist.direct_url else None
    return url if isinstance(url, str) else None


class _Refs:
    """Unique bom-refs: the package URL, with `#2`, `#3`... for a second install of the same one."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def take(self, base: str) -> str:
        ref, n = base, 1
        while ref in self._used:
            n += 1
            ref = f"{base}#{n}"
        self._used.add(ref)
        return ref


def distribution_component(dist: Distribution, refs: _Refs) -> Component:
    url = purl(dist.name, dist.version)
    props = {
        "location": dist.location,
        "metadata_dir": dist.metadata_dir,
        "installer": dist.installer,
        "direct_url": _direct_url(dist),
    }
    return Component(
        type=ComponentType.LIBRARY,
        name=dist.name,
        version=dist.version,
        purl=url,
        bom_ref=refs.take(url.to_string()),
        properties=_properties(props),
    )


def requirement_component(req: Requirement, refs: _Refs) -> Component:
    url = purl(req.name, req.version)
    return Component(
        type=ComponentType.LIBRARY,
        name=req.name,
        version=req.version,
        purl=url,
        bom_ref=refs.take(url.to_string()),
        hashes=hash_types(req.hashes),
        properties=_properties({"source": req.source}),
    )


@dataclass(frozen=True)
class _Inventory:
    components: list[Component]
    by_key: Mapping[str, list[tuple[str | None, Component]]]
    """Normalised name -> (version, component), to attach advisories and dependencies."""


def inventory(result: ScanResult) -> tuple[_Inventory, list[tuple[Distribution, Component]]]:
    refs = _Refs()
    dists = [(d, distribution_component(d, refs)) for d in result.packages]
    reqs = [(r, requirement_component(r, refs)) for r in result.requirements]
    by_key: dict[str, list[tuple[str | None, Component]]] = {}
    for d, c in dists:
        by_key.setdefault(d.key, []).append((d.version, c))
    for r, c in reqs:
        by_key.setdefault(r.key, []).append((r.version, c))
    return _Inventory([c for _, c in dists] + [c for _, c in reqs], by_key), dists


def _required_keys(requires: Iterable[str]) -> Iterator[str]:
    for text in requires:
        try:
            yield canonicalize_name(Pep508(text).name)
        except InvalidRequirement:
            continue  # metadata is untrusted input; an unreadable line just has no edge


def register_dependencies(bom: Bom, dists: Sequence[tuple[Distribution, Component]]) -> None:
    """Edges from each distribution to the installed ones its `Requires-Dist` names (same location)."""
    installed = {(d.location, d.key): c for d, c in dists}
    for dist, component in dists:
        targets = [
            installed[(dist.location, k)]
            for k in _required_keys(dist.requires)
            if (dist.location, k) in installed
        ]
        bom.register_dependency(component, [t for t in targets if t is not component])


def _alias_source(alias: str) -> str:
    return next((name for prefix, name in _ALIAS_SOURCES if alias.upper().startswith(prefix)), "OSV")


def _affected(inv: _Inventory, finding: Finding) -> list[Component]:
    if not finding.package:
        return []
    candidates = inv.by_key.get(canonicalize_name(finding.package), [])
    return [c for v, c in candidates if finding.version is None or v is None or v == finding.version]


def vulnerability(advisory: AdvisoryRef, findings: Sequence[Finding], inv: _Inventory) -> Vulnerability:
    """One advisory, however many components it affects; rated at the worst of its findings."""
    worst = max(findings, key=lambda f: f.severity)
    affected = {c.bom_ref.value: c for f in findings for c in _affected(inv, f)}
    iocs = {f"ioc:{kind}": ", ".join(values) for kind, values in advisory.iocs.items()}
    return Vulnerability(
        bom_ref=f"advisory:{advisory.id}",
        id=advisory.id,
        source=VulnerabilitySource(name="OSV", url=XsUri(OSV_URL + advisory.id)),
        references=[
            VulnerabilityReference(id=alias, source=VulnerabilitySource(name=_alias_source(alias)))
            for alias in advisory.aliases
        ],
        ratings=[
            VulnerabilityRating(
                source=VulnerabilitySource(name="chainproof"), severity=_SEVERITIES[worst.severity]
            )
        ],
        description=advisory.summary or worst.message,
        detail=worst.message,
        affects=[BomTarget(ref=ref) for ref in sorted(r for r in affected if r)],
        properties=_properties({"rule": worst.rule, **iocs}),
    )


def vulnerabilities(result: ScanResult, inv: _Inventory) -> list[Vulnerability]:
    grouped: dict[str, tuple[AdvisoryRef, list[Finding]]] = {}
    for f in result.findings:
        if f.advisory is not None:
            grouped.setdefault(f.advisory.id, (f.advisory, []))[1].append(f)
    return [vulnerability(adv, found, inv) for adv, found in grouped.values()]


def to_bom(result: ScanResult, *, timestamp: datetime | None = None, serial: UUID | None = None) -> Bom:
    inv, dists = inventory(result)
    tool = Component(type=ComponentType.APPLICATION, name="chainproof", version=chainproof.__version__)
    metadata = BomMetaData(
        tools=ToolRepository(components=[tool]),
        timestamp=timestamp,
        properties=_properties({"target": result.target}),
    )
    bom = Bom(components=inv.components, metadata=metadata, serial_number=serial)
    register_dependencies(bom, dists)
    bom.vulnerabilities = vulnerabilities(result, inv)
    return bom


def render(result: ScanResult) -> str:
    return JsonV1Dot6(to_bom(result)).output_as_string(indent=2) + "\n"
