"""Where generated files are kept: a small interface, a local directory in
development, an S3-compatible bucket (boto3) when configured."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from reporting_service.settings import ReportingSettings


class ReportStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes:
        """The file's bytes; FileNotFoundError when there is none."""
        ...


def _checked(key: str) -> str:
    # Keys are made by the service (report-<id>/<name>); refuse anything that
    # could climb out of the store.
    if not key or key.startswith("/") or ".." in key.split("/"):
        raise ValueError(f"bad storage key {key!r}")
    return key


class LocalStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._put, _checked(key), data)

    def _put(self, key: str, data: bytes) -> None:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written whole, then renamed: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread((self.root / _checked(key)).read_bytes)


class S3Store:
    """An S3-compatible bucket through boto3 (blocking; run in a thread)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    @classmethod
    def from_settings(cls, settings: ReportingSettings) -> S3Store:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id or None,
            aws_secret_access_key=settings.s3_secret_access_key or None,
        )
        return cls(client, settings.s3_bucket, settings.s3_prefix)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(
            self._client.put_object,
            Bucket=self._bucket,
            Key=self._prefix + _checked(key),
            Body=data,
            ContentType=content_type,
        )

    async def get(self, key: str) -> bytes:
        def fetch() -> bytes:
            try:
                answer = self._client.get_object(
                    Bucket=self._bucket, Key=self._prefix + _checked(key)
                )
            except self._client.exceptions.NoSuchKey as exc:
                raise FileNotFoundError(key) from exc
            body: bytes = answer["Body"].read()
            return body

        return await asyncio.to_thread(fetch)


def store_from_settings(settings: ReportingSettings) -> ReportStore:
    if settings.s3_bucket:
        return S3Store.from_settings(settings)
    return LocalStore(settings.storage_dir)
