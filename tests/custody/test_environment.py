"""Environment capture: packages with their RECORD digests, findings, an SBOM, credential names only."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from chainproof.custody import predicates
from chainproof.custody.environment import capture, credential_names
from chainproof.custody.hops import Hop
from chainproof.custody.records import HopRecord
from chainproof.deps.model import Severity
from chainproof.errors import UsageError
from dist_support import install, venv

SECRET = "s3cr3t-value-never-recorded"


@pytest.fixture
def trainbox(tmp_path: Path) -> Path:
    """A venv-shaped directory with a harmless LiteLLM 1.82.8 replica (its hook would only write a
    canary file) and a clean package."""
    site = venv(tmp_path / "trainbox")
    canary = tmp_path / "canary"
    payload = base64.b64encode(f"open({str(canary)!r}, 'w').write('fired')".encode()).decode()
    install(site, "litellm", "1.82.8", {
        "litellm/__init__.py": "__version__ = '1.82.8'\n",
        "litellm_init.pth": f"import base64; exec(base64.b64decode('{payload}'))\n",
    })  # fmt: skip
    install(site, "tinylib", "1.0", {"tinylib/__init__.py": "X = 1\n"})
    return tmp_path / "trainbox"


def test_capture_reads_packages_findings_and_credential_names(trainbox: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(f"[default]\naws_secret_access_key = {SECRET}\n")
    environ = {"AWS_SECRET_ACCESS_KEY": SECRET, "OPENAI_API_KEY": SECRET, "MY_SERVICE_TOKEN": SECRET,
               "PATH": "/usr/bin", "UNSET_TOKEN": "", "HOME": str(home)}  # fmt: skip
    captured = capture(str(trainbox), environ=environ, home=home)
    env = captured.environment
    assert [(p.name, p.version) for p in env.packages] == [("litellm", "1.82.8"), ("tinylib", "1.0")]
    record = trainbox / "lib/python3.11/site-packages/litellm-1.82.8.dist-info/RECORD"
    assert env.packages[0].record_sha256 == hashlib.sha256(record.read_bytes()).hexdigest()
    assert any(f.rule == "hook-pth-exec" and f.severity >= Severity.HIGH for f in env.findings)
    assert env.credentials == (
        "AWS_SECRET_ACCESS_KEY",
        "MY_SERVICE_TOKEN",
        "OPENAI_API_KEY",
        "~/.aws/credentials",
    )
    assert env.sbom == "sha256:" + hashlib.sha256(captured.sbom.encode()).hexdigest()
    bom = json.loads(captured.sbom)
    assert bom["specVersion"] == "1.6"
    assert {c["purl"] for c in bom["components"]} == {"pkg:pypi/litellm@1.82.8", "pkg:pypi/tinylib@1.0"}
    assert not (tmp_path / "canary").exists()  # read, never run

    record_bytes = predicates.to_statement(
        HopRecord(hop=Hop.TRAIN, inputs=(), outputs=(env.sbom,), environment=env)
    ).canonical()
    assert SECRET.encode() not in record_bytes
    assert b"AWS_SECRET_ACCESS_KEY" in record_bytes


def test_credential_names_are_names_of_set_values_only() -> None:
    assert credential_names({"GITHUB_TOKEN": "x", "GH_TOKEN": "", "TOKENIZERS_PARALLELISM": "1"}, None) == (
        "GITHUB_TOKEN",
    )
    assert credential_names({"HF_TOKEN": "x", "db_password": "y", "KUBECONFIG": "/k"}, None) == (
        "HF_TOKEN",
        "KUBECONFIG",
        "db_password",
    )


def test_a_missing_environment_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such interpreter or environment"):
        capture(str(tmp_path / "nope"))
