"""Where community documents live: a small interface, a local folder by default.

Keys are opaque relative paths chosen by the service (community id, kind and a
content hash), never names the client sent, so nothing outside the folder can
be reached. Another backend (an object store) only has to implement
:class:`DocumentStorage`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from starlette.concurrency import run_in_threadpool

_KEY = re.compile(r"^[0-9]+/[a-z]+-[0-9a-f]{16,64}\.[a-z]{3,4}$")


class DocumentStorage(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes | None: ...


class LocalFolderStorage:
    def __init__(self, root: str | Path) -> None:
        self._root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self._root / key

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader never sees half a document.
        partial = path.with_suffix(path.suffix + ".partial")
        partial.write_bytes(data)
        partial.replace(path)

    def _read(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.exists() else None

    async def put(self, key: str, data: bytes) -> None:
        await run_in_threadpool(self._write, key, data)

    async def get(self, key: str) -> bytes | None:
        return await run_in_threadpool(self._read, key)
