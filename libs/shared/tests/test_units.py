"""Pure units of libs/shared: field encryption with key rotation, the refusal
of development keys, the envelope's error format."""

from __future__ import annotations

import base64
import logging
import os

import httpx
import pytest
from cerc_shared.crypto import FieldCipher
from cerc_shared.envelope import ApiError, install_error_handlers
from cerc_shared.logging import configure_logging
from cerc_shared.settings import ServiceSettings
from cryptography.exceptions import InvalidTag
from fastapi import FastAPI, Query
from pydantic import BaseModel, Field


def _key(byte: bytes) -> str:
    return base64.b64encode(byte * 32).decode()


def test_cipher_rotation_keeps_old_rows_readable() -> None:
    old = FieldCipher.from_setting(f"k1:{_key(b'a')}", "k1")
    sealed = old.seal("RSSMRA80A01H501U", context="member:7")
    assert "RSSMRA80A01H501U" not in sealed
    rotated = FieldCipher.from_setting(f"k1:{_key(b'a')},k2:{_key(b'b')}", "k2")
    assert rotated.open(sealed, context="member:7") == "RSSMRA80A01H501U"
    assert rotated.needs_reseal(sealed)
    resealed = rotated.seal("RSSMRA80A01H501U", context="member:7")
    assert not rotated.needs_reseal(resealed) and resealed.split(":")[1] == "k2"


def test_cipher_refuses_tampering_wrong_context_and_retired_keys() -> None:
    cipher = FieldCipher.from_setting(f"k1:{_key(b'a')}", "k1")
    sealed = cipher.seal("IT60X0542811101000000123456", context="member:1")
    with pytest.raises(InvalidTag):
        cipher.open(sealed, context="member:2")  # moved to another row
    head, body = sealed.rsplit(":", 1)
    flipped = base64.b64encode(bytes([base64.b64decode(body)[0] ^ 1]) + base64.b64decode(body)[1:])
    with pytest.raises(InvalidTag):
        cipher.open(f"{head}:{flipped.decode()}", context="member:1")
    retired = FieldCipher.from_setting(f"k9:{_key(b'z')}", "k9")
    with pytest.raises(ValueError, match="unknown key"):
        retired.open(sealed, context="member:1")
    with pytest.raises(ValueError, match="32 bytes"):
        FieldCipher({"short": b"x" * 16}, "short")


def test_development_keys_refused_outside_development() -> None:
    dsn = "postgresql+asyncpg://svc:svc_dev@db/x"
    assert ServiceSettings(environment="test", database_url=dsn).database_url == dsn
    with pytest.raises(ValueError, match="development keys are not allowed in production"):
        ServiceSettings(environment="production", database_url=dsn)
    real = "postgresql+asyncpg://svc:s3cr3t@db/x"
    assert ServiceSettings(environment="production", database_url=real).environment == "production"


def test_a_service_without_an_environment_runs_as_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 12, item 11: development is asked for, never assumed."""
    for name in [n for n in os.environ if n.endswith("ENVIRONMENT")]:
        monkeypatch.delenv(name)
    assert ServiceSettings(database_url="postgresql+asyncpg://svc:s3cr3t@db/x").environment == (
        "production"
    )
    with pytest.raises(ValueError, match="development keys are not allowed in production"):
        ServiceSettings(database_url="postgresql+asyncpg://svc:svc_dev@db/x")


class Body(BaseModel):
    pod: str = Field(pattern=r"^IT\d{3}E\d{8}[A-Z]?$")
    items: list[int]


async def test_errors_use_the_envelope_with_field_and_expected() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things/")
    async def create(body: Body, page: int = Query(ge=1)) -> dict[str, str]:
        if body.pod == "IT001E00000000":
            raise ApiError(409, "pod_taken", "POD already registered", field="pod")
        return {"ok": "yes"}

    @app.get("/boom/")
    async def boom() -> None:
        raise RuntimeError("secret detail")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        bad = await client.post("/things/?page=0", json={"pod": "XX", "items": [1, "a"]})
        assert bad.status_code == 422
        errors = {e["field"]: e for e in bad.json()["errors"]}
        assert set(errors) == {"pod", "items.1", "page"}
        assert errors["pod"]["expected"] == r"^IT\d{3}E\d{8}[A-Z]?$"
        assert bad.json()["success"] is False and bad.json()["data"] is None
        taken = await client.post("/things/?page=1", json={"pod": "IT001E00000000", "items": []})
        assert taken.status_code == 409
        assert taken.json()["errors"] == [
            {
                "code": "pod_taken",
                "message": "POD already registered",
                "field": "pod",
                "expected": None,
            }
        ]
        crash = await client.get("/boom/")
        assert crash.status_code == 500 and "secret" not in crash.text
        assert crash.json()["errors"][0]["code"] == "internal_error"
        missing = await client.get("/nowhere/")
        assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "not_found"


def test_logging_leaves_requests_to_the_gateway_and_keeps_the_rest() -> None:
    """uvicorn decides per connection whether to write an access line by asking
    whether its logger has handlers anywhere up the tree: it must find none."""
    root_handlers = logging.getLogger().handlers[:]
    try:
        configure_logging("test", "INFO")
        assert not logging.getLogger("uvicorn.access").hasHandlers()
        assert logging.getLogger("uvicorn.error").hasHandlers()  # startup and errors still logged
        assert logging.getLogger("cer_service.anything").hasHandlers()
    finally:
        logging.getLogger().handlers[:] = root_handlers


def test_italian_today_is_tomorrow_at_23_30_utc_in_summer_and_at_23_30_in_winter() -> None:
    from datetime import UTC, date, datetime

    from cerc_shared.clock import italian_now, italian_today

    # CEST is UTC+2: 23:30 UTC is 01:30 of the next day; CET (UTC+1): 00:30.
    assert italian_today(datetime(2025, 7, 14, 23, 30, tzinfo=UTC)) == date(2025, 7, 15)
    assert italian_today(datetime(2025, 1, 14, 23, 30, tzinfo=UTC)) == date(2025, 1, 15)
    assert italian_today(datetime(2025, 1, 14, 22, 59, tzinfo=UTC)) == date(2025, 1, 14)
    assert italian_now(datetime(2025, 7, 14, 23, 30, tzinfo=UTC)).hour == 1
