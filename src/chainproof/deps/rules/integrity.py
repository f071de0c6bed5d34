"""Integrity: installed files against their RECORD, files nobody installed, wheels against RECORD.

- `record-mismatch`: a file whose bytes differ from the hash its installer recorded (modified after
  install); critical for a startup hook, which runs at every interpreter start.
- `record-missing`: a RECORD entry whose file is gone (or a wheel without RECORD).
- `orphan-file`: a file in site-packages that no RECORD or installed-files.txt owns, which is where
  malware drops persistence; judged by what the file is, and for a `.pth` by what it contains.

Only the judgement functions at the top look at bytes; the rules below feed them from the tree.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from chainproof._internal.text import plural
from chainproof.deps.files import MAX_FILE_BYTES, TargetKind, TreeError
from chainproof.deps.inventory import record_path
from chainproof.deps.model import Distribution, Finding, RecordEntry, Severity
from chainproof.deps.rules.base import Rule, ScanContext
from chainproof.deps.rules.parallel import worker_count

MISMATCH = "record-mismatch"
MISSING = "record-missing"
ORPHAN = "orphan-file"

_HASHES = frozenset(
    {"sha224", "sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s"}
)
"""Algorithms a RECORD may use; md5 and sha1 prove nothing and are not checked."""
_CODE_SUFFIXES = (".py", ".so", ".pyd", ".dll", ".dylib", ".pyc", ".pyo")
_STARTUP_NAMES = frozenset(
    {"sitecustomize.py", "usercustomize.py", "sitecustomize/__init__.py", "usercustomize/__init__.py"}
)
_VIRTUALENV_HOOK = "import _virtualenv"
"""The whole of virtualenv's and uv's `_virtualenv.pth`: it imports their path-fixing module."""
_VIRTUALENV_MODULE = '"""Patches that are applied at runtime to the virtual environment'
"""How virtualenv's and uv's `_virtualenv.py` begins; what it does is left to the code rules."""
_BENIGN_TOP_LEVEL = frozenset({"README.txt", "README"})
"""CPython's own marker file in a fresh site-packages directory."""


# --- pure judgements ----------------------------------------------------------------------------


def is_startup_hook(path: str) -> bool:
    """Files the interpreter runs at start-up: top-level `.pth` / `.start`, site/usercustomize."""
    return ("/" not in path and path.endswith((".pth", ".start"))) or path in _STARTUP_NAMES


def digest_matches(data: bytes, algorithm: str, digest: bytes) -> bool | None:
    """Whether `data` has `digest`; None when the algorithm is not one worth checking."""
    if algorithm not in _HASHES:
        return None
    return hashlib.new(algorithm, data).digest() == digest


def pth_exec_lines(text: str) -> list[tuple[int, str]]:
    """The lines of a `.pth` that `site` executes: those starting with `import` + space or tab."""
    return [
        (n, line.strip())
        for n, line in enumerate(text.splitlines(), start=1)
        if line.startswith(("import ", "import\t"))
    ]


def orphan_pth_severity(text: str) -> tuple[Severity, str]:
    """How bad an unowned `.pth` is, from what it executes."""
    lines = pth_exec_lines(text)
    if not lines:
        return Severity.LOW, "adds directories to sys.path but runs no code"
    if [line for _, line in lines] == [_VIRTUALENV_HOOK]:
        return Severity.LOW, "virtualenv's own start-up hook (imports _virtualenv)"
    return Severity.CRITICAL, "runs code at every interpreter start"


def orphan_severity(path: str) -> Severity:
    """An unowned file that is not a startup hook: code is worth a look, data barely."""
    if path.endswith(_CODE_SUFFIXES):
        return Severity.MEDIUM
    return Severity.LOW


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# --- installed RECORD verification --------------------------------------------------------------


@dataclass(frozen=True)
class _Claim:
    dist: Distribution
    entry: RecordEntry


def _claims(dists: Iterable[Distribution]) -> dict[str, list[_Claim]]:
    """Tree path -> every RECORD line that lists it (a path can be shared, e.g. namespace files)."""
    claims: dict[str, list[_Claim]] = defaultdict(list)
    for dist in dists:
        for entry in dist.record or ():
            path = record_path(dist, entry)
            if path is not None:
                claims[path].append(_Claim(dist, entry))
    return claims


def _verdict(data: bytes | None, size: int, claim: _Claim) -> str | None:
    """Why the file does not match one RECORD line, or None when it does (or cannot be checked)."""
    entry = claim.entry
    if entry.size is not None and entry.size != size:
        return f"size {size} bytes, RECORD says {entry.size}"
    if data is None or entry.algorithm is None or entry.digest is None:
        return None
    if digest_matches(data, entry.algorithm, entry.digest) is False:
        actual = hashlib.new(entry.algorithm, data).digest()
        return f"{entry.algorithm} {_b64(actual)[:16]}..., RECORD says {_b64(entry.digest)[:16]}..."
    return None


