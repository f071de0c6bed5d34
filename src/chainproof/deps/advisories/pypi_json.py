"""Known vulnerabilities of each release from PyPI's JSON API, as `pip-audit` asks by default.

`GET {base}/{name}/{version}/json` answers with a `vulnerabilities` list (OSV ids, aliases, summary,
details, `fixed_in`, withdrawn). Each answer is cached in the advisory database with the time it was
fetched and reused for `FRESH_SECONDS`; a scan fetches only releases it has no fresh answer for.
Nothing is fetched when `CHAINPROOF_OFFLINE` is set (`deps scan --offline` sets it), and the first
transport failure stops the fetching for the rest of the scan: a machine without a network waits
for one timeout at most, never for one per release. `CHAINPROOF_PYPI_JSON_URL` replaces the base URL
(a mirror, or a test's local server).

An answer becomes one OSV record per vulnerability, affecting exactly the release asked about; the
answers for several releases of a project are joined per id. A release the API does not list (404:
a private or removed package, or a mirror that does not serve this endpoint) has no answer: it is
not cached, and the summary counts it among the releases without vulnerability data.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from chainproof._internal import config, untrusted_json
from chainproof.deps.advisories.db import AdvisoryDB, open_db, open_existing
from chainproof.deps.advisories.osv import ECOSYSTEM, AdvisoryFormatError, OsvRecord, parse_record
from chainproof.errors import ChainproofError

PYPI_JSON = config.PYPI_JSON
BASE_ENV = config.PYPI_JSON_ENV
OFFLINE_ENV = config.OFFLINE_ENV
SOURCE = "PyPI JSON API"
FRESH_SECONDS = 24 * 3600.0
"""How long an answer is reused: advisories are published daily, not by the minute."""
TIMEOUT = 10.0
WORKERS = 8
"""Requests in flight at once: an environment of a few hundred releases is asked in seconds."""
MAX_ANSWER_BYTES = 32 << 20
"""A release page of the largest projects is a few MB (every file of the release is listed)."""


class UnreachableError(ChainproofError):
    """The API could not be asked (no network, a refused connection, a timeout)."""


@dataclass(frozen=True)
class Refresh:
    """What one refresh did: answers fetched now, answers still fresh, releases left unanswered."""

    fetched: int = 0
    cached: int = 0
    missing: int = 0
    offline: bool = False
    failure: str = ""


def offline() -> bool:
    return config.Settings().offline


def base_url() -> str:
    return config.Settings().pypi_json


def release_url(name: str, version: str, base: str | None = None) -> str:
    quote = urllib.parse.quote
    return f"{base or base_url()}/{quote(canonicalize_name(name))}/{quote(version, safe='')}/json"


def fetch(name: str, version: str, base: str | None = None, timeout: float = TIMEOUT) -> str | None:
    """The `vulnerabilities` list of one release, as JSON text; None when the API does not list it."""
    url = release_url(name, version, base)
    if not url.startswith(("https://", "http://")):
        raise UnreachableError(f"{url}: only http(s) URLs are asked")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked above
            data = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise UnreachableError(f"{url}: HTTP {e.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = e.reason if isinstance(e, urllib.error.URLError) else e
        raise UnreachableError(f"{url}: {reason}"[:300]) from None
    return vulnerabilities_text(data, url)


def resolvable(base: str) -> None:
    """UnreachableError when the API's host name does not resolve (no network, no DNS)."""
    parts = urllib.parse.urlsplit(base)
    try:
        socket.getaddrinfo(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError, ValueError) as e:
        raise UnreachableError(f"{base}: {e}"[:300]) from None


def vulnerabilities_text(data: bytes, url: str) -> str:
    if len(data) > MAX_ANSWER_BYTES:
        raise UnreachableError(f"{url}: an answer larger than {MAX_ANSWER_BYTES} bytes")
    try:
        page = untrusted_json.loads(data, unique_keys=False)
    except (ValueError, RecursionError):
        raise UnreachableError(f"{url}: not a JSON answer") from None
    vulns = page.get("vulnerabilities") if isinstance(page, dict) else None
    if not isinstance(vulns, list):
        raise UnreachableError(f"{url}: no `vulnerabilities` list in the answer")
    return json.dumps(vulns, sort_keys=True)


