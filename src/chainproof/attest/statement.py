"""in-toto Statement v1: the payload of every attestation in the log."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import rfc8785

from chainproof._internal import untrusted_json
from chainproof.attest import jcs
from chainproof.errors import FormatError

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
_HEX = re.compile(r"[0-9a-fA-F]+")


@dataclass(frozen=True)
class Subject:
    name: str
    digest: Mapping[str, str]


@dataclass(frozen=True)
class Statement:
    subjects: tuple[Subject, ...]
    predicate_type: str
    predicate: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # What `from_json_obj` (and so the log) refuses is refused here too, before anything is
        # signed: a statement that cannot enter the log is never written.
        if not isinstance(self.predicate_type, str) or not self.predicate_type:
            raise FormatError("predicateType must be a non-empty string")

    def to_json_obj(self) -> dict[str, Any]:
        return {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": s.name, "digest": dict(s.digest)} for s in self.subjects],
            "predicateType": self.predicate_type,
            "predicate": dict(self.predicate),
        }

    def canonical(self) -> bytes:
        """RFC 8785 JSON: the payload bytes `attest` signs."""
        try:
            return jcs.dumps(self.to_json_obj())
        except (rfc8785.CanonicalizationError, UnicodeEncodeError) as e:
            raise FormatError(f"the statement has no RFC 8785 form: {e}") from None


def parse_subject_arg(text: str) -> Subject:
    """`NAME=ALG:HEX`, e.g. `model.safetensors=sha256:ab12...`."""
    name, sep, digest = text.rpartition("=")
    alg, colon, value = digest.partition(":")
    if not sep or not name or not colon:
        raise FormatError(f"subject {text!r} is not NAME=ALGORITHM:HEX")
    return Subject(name, _digest_set({alg: value}, f"subject {name!r}"))


def _digest_set(obj: object, where: str) -> dict[str, str]:
    if not isinstance(obj, dict) or not obj:
        raise FormatError(f"{where}: digest must be a non-empty object")
    out: dict[str, str] = {}
    for alg, value in obj.items():
        if not alg or not isinstance(value, str) or not _HEX.fullmatch(value):
            raise FormatError(f"{where}: digest {alg!r} must be a hex string")
        if alg in ("sha256", "sha512", "sha384") and len(value) * 4 != int(alg[3:]):
            raise FormatError(f"{where}: a {alg} digest has {int(alg[3:]) // 4} hex digits")
        out[alg] = value.lower()
    return out


def from_json_obj(obj: object) -> Statement:
    if not isinstance(obj, dict):
        raise FormatError("the statement must be a JSON object")
    if obj.get("_type") != STATEMENT_TYPE:
        raise FormatError(f"_type must be {STATEMENT_TYPE!r}, not {obj.get('_type')!r}")
    raw_subjects = obj.get("subject")
    if not isinstance(raw_subjects, list) or not raw_subjects:
        raise FormatError("the statement must name at least one subject")
    subjects: list[Subject] = []
    for i, s in enumerate(raw_subjects):
        if not isinstance(s, dict):
            raise FormatError(f"subject {i} is not an object")
        name = s.get("name", "")
        if not isinstance(name, str):
            raise FormatError(f"subject {i}: name must be a string")
        subjects.append(Subject(name, _digest_set(s.get("digest"), f"subject {i}")))
    predicate_type = obj.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise FormatError("predicateType must be a non-empty string")
    predicate = obj.get("predicate", {})
    if not isinstance(predicate, dict):
        raise FormatError("predicate must be a JSON object")
    return Statement(tuple(subjects), predicate_type, predicate)


def parse(payload: bytes) -> Statement:
    try:
        obj = untrusted_json.loads(payload)
    except untrusted_json.JsonInputError as e:
        raise FormatError(f"the statement: {e}") from None
    except ValueError as e:
        raise FormatError(f"the payload is not JSON: {e}") from None
    return from_json_obj(obj)
