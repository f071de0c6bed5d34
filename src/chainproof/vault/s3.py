"""The vault's S3-compatible blob store (boto3; the `s3` extra): for teams whose servers share
object storage rather than one machine's disk.

Configured by a URL, `s3://bucket/prefix` (env `CHAINPROOF_VAULT_BLOBS` for the server, `--blobs`
for `vault rotate`); the endpoint of a store other than AWS (MinIO, Ceph, ...) from env
`AWS_ENDPOINT_URL`, credentials and region as boto3 finds them (env `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`, a profile, an instance role). The bucket must
exist. Large objects are uploaded in parts (boto3's multipart transfer) and read as streams, so
memory stays flat whatever their size.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chainproof.vault.blobs import BlobNotFound, BlobStore, BlobStoreError, Readable, check_name

_MISSING = ("404", "NoSuchKey", "NotFound")


class S3BlobStore(BlobStore):
    def __init__(
        self, bucket: str, prefix: str = "", *, client: Any = None, endpoint_url: str | None = None
    ) -> None:
        if not bucket:
            raise BlobStoreError("an S3 blob store needs a bucket: s3://BUCKET/PREFIX")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.location = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        if client is None:
            try:
                import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 -- the s3 extra, for S3 only
            except ImportError:
                raise BlobStoreError(
                    "an S3 blob store needs boto3: install chainproof with the s3 extra (chainproof[s3])"
                ) from None
            client = boto3.client(
                "s3", endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
            )
        self._s3 = client

    @classmethod
    def from_url(cls, url: str) -> S3BlobStore:
        rest = url.removeprefix("s3://")
        bucket, _, prefix = rest.partition("/")
        return cls(bucket, prefix)

    def _key(self, name: str) -> str:
        check_name(name)
        return f"{self.prefix}/{name}" if self.prefix else name

    def _failed(self, what: str, e: Exception) -> BlobStoreError:
        code = _code(e)
        if code in _MISSING:
            return BlobNotFound(f"no blob {what} in {self.location}")
        return BlobStoreError(f"{self.location}: cannot {what}: {code or type(e).__name__}: {_short(e)}")

    def put_file(self, name: str, source: Path) -> None:
        try:
            self._s3.upload_file(str(source), self.bucket, self._key(name))
        except Exception as e:  # noqa: BLE001 -- botocore's and s3transfer's errors, one family here
            raise self._failed(f"store {name}", e) from None
        source.unlink()

    def put_bytes(self, name: str, data: bytes) -> None:
        try:
            self._s3.put_object(Bucket=self.bucket, Key=self._key(name), Body=data)
        except Exception as e:  # noqa: BLE001
            raise self._failed(f"store {name}", e) from None

    def get_bytes(self, name: str) -> bytes:
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=self._key(name))["Body"]
            try:
                return bytes(body.read())
            finally:
                body.close()
        except Exception as e:  # noqa: BLE001
            raise self._failed(f"read {name}" if _code(e) not in _MISSING else name, e) from None

    def size(self, name: str) -> int | None:
        try:
            return int(self._s3.head_object(Bucket=self.bucket, Key=self._key(name))["ContentLength"])
        except Exception as e:  # noqa: BLE001
            if _code(e) in _MISSING:
                return None
            raise self._failed(f"read {name}", e) from None

    def open(self, name: str, offset: int = 0) -> Readable:
        extra = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            body: Readable = self._s3.get_object(Bucket=self.bucket, Key=self._key(name), **extra)["Body"]
        except Exception as e:  # noqa: BLE001
            if _code(e) == "InvalidRange":
                return io.BytesIO(b"")  # at or past the end: nothing more to read
            raise self._failed(f"read {name}" if _code(e) not in _MISSING else name, e) from None
        return body

    def delete(self, name: str) -> None:
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=self._key(name))
        except Exception as e:  # noqa: BLE001
            if _code(e) not in _MISSING:
                raise self._failed(f"delete {name}", e) from None

    def names(self, prefix: str = "") -> Iterator[str]:
        start = f"{self.prefix}/" if self.prefix else ""
        try:
            pages = self._s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start + prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield str(item["Key"])[len(start) :]
        except Exception as e:  # noqa: BLE001
            raise self._failed("list the blobs", e) from None

    def close(self) -> None:
        close = getattr(self._s3, "close", None)
        if callable(close):
            close()


def _code(e: Exception) -> str:
    response = getattr(e, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _short(e: Exception) -> str:
    return str(e).splitlines()[0][:200] if str(e) else ""