# -- answers as OSV records ----------------------------------------------------------------------


def records(name: str, answers: Iterable[tuple[str, str]]) -> list[OsvRecord]:
    """OSV records from the cached answers `(version, vulnerabilities JSON)` of one project: one per
    id, affecting every version whose answer lists it. Entries that are not vulnerabilities are
    skipped: the API is outside input."""
    versions: dict[str, list[str]] = {}
    first: dict[str, dict[str, object]] = {}
    for version, text in answers:
        for vuln in json.loads(text):
            if isinstance(vuln, dict) and isinstance(vuln.get("id"), str) and vuln["id"]:
                first.setdefault(vuln["id"], vuln)
                versions.setdefault(vuln["id"], []).append(version)
    out = []
    for vid, vuln in first.items():
        try:
            out.append(parse_record(_osv(name, vuln, versions[vid]), f"{SOURCE} {name}"))
        except AdvisoryFormatError:
            continue
    return out


def _osv(name: str, vuln: dict[str, object], versions: Sequence[str]) -> dict[str, object]:
    details = vuln.get("details") if isinstance(vuln.get("details"), str) else ""
    summary = vuln.get("summary") if isinstance(vuln.get("summary"), str) else ""
    return {
        "id": vuln["id"],
        "aliases": vuln.get("aliases") or [],
        # PyPI often leaves `summary` empty; the first line of the details stands in.
        "summary": summary or str(details).strip().split("\n", 1)[0][:200],
        "details": details,
        "withdrawn": vuln.get("withdrawn") or None,
        "affected": [{"package": {"ecosystem": ECOSYSTEM, "name": name}, "versions": list(versions)}],
    }


# -- refreshing the cache ------------------------------------------------------------------------


def refresh(
    releases: Iterable[tuple[str, str]], db_path: Path | None = None, *, now: float | None = None
) -> Refresh:
    """Ask the API about every (name, version) without a fresh answer in the database, and store
    the answers. Offline, nothing is asked; a database is created only to store an answer."""
    wanted = sorted({(canonicalize_name(n), v) for n, v in releases if n and v})
    if not wanted:
        return Refresh()
    now = time.time() if now is None else now
    if offline():
        return Refresh(missing=len(wanted), offline=True)
    reader = open_existing(db_path)
    if reader is None:
        stale = wanted
    else:
        with closing(reader):
            stale = [(k, v) for k, v in wanted if not _fresh(reader, k, v, now)]
    answers, failure = _ask(stale)
    if answers:
        with closing(open_db(db_path)) as db:
            db.store_pypi_answers([(k, v, now, text) for (k, v), text in answers.items()])
    cached = len(wanted) - len(stale)
    return Refresh(len(answers), cached, len(stale) - len(answers), failure=failure)


def _fresh(db: AdvisoryDB, key: str, version: str, now: float) -> bool:
    answer = db.pypi_answer(key, version)
    return answer is not None and now - answer[0] < FRESH_SECONDS


def _ask(releases: Sequence[tuple[str, str]]) -> tuple[dict[tuple[str, str], str], str]:
    """Answers for as many releases as could be asked; the first failure, which stops the rest."""
    answers: dict[tuple[str, str], str] = {}
    if not releases:
        return answers, ""
    base = base_url()
    # One request first: without a network it fails alone, instead of once per release; and a
    # name that does not resolve fails before any TLS set-up is paid for.
    try:
        resolvable(base)
        first = fetch(*releases[0], base)
    except UnreachableError as e:
        return answers, str(e)
    if first is not None:
        answers[releases[0]] = first
    failure = ""
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = {r: pool.submit(_try, r, base) for r in releases[1:]}
        for release, future in futures.items():
            text, error = future.result()
            if text is not None:
                answers[release] = text
            failure = failure or error
    return answers, failure


def _try(release: tuple[str, str], base: str) -> tuple[str | None, str]:
    try:
        return fetch(*release, base), ""
    except UnreachableError as e:
        return None, str(e)
