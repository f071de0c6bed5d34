"""A package index client: the project pages of the Simple Repository API, and downloads.

Pages are asked for as PEP 691 JSON, which carries PEP 700 upload times (what a release-age
cooldown needs) and PEP 592 yank marks; an index that answers in PEP 503 HTML is read too, without
upload times. Downloads are checked against the index's sha256 before anyone looks at them.
Parsing is pure (`parse_json_page`, `parse_html_page`, `best_file`); fetching is the rest.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

from packaging.tags import Tag, sys_tags
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from chainproof._internal import config, untrusted_json
from chainproof.errors import ChainproofError, UsageError, VerificationError

PYPI_SIMPLE = config.PYPI_SIMPLE
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
TIMEOUT = 60.0
MAX_PAGE_BYTES = 64 << 20
"""Project pages of the largest PyPI projects are a few MB; anything past this is not an index."""
MAX_DOWNLOAD_BYTES = 2 << 30


class IndexUnavailable(ChainproofError):
    """The index could not be reached or answered with something that is not a project page."""


class IntegrityError(VerificationError):
    """A download's bytes do not match the hash the index or the resolver announced."""


def default_index() -> str:
    """The index pip would use: `PIP_INDEX_URL`, else PyPI."""
    return config.Settings().pip_index


@dataclass(frozen=True)
class IndexFile:
    """One file of a project page."""

    filename: str
    url: str
    hashes: Mapping[str, str] = field(default_factory=dict)
    upload_time: datetime | None = None
    yanked: str | None = None
    """None when not yanked; the reason (possibly empty) when it is."""
    requires_python: str | None = None
    size: int | None = None

    @property
    def sha256(self) -> str | None:
        return self.hashes.get("sha256")

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")

    def name_version(self) -> tuple[str, str] | None:
        """The normalised project name and version the filename declares; None for other files."""
        try:
            if self.is_wheel:
                name, version, _, _ = parse_wheel_filename(self.filename)
            else:
                name, version = parse_sdist_filename(self.filename)
        except (InvalidWheelFilename, InvalidSdistFilename):
            return None
        return str(name), str(version)

    def tags(self) -> frozenset[Tag]:
        if not self.is_wheel:
            return frozenset()
        try:
            return parse_wheel_filename(self.filename)[3]
        except InvalidWheelFilename:
            return frozenset()


@dataclass(frozen=True)
class Project:
    """What one index serves for one project."""

    index: str
    name: str
    files: tuple[IndexFile, ...]

    def versions(self) -> tuple[str, ...]:
        """Every valid version with at least one file, oldest first."""
        found = {Version(nv[1]) for f in self.files if (nv := f.name_version()) is not None}
        return tuple(str(v) for v in sorted(found))

    def release(self, version: str) -> list[IndexFile]:
        wanted = canonicalize_version(version)
        return [f for f in self.files if (nv := f.name_version()) and canonicalize_version(nv[1]) == wanted]

    def file(self, filename: str) -> IndexFile | None:
        return next((f for f in self.files if f.filename == filename), None)


# --- parsing (pure) ----------------------------------------------------------------------------


