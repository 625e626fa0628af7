"""A deactivated account's still-valid access token is refused at the service
as soon as the deactivation arrives on user-status.v1 (real Kafka), and accepted
again after a reactivation."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import jwt
from aiokafka import AIOKafkaProducer
from cerc_shared.app import create_service_app
from cerc_shared.auth import CurrentPrincipal, StaticKeys, TokenVerifier
from cerc_shared.events import EventEnvelope
from cerc_shared.events.user import UserRegistered, UserStatusChanged
from cerc_shared.testing import ports
from cerc_shared.user_status import UserStatusCache
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter, FastAPI

ISSUER, AUDIENCE, KID = "cercollettiva-user", "cercollettiva", "k1"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _bootstrap() -> str:
    return f"127.0.0.1:{ports()['KAFKA_PORT']}"


def _status(user_id: int, *, active: bool) -> UserStatusChanged:
    return UserStatusChanged(user_id=user_id, is_active=active)


async def _publish(topic: str, *events: UserStatusChanged | UserRegistered) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=_bootstrap())
    await producer.start()
    try:
        for event in events:
            envelope = EventEnvelope.wrap(event, producer="user", correlation_id=None)
            await producer.send_and_wait(
                topic, envelope.model_dump_json().encode(), key=event.key().encode()
            )
    finally:
        await producer.stop()


def _token(user_id: int, *, issued: datetime | None = None) -> str:
    now = issued or datetime.now(UTC)
    claims = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": str(user_id), "username": f"u{user_id}",
        "user_type": "PRIVATE", "iat": now, "exp": now + timedelta(minutes=10),
        "jti": uuid.uuid4().hex,
    }  # fmt: skip
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": KID})


def _app(cache: UserStatusCache) -> FastAPI:
    router = APIRouter()

    @router.get("/whoami")
    async def whoami(principal: CurrentPrincipal) -> dict[str, int]:
        return {"user_id": principal.user_id}

    app = create_service_app(
        service="test", title="t", version="1", lifespan=_no_lifespan, routers=[router]
    )
    app.state.token_verifier = TokenVerifier(
        StaticKeys({KID: KEY.public_key()}), issuer=ISSUER, audience=AUDIENCE
    )
    app.state.user_status = cache
    return app


async def _no_lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
    yield


async def _status_within(client: httpx.AsyncClient, token: str, status: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        answer = await client.get("/whoami", headers={"authorization": f"Bearer {token}"})
        if answer.status_code == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never {status}; last {answer.status_code} {answer.text}")


async def test_a_deactivated_users_token_is_refused_within_the_event_delay() -> None:
    topic = f"test.user-status.{uuid.uuid4().hex[:8]}"
    # Tokens issued before the statuses below.
    earlier = datetime.now(UTC) - timedelta(minutes=2)
    seven, eight = _token(7, issued=earlier), _token(8, issued=earlier)
    # The backlog: 7 active, 8 and 10 deactivated before this process started.
    await _publish(
        topic,
        _status(7, active=True),
        _status(8, active=True),
        _status(8, active=False),
        _status(10, active=False),
        # A person's facts never reach this cache: an inactive one here is not read.
        UserRegistered(
            user_id=9,
            username="u9",
            email="u9@ex.it",
            first_name="U",
            last_name="N",
            user_type="PRIVATE",
            is_active=False,
        ),
    )
    cache = UserStatusCache(bootstrap=_bootstrap(), topic=topic, client_id="test-user-status")
    cache.start()
    try:
        await cache.wait_caught_up(30)
        await cache.ready()
        transport = httpx.ASGITransport(app=_app(cache))
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            accepted = await client.get("/whoami", headers={"authorization": f"Bearer {seven}"})
            assert accepted.json() == {"user_id": 7}
            refused = await client.get("/whoami", headers={"authorization": f"Bearer {eight}"})
            assert refused.status_code == 401
            assert refused.json()["errors"][0]["code"] == "invalid_token"
            nine = await client.get("/whoami", headers={"authorization": f"Bearer {_token(9)}"})
            assert nine.status_code == 200  # facts are not statuses
            # A token newer than the deactivation was issued to an active account
            # (login refuses inactive ones): an id reused after a database was
            # recreated over the same topic is not refused by the old status.
            await asyncio.sleep(1.1)  # iat is in whole seconds
            ten = await client.get("/whoami", headers={"authorization": f"Bearer {_token(10)}"})
            assert ten.status_code == 200, ten.text

            # Deactivated while the token is valid (and already remembered as verified).
            await _publish(topic, _status(7, active=False))
            await _status_within(client, seven, 401)
            await _publish(topic, _status(7, active=True))
            await _status_within(client, seven, 200)
    finally:
        await cache.stop()


async def test_not_ready_until_the_backlog_is_read() -> None:
    cache = UserStatusCache(
        bootstrap=_bootstrap(), topic=f"test.user-status.{uuid.uuid4().hex[:8]}", client_id="t"
    )
    try:
        await cache.ready()
    except Exception as exc:
        assert type(exc).__name__ == "NotCaughtUp"
    else:
        raise AssertionError("ready before reading anything")
    cache.start()
    try:
        await cache.wait_caught_up(30)  # an absent topic is an empty backlog
    finally:
        await cache.stop()
