"""The top-level API table (`chainproof.__init__`): its three lists agree, and the calls added for
binding proofs and signing statements are the library's own functions."""

from __future__ import annotations

import ast
from pathlib import Path

import chainproof
from chainproof.attest import signing
from chainproof.log import binding


def test_every_export_is_listed_and_every_listed_name_is_exported() -> None:
    assert set(chainproof.__all__) == set(chainproof._EXPORTS) | {"__version__"}
    assert chainproof.__all__ == sorted(chainproof.__all__)


def test_the_type_checking_imports_name_every_export() -> None:
    """mypy reads the names from the TYPE_CHECKING block; one missing there is `Any` to a user."""
    tree = ast.parse(Path(chainproof.__file__).read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    imported = {
        (a.asname or a.name): (node.module, a.name)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for a in node.names
    }
    expected = {
        name: (module, chainproof._RENAMED.get(name, name)) for name, module in chainproof._EXPORTS.items()
    }
    assert imported == expected


def test_binding_and_signing_are_exported() -> None:
    assert chainproof.bind_proof is binding.bind
    assert chainproof.verify_proof is binding.verify_proof
    assert chainproof.BoundProof is binding.Bound
    assert chainproof.sign_attestation is signing.sign_attestation
    assert chainproof.sign_statement is signing.sign_statement
    assert chainproof.Attestation is signing.Attestation
