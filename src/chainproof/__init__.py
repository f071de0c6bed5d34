"""chainproof: a verifiable chain of custody for AI training pipelines.

The public API, imported on first use (a CLI call pays only for what it runs):

    import chainproof

    log = chainproof.TransparencyLog.open(Path(".chainproof"))          # the signed, append-only log
    custody = chainproof.Custody(log)                              # records and answers
    custody.record(chainproof.Hop.INGEST, key, outputs=[chainproof.artifact_digest("raw/")])
    report = custody.verify(model, chainproof.load_policy(Path("policy.toml")))

    with chainproof.track("train", key="lab.pem", inputs=["raw/"]) as run:   # training code
        ...
        run.output("model.safetensors")

    result = chainproof.scan(".venv")                              # the dependency guard

    signed = chainproof.sign_attestation(                          # an attestation to append
        key=key, subjects=[chainproof.Subject("model.safetensors", {"sha256": hex_digest})],
        predicate_type="https://example.com/eval/v1", predicate={"accuracy": 0.91})
    log.append([signed.envelope])

    bound = chainproof.bind_proof(log.prove(3), checkpoint=saved_note, verifier=vkey)
    bound = chainproof.verify_proof(json.loads(proof_text), verifier=rekor_vkey)  # any log's JSON
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ChainproofError": "chainproof.errors",
    "FormatError": "chainproof.errors",
    "StoreError": "chainproof.errors",
    "UsageError": "chainproof.errors",
    "VerificationError": "chainproof.errors",
    "TransparencyLog": "chainproof.log.service",
    "audit_export": "chainproof.log.service",
    "bind_proof": "chainproof.log.binding",
    "verify_proof": "chainproof.log.binding",
    "BoundProof": "chainproof.log.binding",
    "Statement": "chainproof.attest.statement",
    "Subject": "chainproof.attest.statement",
    "sign_statement": "chainproof.attest.signing",
    "sign_attestation": "chainproof.attest.signing",
    "Attestation": "chainproof.attest.signing",
    "Custody": "chainproof.custody.service",
    "Hop": "chainproof.custody.hops",
    "track": "chainproof.custody.track",
    "Run": "chainproof.custody.track",
    "capture_environment": "chainproof.custody.environment",
    "artifact_digest": "chainproof.custody.tree",
    "build_manifest": "chainproof.custody.tree",
    "Manifest": "chainproof.custody.manifests",
    "Policy": "chainproof.policy",
    "load_policy": "chainproof.policy",
    "policy_template": "chainproof.policy",
    "scan": "chainproof.deps.scan",
    "ScanResult": "chainproof.deps.model",
}
_RENAMED = {
    "bind_proof": "bind",
    "BoundProof": "Bound",
    "capture_environment": "capture",
    "build_manifest": "build",
    "load_policy": "load",
    "policy_template": "template",
}

__all__ = [
    "Attestation",
    "BoundProof",
    "ChainproofError",
    "Custody",
    "FormatError",
    "Hop",
    "Manifest",
    "Policy",
    "Run",
    "ScanResult",
    "Statement",
    "StoreError",
    "Subject",
    "TransparencyLog",
    "UsageError",
    "VerificationError",
    "__version__",
    "artifact_digest",
    "audit_export",
    "bind_proof",
    "build_manifest",
    "capture_environment",
    "load_policy",
    "policy_template",
    "scan",
    "sign_attestation",
    "sign_statement",
    "track",
    "verify_proof",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chainproof' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from chainproof.attest.signing import Attestation, sign_attestation, sign_statement
    from chainproof.attest.statement import Statement, Subject
    from chainproof.custody.environment import capture as capture_environment
    from chainproof.custody.hops import Hop
    from chainproof.custody.manifests import Manifest
    from chainproof.custody.service import Custody
    from chainproof.custody.track import Run, track
    from chainproof.custody.tree import artifact_digest
    from chainproof.custody.tree import build as build_manifest
    from chainproof.deps.model import ScanResult
    from chainproof.deps.scan import scan
    from chainproof.errors import ChainproofError, FormatError, StoreError, UsageError, VerificationError
    from chainproof.log.binding import Bound as BoundProof
    from chainproof.log.binding import bind as bind_proof
    from chainproof.log.binding import verify_proof
    from chainproof.log.service import TransparencyLog, audit_export
    from chainproof.policy import Policy
    from chainproof.policy import load as load_policy
    from chainproof.policy import template as policy_template