def _mismatch(ctx: ScanContext, path: str, claims: list[_Claim]) -> Finding | None:
    size = ctx.tree.size(path)
    hashed = any(c.entry.digest is not None for c in claims)
    # Files over the read limit are checked by size alone: hashing them would mean reading gigabytes.
    data = ctx.tree.read(path) if hashed and size <= MAX_FILE_BYTES else None
    verdicts = [_verdict(data, size, c) for c in claims]
    if any(v is None for v in verdicts):
        return None
    dist = claims[0].dist
    hook = is_startup_hook(path)
    severity = Severity.CRITICAL if hook else Severity.HIGH
    if "/__pycache__/" in f"/{path}" and path.endswith(".pyc"):
        severity = Severity.MEDIUM  # the interpreter rewrites its own caches
    what = "startup hook" if hook else "installed file"
    return Finding(
        MISMATCH,
        severity,
        dist.name,
        dist.version,
        path,
        None,
        f"{what} modified after install: it no longer matches {dist.name}'s RECORD",
        str(verdicts[0]),
    )


def _missing(path: str, claims: list[_Claim]) -> Finding | None:
    if path.endswith((".pyc", ".pyo")) or path.endswith("/RECORD"):
        return None  # caches come and go; RECORD does not list its own hash
    dist = claims[0].dist
    severity = Severity.MEDIUM if path.endswith(_CODE_SUFFIXES) or is_startup_hook(path) else Severity.LOW
    return Finding(
        MISSING,
        severity,
        dist.name,
        dist.version,
        path,
        None,
        f"listed in {dist.name}'s RECORD but missing from the environment",
    )


_UNREADABLE = "unreadable"
HASH_BATCH = 256
"""Files verified per task: tasks of one small file each would cost more to schedule than to hash."""


_Verdict = Finding | str | Exception | None
"""A finding, `_UNREADABLE`, None when the file matches, or what stopped the check of this file
(raised again where the verdict is taken, so a failure surfaces at the same file as without threads)."""


def _verify_batch(ctx: ScanContext, batch: list[tuple[str, list[_Claim]]]) -> list[_Verdict]:
    out: list[_Verdict] = []
    for path, claims in batch:
        try:
            out.append(_mismatch(ctx, path, claims))
        except TreeError:
            out.append(_UNREADABLE)
        except Exception as e:  # noqa: BLE001 - handed over to the consumer, which raises it again
            out.append(e)
    return out


def _verified(ctx: ScanContext, items: list[tuple[str, list[_Claim]]]) -> Iterator[_Verdict]:
    """`_verify_batch` over every item, in order, on as many threads as there are worker processes.

    Reading and hashing hold no lock on the interpreter (hashlib releases it on large buffers), so
    threads share the hundreds of megabytes of a real environment between the cores.
    """
    batches = [items[i : i + HASH_BATCH] for i in range(0, len(items), HASH_BATCH)]
    workers = min(worker_count(), len(batches))
    if workers <= 1:
        for batch in batches:
            yield from _verify_batch(ctx, batch)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for verdicts in pool.map(lambda batch: _verify_batch(ctx, batch), batches):
            yield from verdicts


def check_installed_record(ctx: ScanContext) -> Iterator[Finding]:
    """Every installed file against every RECORD line that lists it."""
    if ctx.tree.kind is not TargetKind.ENVIRONMENT:
        return
    present = set(ctx.tree.paths())
    links = {p for p, _ in ctx.tree.links()}
    unreadable: list[str] = []
    claimed = sorted(_claims(ctx.distributions).items())
    verdicts = _verified(ctx, [(path, claims) for path, claims in claimed if path in present])
    for path, claims in claimed:
        finding = None
        if path in present:
            verdict = next(verdicts)
            if isinstance(verdict, Exception):
                raise verdict
            if isinstance(verdict, str):
                unreadable.append(path)  # reported once, below, after every other file is checked
            elif isinstance(verdict, Finding):
                finding = verdict
        elif path not in links and not any(path.startswith(link + "/") for link in links):
            finding = _missing(path, claims)  # (a path reached through a link is never followed)
        if finding is not None:
            yield finding
    if unreadable:
        shown = ", ".join(unreadable[:5]) + (" ..." if len(unreadable) > 5 else "")
        count = plural(len(unreadable), "installed file")
        raise TreeError(f"{count} could not be read to verify them: {shown}")


# --- orphans ------------------------------------------------------------------------------------


def _under_metadata(path: str, metadata_dirs: frozenset[str]) -> bool:
    head = path.split("/", 1)[0]
    return head in metadata_dirs or head.endswith((".dist-info", ".egg-info"))


def _pyc_source(path: str) -> str | None:
    """`pkg/__pycache__/mod.cpython-311.pyc` -> `pkg/mod.py` (None for a pyc outside __pycache__)."""
    folder, name = posixpath.split(path)
    if posixpath.basename(folder) != "__pycache__" or not name.endswith(".pyc"):
        return None
    module = name.split(".", 1)[0]
    return posixpath.join(posixpath.dirname(folder), module + ".py")


def _unowned(
    severity: Severity, path: str, message: str, line: int | None = None, evidence: str = ""
) -> Finding:
    return Finding(ORPHAN, severity, None, None, path, line, message, evidence)


