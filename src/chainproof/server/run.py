"""Running the server: uvicorn, one process or several, with a JSON access log on stderr."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from chainproof.log import location
from chainproof.log.service import TransparencyLog
from chainproof.server.app import create_app
from chainproof.server.service import server_key
from chainproof.server.settings import ServerSettings

_SETTINGS_ENV = "CHAINPROOF_SERVER_SETTINGS"  # how the settings reach uvicorn's worker processes


def serve(settings: ServerSettings, *, host: str = "127.0.0.1", port: int = 8080, workers: int = 1) -> None:
    """Serve `settings.store` until SIGINT or SIGTERM; then stop taking requests, finish those in
    flight (their appends included), and close the store."""
    log = TransparencyLog.open(settings.store)
    try:  # before any worker starts: they would race to register a first key
        server_key(log, settings.key)
    finally:
        log.close()
    _log_to_stderr()
    os.environ[_SETTINGS_ENV] = json.dumps(_settings_json(settings))
    uvicorn.run(
        "chainproof.server.run:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # ours is one JSON line per request, with the signer
        log_config=None,
        timeout_graceful_shutdown=30,
        timeout_keep_alive=5,
    )


def app_from_environment() -> FastAPI:
    """The application of one worker process, from the settings `serve` left in its environment."""
    _log_to_stderr()
    raw = json.loads(os.environ[_SETTINGS_ENV])
    raw["store"] = raw["store"] if location.is_postgres(raw["store"]) else Path(raw["store"])
    for name in ("key", "checkpoint_key", "vault_key"):
        raw[name] = Path(raw[name]) if raw[name] else None
    raw["witnesses"] = tuple(raw["witnesses"])
    return create_app(ServerSettings(**raw))


def _settings_json(settings: ServerSettings) -> dict[str, object]:
    raw = dataclasses.asdict(settings)
    store = settings.store
    raw["store"] = store if isinstance(store, str) else str(store.resolve())
    for name in ("key", "checkpoint_key", "vault_key"):
        path = getattr(settings, name)
        raw[name] = str(path.resolve()) if path else None
    return raw


def _log_to_stderr() -> None:
    """The access log (JSON lines) and the server's own messages, on stderr, once."""
    for name, fmt in (("chainproof.access", "%(message)s"), ("chainproof.server", "chainproof: %(message)s")):
        logger = logging.getLogger(name)
        if logger.handlers:
            continue
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(fmt))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    uv = logging.getLogger("uvicorn.error")
    if not uv.handlers:
        uv.addHandler(logging.StreamHandler(sys.stderr))
        uv.setLevel(logging.INFO)