def _time(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _yanked(value: object) -> str | None:
    if value is True:
        return ""
    if isinstance(value, str):
        return value
    return None


def parse_json_page(data: bytes, page_url: str) -> list[IndexFile]:
    """The files of a PEP 691 JSON project page; relative URLs resolved against `page_url`."""
    try:
        page = untrusted_json.loads(data, unique_keys=False)
        files = page["files"]
    except (ValueError, KeyError, TypeError) as e:
        raise IndexUnavailable(f"{page_url}: not a PEP 691 project page ({type(e).__name__})") from None
    if not isinstance(files, list):
        raise IndexUnavailable(f"{page_url}: not a PEP 691 project page (files is not a list)")
    return [f for f in (_json_file(item, page_url) for item in files) if f is not None]


def _json_file(item: object, page_url: str) -> IndexFile | None:
    if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
        return None
    if not isinstance(item.get("url"), str):
        return None
    hashes = item.get("hashes")
    size = item.get("size")
    rp = item.get("requires-python")
    return IndexFile(
        filename=item["filename"],
        url=urllib.parse.urljoin(page_url, item["url"]),
        hashes={k: v.lower() for k, v in hashes.items() if isinstance(v, str)}
        if isinstance(hashes, dict)
        else {},
        upload_time=_time(item.get("upload-time")),
        yanked=_yanked(item.get("yanked")),
        requires_python=rp if isinstance(rp, str) else None,
        size=size if isinstance(size, int) else None,
    )


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[dict[str, str | None], list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.found.append((dict(attrs), []))

    def handle_data(self, data: str) -> None:
        if self.found:
            self.found[-1][1].append(data)


def parse_html_page(text: str, page_url: str) -> list[IndexFile]:
    """The files of a PEP 503 HTML project page (hash from the URL fragment, PEP 592 yanks)."""
    parser = _Anchors()
    parser.feed(text)
    files = []
    for attrs, _ in parser.found:
        href = attrs.get("href")
        if not href:
            continue
        url, _, fragment = urllib.parse.urljoin(page_url, href).partition("#")
        algorithm, _, digest = fragment.partition("=")
        filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
        files.append(
            IndexFile(
                filename=filename,
                url=url,
                hashes={algorithm: digest.lower()} if algorithm and digest else {},
                yanked=attrs["data-yanked"] or "" if "data-yanked" in attrs else None,
                requires_python=attrs.get("data-requires-python"),
            )
        )
    return files


def best_file(files: Iterable[IndexFile], tags: Iterable[Tag] | None = None) -> IndexFile | None:
    """The file an installer on this interpreter would take: the best-ranked compatible wheel,
    else the sdist. Yanked files lose to any that are not."""
    ranking = {tag: rank for rank, tag in enumerate(sys_tags() if tags is None else tags)}

    def rank(f: IndexFile) -> int | None:
        if f.is_wheel:
            return min((ranking[t] for t in f.tags() if t in ranking), default=None)
        return len(ranking) if f.name_version() is not None else None

    ranked = [((f.yanked is not None, r), f) for f in files if (r := rank(f)) is not None]
    return min(ranked, key=lambda kf: kf[0])[1] if ranked else None


# --- fetching ----------------------------------------------------------------------------------


def project_url(index_url: str, name: str) -> str:
    return f"{index_url.rstrip('/')}/{canonicalize_name(name)}/"


def _check_scheme(url: str) -> None:
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise UsageError(f"unsupported index URL {url!r}: use http(s)")


def _reason(e: BaseException) -> str:
    if isinstance(e, urllib.error.URLError) and not isinstance(e, urllib.error.HTTPError):
        e = e.reason if isinstance(e.reason, BaseException) else e
    text = str(e).splitlines()[0] if str(e) else ""
    return (text or type(e).__name__)[:200]


def fetch_project(name: str, index_url: str | None = None, timeout: float = TIMEOUT) -> Project | None:
    """The project page of `name` on the index; None when the index does not have the project."""
    index = index_url or default_index()
    url = project_url(index, name)
    _check_scheme(url)
    request = urllib.request.Request(url, headers={"Accept": ACCEPT, "User-Agent": "chainproof"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked above
            body = response.read(MAX_PAGE_BYTES + 1)
            content_type = response.headers.get_content_type()
            final_url = response.geturl()
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise IndexUnavailable(f"{url}: the index answered HTTP {e.code}") from None
    except (OSError, ValueError) as e:
        raise IndexUnavailable(f"cannot reach the index for {name!r} at {url}: {_reason(e)}") from None
    if len(body) > MAX_PAGE_BYTES:
        raise IndexUnavailable(f"{url}: project page larger than {MAX_PAGE_BYTES} bytes; refusing")
    if content_type in {JSON_TYPE, "application/json"}:
        files = parse_json_page(body, final_url)
    else:
        files = parse_html_page(body.decode("utf-8", "replace"), final_url)
    return Project(index=index, name=str(canonicalize_name(name)), files=tuple(files))


def _chunks(url: str, timeout: float) -> Iterator[bytes]:
    if url.startswith("file://"):
        # A file pip's own configuration found locally (--find-links, a mirror): read in place.
        yield from _local_chunks(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
        return
    _check_scheme(url)
    request = urllib.request.Request(url, headers={"User-Agent": "chainproof"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked above
            while chunk := response.read(1 << 20):
                yield chunk
    except urllib.error.HTTPError as e:
        raise IndexUnavailable(f"{url}: HTTP {e.code}") from None
    except (OSError, ValueError) as e:
        raise IndexUnavailable(f"cannot download {url}: {_reason(e)}") from None


def _local_chunks(path: str) -> Iterator[bytes]:
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk
    except OSError as e:
        raise IndexUnavailable(f"cannot read {path}: {e.strerror}") from None


def download(url: str, dest_dir: Path, filename: str, sha256: str | None, timeout: float = TIMEOUT) -> Path:
    """Download `url` (http(s), or file:// for a local mirror) to `dest_dir/filename`; raises
    IntegrityError if the bytes miss `sha256`.

    The file appears under its name only once its hash has been checked, so a half-written or
    substituted download is never left where a later step could pick it up.
    """
    if "/" in filename or filename in ("", ".", ".."):
        raise UsageError(f"refusing to download to an unsafe file name {filename!r}")
    target = dest_dir / filename
    partial = dest_dir / f".{filename}.part"
    digest = hashlib.sha256()
    total = 0
    try:
        with open(partial, "wb") as out:
            for chunk in _chunks(url, timeout):
                total += len(chunk)
                if total > MAX_DOWNLOAD_BYTES:
                    raise IndexUnavailable(f"{url}: larger than {MAX_DOWNLOAD_BYTES} bytes; refusing")
                digest.update(chunk)
                out.write(chunk)
        if sha256 is not None and digest.hexdigest() != sha256.lower():
            raise IntegrityError(
                f"{filename}: sha256 {digest.hexdigest()} does not match the announced {sha256.lower()}"
            )
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def download_release(name: str, version: str, dest: Path, index_url: str | None = None) -> Path:
    """Download the artifact of `name==version` this interpreter would install (a compatible wheel,
    else the sdist), checked against the index's sha256."""
    project = fetch_project(name, index_url)
    if project is None:
        raise UsageError(f"{name!r} is not on the index {index_url or default_index()}")
    chosen = best_file(project.release(version))
    if chosen is None:
        raise UsageError(f"{name} {version}: no wheel for this interpreter nor sdist on {project.index}")
    return download(chosen.url, dest, chosen.filename, chosen.sha256)