def _orphan_pth(ctx: ScanContext, path: str) -> Finding:
    text = ctx.tree.read(path).decode("utf-8", "replace")
    severity, why = orphan_pth_severity(text)
    lines = pth_exec_lines(text)
    line, evidence = lines[0] if lines else (None, "")
    return _unowned(severity, path, f"startup hook installed by no package: {why}", line, evidence[:200])


def _orphan(ctx: ScanContext, path: str, present: set[str]) -> Finding | None:
    source = _pyc_source(path)
    if (source is not None and source in present) or path in _BENIGN_TOP_LEVEL:
        return None  # a cache of source the scan sees anyway; CPython's own marker file
    if path.endswith(".pth") and "/" not in path:
        return _orphan_pth(ctx, path)
    if path == "_virtualenv.py":
        head = ctx.tree.read(path).lstrip().decode("utf-8", "replace")
        if head.startswith(_VIRTUALENV_MODULE):
            return _unowned(Severity.LOW, path, "virtualenv's runtime patches (no package owns it)")
    if is_startup_hook(path):
        severity = Severity.CRITICAL if path.endswith(".py") else Severity.HIGH
        return _unowned(
            severity, path, "startup hook installed by no package: it runs at every interpreter start"
        )
    if source is not None:
        return _unowned(Severity.MEDIUM, path, "compiled module with no source, installed by no package")
    return _unowned(
        orphan_severity(path), path, "file installed by no package (not in any RECORD or installed-files.txt)"
    )


def _group(findings: list[Finding], owned_tops: set[str]) -> Iterator[Finding]:
    """One finding per unowned top-level directory (a copied-in package), files elsewhere singly."""
    by_top: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        top = f.path.split("/", 1)[0]
        if "/" in f.path and top not in owned_tops and top != "__pycache__" and f.severity < Severity.HIGH:
            by_top[top].append(f)
        else:
            yield f
    for top, group in sorted(by_top.items()):
        worst = max(f.severity for f in group)
        yield Finding(
            ORPHAN,
            worst,
            None,
            None,
            top + "/",
            None,
            f"directory installed by no package ({len(group)} files)",
            group[0].path,
        )


def check_orphans(ctx: ScanContext) -> Iterator[Finding]:
    """Files in site-packages that no distribution claims."""
    if ctx.tree.kind is not TargetKind.ENVIRONMENT:
        return
    present = set(ctx.tree.paths())
    metadata_dirs = frozenset(d.metadata_dir for d in ctx.distributions)
    owned_tops = {p.split("/", 1)[0] for p in ctx.owners}
    found: list[Finding] = []
    for path in sorted(present):
        if path in ctx.owners or _under_metadata(path, metadata_dirs):
            continue
        try:
            finding = _orphan(ctx, path, present)
        except TreeError as e:
            finding = Finding(
                ORPHAN,
                Severity.HIGH if is_startup_hook(path) else Severity.MEDIUM,
                None,
                None,
                path,
                None,
                f"unowned file that cannot be read: {e}",
            )
        if finding is not None:
            found.append(finding)
    for link, target in ctx.tree.links():
        if is_startup_hook(link) and link not in ctx.owners:
            found.append(
                Finding(
                    ORPHAN,
                    Severity.HIGH,
                    None,
                    None,
                    link,
                    None,
                    "startup hook that is a symbolic link, installed by no package",
                    f"-> {target[:160]}",
                )
            )
    yield from _group(found, owned_tops)


# --- wheels -------------------------------------------------------------------------------------


def check_wheel_record(ctx: ScanContext) -> Iterator[Finding]:
    """A wheel's members against its RECORD: what pip installs must be what RECORD lists."""
    if ctx.tree.kind is not TargetKind.WHEEL or not ctx.distributions:
        return
    dist = ctx.distributions[0]
    if dist.record is None:
        yield Finding(
            MISSING,
            Severity.MEDIUM,
            dist.name,
            dist.version,
            dist.metadata_dir or ".",
            None,
            "the wheel has no RECORD: its contents cannot be checked (pip refuses such wheels)",
        )
        return
    claims = _claims([dist])
    members = set(ctx.tree.paths())
    for path in sorted(members):
        if path not in claims:
            if path != f"{dist.metadata_dir}/RECORD" and not path.endswith((".jws", ".p7s")):
                yield Finding(
                    MISMATCH,
                    Severity.HIGH,
                    dist.name,
                    dist.version,
                    path,
                    None,
                    "wheel member not listed in RECORD: installed unrecorded and unverified",
                )
            continue
        finding = _mismatch(ctx, path, claims[path])
        if finding is not None:
            yield Finding(
                MISMATCH,
                Severity.HIGH if finding.severity < Severity.HIGH else finding.severity,
                dist.name,
                dist.version,
                path,
                None,
                "wheel member does not match its RECORD line",
                finding.evidence,
            )
    for path in sorted(set(claims) - members):
        yield Finding(
            MISSING,
            Severity.MEDIUM,
            dist.name,
            dist.version,
            path,
            None,
            "listed in the wheel's RECORD but not in the archive",
        )


INTEGRITY_RULES: tuple[Rule, ...] = (check_installed_record, check_orphans, check_wheel_record)
