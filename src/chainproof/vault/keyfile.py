"""The vault master key's file: made with mode 0600, never over another file; read back."""

from __future__ import annotations

import os
from pathlib import Path

from chainproof.errors import UsageError
from chainproof.vault.crypto import MasterKey


def write_master_key(path: Path, key: MasterKey | None = None) -> MasterKey:
    """Make a master key file at `path` (mode 0600); UsageError if anything is there already."""
    key = key or MasterKey.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} exists: a vault key is never overwritten (choose another name)") from None
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(key.dumps())
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        path.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {e.strerror}") from None
    return key


def read_master_key(path: Path) -> MasterKey:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"cannot read the vault key {path}: no such file") from None
    except OSError as e:
        raise UsageError(f"cannot read the vault key {path}: {e.strerror}") from None
    return MasterKey.loads(data, str(path))
