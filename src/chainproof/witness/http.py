"""The tlog-witness HTTP interface of a `Witness`: `POST /add-checkpoint` (and `GET /` naming the
witness), served by a small threaded HTTP server; and `submit`, the client side, for a log or
any feeder that asks a witness to cosign.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from chainproof.errors import ChainproofError, FormatError, StoreError
from chainproof.witness import protocol
from chainproof.witness.cosignature import SignatureLine, parse_lines
from chainproof.witness.protocol import AddCheckpoint, WitnessRefusal
from chainproof.witness.witness import Witness

_MAX_BODY = 64 << 10


class _Handler(BaseHTTPRequestHandler):
    server: WitnessHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive, as tlog-witness asks of clients and witnesses
    # The headers and the body go out in two writes: with Nagle's algorithm the second waits for
    # the client's delayed ACK, 40 ms on Linux, the better part of every answer's time.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if self.path.rstrip("/") not in ("", "/healthz"):
            self._answer(404, b"not found\n")
            return
        witness = self.server.witness
        info = {"name": witness.signer.name, "vkey": witness.vkey, "logs": sorted(witness.state.logs())}
        self._answer(200, (json.dumps(info) + "\n").encode(), "application/json")

    def do_POST(self) -> None:
        if self.path != "/add-checkpoint":
            self._answer(404, b"not found\n")
            return
        length = self.headers.get("content-length", "")
        if not length.isdigit() or int(length) > _MAX_BODY:
            self._answer(400 if not length.isdigit() else 413, b"a body of at most 64 KiB is required\n")
            return
        data = self.rfile.read(int(length))
        try:
            cosignatures = self.server.witness.add_checkpoint(protocol.parse_add_checkpoint(data))
        except protocol.Conflict as e:
            self._answer(409, protocol.conflict_body(e.size), protocol.SIZE_CONTENT_TYPE)
            return
        except WitnessRefusal as e:
            self._answer(e.status, f"{e}\n".encode())
            return
        except ChainproofError as e:  # the state could not be read or written
            self._answer(503, f"{e}\n".encode())
            return
        self._answer(200, "".join(c.line() for c in cosignatures).encode("utf-8"))

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return  # the command reports what it does; no access log on stderr


class WitnessHTTPServer(ThreadingHTTPServer):
    """Serves `witness` on (host, port); port 0 picks a free one (see `port`)."""

    daemon_threads = True

    def __init__(self, witness: Witness, host: str = "127.0.0.1", port: int = 0) -> None:
        self.witness = witness
        try:
            super().__init__((host, port), _Handler)
        except OSError as e:
            raise StoreError(f"cannot serve the witness on {host}:{port}: {e.strerror}") from None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> threading.Thread:
        """Serve on a thread of its own (a daemon); `shutdown` stops it."""
        thread = threading.Thread(target=self.serve_forever, name="witness-http", daemon=True)
        thread.start()
        return thread


class Refused(ChainproofError):
    """A witness refused to cosign: `status` is its HTTP status, `size` its latest (on 409)."""

    def __init__(self, message: str, status: int, size: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.size = size


def submit(url: str, request: AddCheckpoint, *, client: httpx.Client | None = None) -> list[SignatureLine]:
    """Ask the witness at `url` (its submission prefix) to cosign; its cosignature lines, unchecked
    (check them with `cosignature.cosignatures_by`). Refused for any other answer than 200."""
    http = client or httpx.Client(timeout=30.0)
    try:
        response = http.post(url.rstrip("/") + "/add-checkpoint", content=request.to_body())
    except httpx.HTTPError as e:
        raise StoreError(f"{url}: {e}") from None
    finally:
        if client is None:
            http.close()
    if response.status_code == 409:
        size = protocol.parse_conflict_body(response.content)
        raise Refused(f"{url}: the witness is at tree size {size}", 409, size)
    if response.status_code != 200:
        text = response.text.strip()[:200]
        raise Refused(f"{url}: {response.status_code} {text}", response.status_code)
    try:
        return parse_lines(response.content.decode("utf-8"))
    except (UnicodeDecodeError, FormatError) as e:
        raise FormatError(f"{url}: the witness's answer is not signature lines ({e})") from None
