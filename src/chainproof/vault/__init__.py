"""The data vault: datasets kept encrypted on a server, pulled back only under a live grant.

The library's entry points (the CLI's `data push`, `data pull` and `vault` commands call these):

- `push(url, key, path)` and `pull(url, key, artifact, directory)` (`chainproof.vault.transfer`):
  a dataset to and from a server's vault, everything the server says checked;
- `write_master_key(path)`, `read_master_key(path)` (`keyfile`): the server's master key file;
- `rotate(blobs, old, new)` (`datasets`): wrap every dataset key under a new master key;
- `open_blob_store(location, store_directory)` (`blobs`): the blob store, a directory or S3.

Formats: `crypto` (keys, wrapped keys, sealed blobs), `records` (the log entries a push and a
pull make). The server's side is `chainproof.server.vault`.
"""

from __future__ import annotations

from chainproof.vault.blobs import BlobNotFound, BlobStore, BlobStoreError, FileBlobStore, open_blob_store
from chainproof.vault.crypto import MasterKey, TamperedError
from chainproof.vault.datasets import rotate
from chainproof.vault.keyfile import read_master_key, write_master_key
from chainproof.vault.transfer import PullResult, PushResult, pull, push

__all__ = [
    "BlobNotFound",
    "BlobStore",
    "BlobStoreError",
    "FileBlobStore",
    "MasterKey",
    "PullResult",
    "PushResult",
    "TamperedError",
    "open_blob_store",
    "pull",
    "push",
    "read_master_key",
    "rotate",
    "write_master_key",
]
