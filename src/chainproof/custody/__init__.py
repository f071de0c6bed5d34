"""The chain of custody: what the log's entries mean for datasets, models and the people who
touch them.

Here: dataset manifests (per-file digests under an RFC 9162 Merkle root), proofs that one file
belongs to a dataset, and diffs between two versions of a dataset (`manifests` holds the values
and the pure logic; `tree` reads a directory from disk); the hops and records of custody
(`hops`, `records`, `predicates`); environment capture (`environment`); and the service that
records and answers (`service.Custody`).
"""

from chainproof.custody.hashing import DatasetError, ProgressCallback
from chainproof.custody.manifests import (
    Change,
    EntryKind,
    FileEntry,
    FileProof,
    FileProofError,
    Manifest,
    ManifestDiff,
    ManifestError,
    diff,
    format_digest,
    parse_digest,
    prove,
    prove_all,
    verify_entry,
)
from chainproof.custody.tree import (
    artifact_digest,
    build,
    entry_for,
    file_sha256,
    load,
    verify_file,
)

__all__ = [
    "Change",
    "DatasetError",
    "EntryKind",
    "FileEntry",
    "FileProof",
    "FileProofError",
    "Manifest",
    "ManifestDiff",
    "ManifestError",
    "ProgressCallback",
    "artifact_digest",
    "build",
    "diff",
    "entry_for",
    "file_sha256",
    "format_digest",
    "load",
    "parse_digest",
    "prove",
    "prove_all",
    "verify_entry",
    "verify_file",
]
