"""Capture the environment a `transform` or `train` ran in, without running anything of it.

Every installed distribution (name, version, the SHA-256 of its RECORD file) is read with the
dependency guard's inventory, which reads files only (an interpreter is asked for its paths with
`-I -S`, so none of its `.pth` hooks runs); the guard's findings come with it; the packages go into a
CycloneDX SBOM whose digest the record names. And the *names* of the credentials present in the
recording process: environment variables and well-known credential files. A value is never read
into a record.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cyclonedx.output.json import JsonV1Dot6

from chainproof.custody.records import Digest, EnvFinding, Environment, Package
from chainproof.deps import scan
from chainproof.deps.model import Distribution, ScanResult
from chainproof.deps.report.cyclonedx import to_bom
from chainproof.errors import UsageError

# Variables that carry credentials by name, and the shapes of names that do: cloud providers,
# Kubernetes, CI systems, package registries, model providers.
_CREDENTIAL_VARIABLES = frozenset(
    {
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE", "GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_AUTH_ACCESS_TOKEN",
        "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_CONNECTION_STRING", "KUBECONFIG", "SSH_AUTH_SOCK", "GITHUB_TOKEN", "GH_TOKEN",
        "GITLAB_TOKEN", "CI_JOB_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_RUNTIME_TOKEN",
        "BUILDKITE_AGENT_ACCESS_TOKEN", "CIRCLE_TOKEN", "NPM_TOKEN", "TWINE_PASSWORD", "PYPI_TOKEN",
        "UV_PUBLISH_TOKEN", "DOCKER_AUTH_CONFIG", "VAULT_TOKEN", "DATABASE_URL",
        "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
        "WANDB_API_KEY", "COHERE_API_KEY", "MISTRAL_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
        "GROQ_API_KEY", "TOGETHER_API_KEY", "REPLICATE_API_TOKEN", "AZURE_OPENAI_API_KEY",
    }
)  # fmt: skip
_CREDENTIAL_SHAPE = re.compile(
    r"(?:^|_)(?:TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|APIKEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?)(?:_|$)"
)

# Files, under the home directory, that hold credentials when present.
CREDENTIAL_FILES = (
    ".aws/credentials", ".aws/config", ".config/gcloud/application_default_credentials.json",
    ".config/gcloud/credentials.db", ".azure/accessTokens.json", ".azure/msal_token_cache.json",
    ".kube/config", ".ssh/id_rsa", ".ssh/id_ecdsa", ".ssh/id_ed25519", ".ssh/id_dsa",
    ".docker/config.json", ".netrc", ".pypirc", ".git-credentials", ".npmrc",
    ".config/gh/hosts.yml", ".huggingface/token", ".cache/huggingface/token", ".vault-token",
)  # fmt: skip


def credential_names(environ: Mapping[str, str], home: Path | None) -> tuple[str, ...]:
    """The names (never the values) of the credentials in reach: set, non-empty variables that
    carry credentials, and credential files under `home` (as `~/.aws/credentials`)."""
    names = sorted(
        k
        for k, v in environ.items()
        if v and (k in _CREDENTIAL_VARIABLES or _CREDENTIAL_SHAPE.search(k.upper()))
    )
    files = [f"~/{rel}" for rel in CREDENTIAL_FILES if home is not None and _present(home / rel)]
    return (*names, *files)


def _present(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


@dataclass(frozen=True, kw_only=True)
class Captured:
    """An environment as the record states it, and the SBOM text whose digest it names."""

    environment: Environment
    sbom: str
    scan: ScanResult


def record_digest(dist: Distribution) -> str | None:
    """SHA-256 (hex) of a distribution's RECORD file, as installed; None without one."""
    if dist.record is None:
        return None
    try:
        data = (Path(dist.location) / dist.metadata_dir / "RECORD").read_bytes()
    except OSError:
        return None
    return hashlib.sha256(data).hexdigest()


def packages_of(result: ScanResult) -> tuple[Package, ...]:
    seen: dict[tuple[str, str], Package] = {}
    for dist in result.packages:
        seen.setdefault(
            (dist.key, dist.version),
            Package(name=dist.name, version=dist.version, record_sha256=record_digest(dist)),
        )
    return tuple(seen[k] for k in sorted(seen))


def sbom_of(result: ScanResult, when: datetime) -> str:
    """The CycloneDX 1.6 SBOM of the scan; its serial number derives from the packages, so the
    same environment at the same time gives the same bytes."""
    key = "\n".join(f"{p.name}=={p.version}" for p in packages_of(result))
    serial = uuid.uuid5(uuid.NAMESPACE_URL, "https://chainproof.dev/custody/sbom/" + key)
    return JsonV1Dot6(to_bom(result, timestamp=when, serial=serial)).output_as_string(indent=2) + "\n"


def capture(
    python: str | None,
    *,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    when: datetime | None = None,
) -> Captured:
    """The environment of `python` (a virtual environment or site-packages directory, an
    interpreter, or None for the running one), its SBOM, and the credentials in reach of this
    process (`environ`, default `os.environ`; `home`, default the user's home)."""
    if python is None:
        result, where = scan.scan_python(None), sys.prefix
    elif Path(python).is_dir():
        result, where = scan.scan(python), str(Path(python).resolve())
    elif Path(python).is_file():
        result, where = scan.scan_python(python), str(Path(python).resolve())
    else:
        raise UsageError(f"--env {python}: no such interpreter or environment")
    environ = os.environ if environ is None else environ
    home = _home() if home is None else home
    sbom = sbom_of(result, when or datetime.now(UTC))
    env = Environment(
        python=where,
        sbom=Digest("sha256:" + hashlib.sha256(sbom.encode()).hexdigest()),
        packages=packages_of(result),
        findings=_findings(result),
        credentials=credential_names(environ, home),
    )
    return Captured(environment=env, sbom=sbom, scan=result)


def _findings(result: ScanResult) -> tuple[EnvFinding, ...]:
    return tuple(
        dict.fromkeys(
            EnvFinding(rule=f.rule, severity=f.severity, package=f.package) for f in result.findings
        )
    )


def _home() -> Path | None:
    try:
        return Path.home()
    except (RuntimeError, KeyError):
        return None
