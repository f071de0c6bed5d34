"""A package index on 127.0.0.1 for the gate's tests: PEP 691 JSON with PEP 700 upload times for
clients that ask for it (chainproof, recent pip), PEP 503 HTML otherwise, and the files themselves.

Projects are added with `LocalIndex.add`; upload times and yanks are whatever the test says, so a
cooldown can be tested without waiting. Several indexes can run side by side (dependency
confusion).
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from deps_support import Files, make_sdist, make_wheel
from packaging.utils import canonicalize_name

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


@dataclass
class Hosted:
    path: Path
    uploaded: datetime
    yanked: str | None = None
    announced_sha256: str | None = None
    """Overrides the page's hash, for a file whose bytes do not match what the index says."""

    @property
    def sha256(self) -> str:
        return self.announced_sha256 or hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass
class LocalIndex:
    root: Path
    projects: dict[str, list[Hosted]] = field(default_factory=dict)
    json_pages: bool = True
    """False: serve only PEP 503 HTML (no upload times), as a plain static index would."""
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/simple/"

    def add(
        self,
        name: str,
        version: str,
        files: Files,
        age: timedelta = timedelta(days=30),
        yanked: str | None = None,
        requires: tuple[str, ...] = (),
        sdist: bool = False,
    ) -> Hosted:
        where = self.root / "files"
        where.mkdir(parents=True, exist_ok=True)
        path = (
            make_sdist(where, name, version, files)
            if sdist
            else make_wheel(where, name, version, files, requires)
        )
        hosted = Hosted(path, datetime.now(UTC) - age, yanked)
        self.projects.setdefault(str(canonicalize_name(name)), []).append(hosted)
        return hosted

    def page_json(self, name: str) -> bytes:
        files = [
            {
                "filename": h.path.name,
                "url": f"../../files/{h.path.name}",
                "hashes": {"sha256": h.sha256},
                "upload-time": h.uploaded.isoformat().replace("+00:00", "Z"),
                "yanked": h.yanked if h.yanked else (h.yanked is not None),
                "size": h.path.stat().st_size,
            }
            for h in self.projects[name]
        ]
        return json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": files}).encode()

    def page_html(self, name: str) -> bytes:
        links = []
        for h in self.projects[name]:
            yanked = "" if h.yanked is None else f' data-yanked="{html.escape(h.yanked)}"'
            links.append(f'<a href="../../files/{h.path.name}#sha256={h.sha256}"{yanked}>{h.path.name}</a>')
        return ("<!DOCTYPE html><html><body>" + "<br>".join(links) + "</body></html>").encode()


def _handler(index: LocalIndex) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if len(parts) == 2 and parts[0] == "simple" and parts[1] in index.projects:
                wants_json = index.json_pages and JSON_TYPE in self.headers.get("Accept", "")
                body = index.page_json(parts[1]) if wants_json else index.page_html(parts[1])
                self._send(200, JSON_TYPE if wants_json else "text/html", body)
            elif len(parts) == 2 and parts[0] == "files" and (index.root / "files" / parts[1]).is_file():
                self._send(200, "application/octet-stream", (index.root / "files" / parts[1]).read_bytes())
            else:
                self._send(404, "text/plain", b"not found")

        def _send(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def serve(root: Path, json_pages: bool = True) -> Iterator[LocalIndex]:
    """Run a LocalIndex in a thread for the duration of a fixture."""
    index = LocalIndex(root, json_pages=json_pages)
    index.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(index))
    thread = threading.Thread(target=index.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield index
    finally:
        index.server.shutdown()
        index.server.server_close()
