"""Files written whole or not at all."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from chainproof.errors import UsageError


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same directory, renamed into place
    once it is on disk: a reader sees the old file or the whole new one, never a part. The file is
    created as `open` would create it (the umask applies): these are reports and manifests, not keys."""
    directory = path.parent if str(path.parent) else Path()
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
