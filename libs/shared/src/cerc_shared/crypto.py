"""Field encryption at rest: AES-256-GCM with named, rotatable keys.

A ciphertext names the key that sealed it (``v1:<key id>:<base64>``), so new
writes use the current key while old rows still open with retired ones until
they are re-sealed.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v1"


class FieldCipher:
    def __init__(self, keys: dict[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError(f"current key {current!r} is not among the configured keys")
        for kid, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"key {kid!r} must be 32 bytes (AES-256)")
            if ":" in kid:
                raise ValueError(f"key id {kid!r} must not contain ':'")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self._current = current

    @classmethod
    def from_setting(cls, spec: str, current: str) -> FieldCipher:
        """Parse ``"kid:base64key,kid2:base64key"`` as found in settings."""
        keys = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            kid, _, b64 = item.partition(":")
            keys[kid] = base64.b64decode(b64)
        return cls(keys, current)

    def seal(self, plaintext: str, *, context: str = "") -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self._current].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_VERSION}:{self._current}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, token: str, *, context: str = "") -> str:
        version, kid, b64 = token.split(":", 2)
        if version != _VERSION or kid not in self._keys:
            raise ValueError("ciphertext sealed with an unknown key")
        raw = base64.b64decode(b64)
        return self._keys[kid].decrypt(raw[:12], raw[12:], context.encode()).decode()

    def needs_reseal(self, token: str) -> bool:
        return token.split(":", 2)[1] != self._current
