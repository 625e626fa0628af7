"""The simulator's HTTP API: the GSE's side (`/gse/...`, OAuth 2.0 client credentials, pages,
a per-client rate limit) and an admin side for tests (`/admin/...`, an admin token).

Errors: `{"error": {"code", "message", "details": [{"field", "message"}]}}`; the token endpoint
answers as RFC 6749 says (`{"error": "invalid_client", "error_description": ...}`).
"""

# No `from __future__ import annotations`: the dependency aliases live inside create_app and
# FastAPI must see them evaluated.
import asyncio
import base64
import binascii
import hashlib
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from cacer import ScenarioError, parse_scenario
from cacer.scenario import POD_PATTERN, ZONE_INDEX, parse_instant
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from gse_sim import figures
from gse_sim.settings import GseSimSettings
from gse_sim.state import (
    ELIGIBILITY,
    Client,
    Configuration,
    IdempotentResponse,
    PointRecord,
    Reading,
    SimState,
)

MAX_READINGS_PER_POST = 200_000
MAX_PROBLEMS = 50
SERVER_ERRORS = (500, 502, 503, 504)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Sequence[dict[str, str]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status, self.code, self.message = status, code, message
        self.details, self.headers = list(details), headers


def _error_response(e: ApiError) -> JSONResponse:
    body: dict[str, Any] = {"code": e.code, "message": e.message}
    if e.details:
        body["details"] = e.details
    return JSONResponse({"error": body}, status_code=e.status, headers=e.headers)


def _now_iso(state: SimState) -> str:
    return figures.now(state).isoformat(timespec="seconds")


def _page(items: Sequence[Any], page: int, page_size: int, **extra: Any) -> dict[str, Any]:
    start = (page - 1) * page_size
    return {
        "items": list(items[start : start + page_size]),
        "page": page,
        "page_size": page_size,
        "total": len(items),
        "next_page": page + 1 if start + page_size < len(items) else None,
        **extra,
    }


# Request bodies --------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConfigurationIn(_Body):
    code: str = Field(min_length=1, max_length=64, description="the caller's own code")
    name: str = Field(min_length=1, max_length=200)
    type: str = Field(default="CER", pattern="^(CER|AUC|AID)$")


class PlantIn(_Body):
    configuration_id: str
    pod: str
    substation: str
    zone: str
    public_body: bool = False
    plant: dict[str, Any] | None = None


class MeasurementsIn(_Body):
    configuration_id: str
    readings: list[dict[str, Any]] = Field(max_length=MAX_READINGS_PER_POST)


class ClientIn(_Body):
    client_id: str = Field(min_length=3, max_length=100)
    client_secret: str = Field(min_length=8, max_length=200)
    name: str = ""
    rate_limit_per_minute: int | None = Field(default=None, ge=1)
    token_ttl_s: int | None = Field(default=None, ge=1)


class DelayIn(_Body):
    seconds: float = Field(ge=0, le=120)


class ErrorsIn(_Body):
    count: int = Field(ge=0)
    status: int = 503


class PodsIn(_Body):
    pods: list[str]


class MonthsIn(_Body):
    months: list[str]


class EligibilityIn(_Body):
    status: str
    reason: str | None = None


class TraseIn(_Body):
    year: int = Field(ge=2000, le=2100)
    eur_mwh: Decimal | None = Field(default=None, ge=0)  # None: back to the default
    configuration_id: str | None = None  # None: for every configuration


class PricesIn(_Body):
    prices: list[dict[str, Any]]


class ClockIn(_Body):
    now: datetime | None


# The application ----------------------------------------------------------------------------


def create_app(settings: GseSimSettings | None = None) -> FastAPI:
    settings = settings or GseSimSettings()
    state = SimState(settings)
    app = FastAPI(title="GSE simulator", version="1", docs_url="/docs", redoc_url=None)
    app.state.sim = state

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError) -> JSONResponse:
        return _error_response(e)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError) -> JSONResponse:
        details = [
            {
                "field": ".".join(str(x) for x in err["loc"] if x not in ("body", "query")),
                "message": err["msg"],
            }
            for err in e.errors()
        ]
        return _error_response(ApiError(422, "invalid_request", "the request is invalid", details))

    @app.middleware("http")
    async def faults(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # Misbehaviour asked for through /admin/faults/...: only the GSE's side suffers it.
        if request.url.path.startswith("/gse/"):
            if state.faults.delay_s > 0:
                await asyncio.sleep(state.faults.delay_s)
            if state.faults.fail_next > 0:
                state.faults.fail_next -= 1
                return _error_response(
                    ApiError(state.faults.fail_status, "server_error", "injected failure")
                )
        return await call_next(request)

    # Who is asking ---------------------------------------------------------------------------

    def caller(authorization: Annotated[str | None, Header()] = None) -> Client:
        challenge = {"WWW-Authenticate": 'Bearer realm="gse"'}
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not value:
            raise ApiError(401, "unauthorized", "a Bearer access token is required", (), challenge)
        client = state.client_for_token(value.strip())
        if client is None:
            challenge["WWW-Authenticate"] += ', error="invalid_token"'
            raise ApiError(401, "invalid_token", "the token is unknown or expired", (), challenge)
        wait = state.retry_after(client)
        if wait:
            raise ApiError(
                429,
                "rate_limited",
                f"more than {client.rate_limit_per_minute} requests a minute",
                (),
                {"Retry-After": str(wait)},
            )
        return client

    def admin(x_admin_token: Annotated[str | None, Header()] = None) -> None:
        if x_admin_token != settings.admin_token:
            raise ApiError(401, "unauthorized", "the X-Admin-Token header is missing or wrong")

    Caller = Annotated[Client, Depends(caller)]
    Admin = Depends(admin)
    IdempotencyKey = Annotated[str | None, Header(max_length=200)]

    def page_args(max_size: int) -> Callable[..., tuple[int, int]]:
        def args(
            page: Annotated[int, Query(ge=1)] = 1,
            page_size: Annotated[int, Query(ge=1, le=max_size)] = 100,
        ) -> tuple[int, int]:
            return page, page_size

        return args

    Paging = Annotated[tuple[int, int], Depends(page_args(settings.max_page_size))]
    MeasurementPaging = Annotated[
        tuple[int, int], Depends(page_args(settings.max_measurement_page_size))
    ]

    def configuration(client: Client, configuration_id: str) -> Configuration:
        cfg = state.configurations.get(configuration_id)
        if cfg is None or cfg.client_id != client.client_id:  # another's: as if it did not exist
            raise ApiError(404, "not_found", f"no configuration {configuration_id}")
        return cfg

    def idempotent(
        client: Client,
        route: str,
        key: str | None,
        body: BaseModel,
        handle: Callable[[], tuple[int, Any]],
    ) -> JSONResponse:
        """Same Idempotency-Key and body: the first answer again; another body: 409."""
        fingerprint = hashlib.sha256(
            json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
        ).hexdigest()
        if key is not None:
            seen = state.idempotency.get((client.client_id, route, key))
            if seen is not None:
                if seen.fingerprint != fingerprint:
                    raise ApiError(
                        409,
                        "idempotency_key_reused",
                        "this Idempotency-Key was used with another request body",
                    )
                return JSONResponse(
                    seen.body, status_code=seen.status, headers={"Idempotent-Replayed": "true"}
                )
        status, content = handle()
        if key is not None:
            state.idempotency[(client.client_id, route, key)] = IdempotentResponse(
                fingerprint, status, content
            )
        return JSONResponse(content, status_code=status)

    # OAuth 2.0 client credentials ----------------------------------------------------------

    @app.post("/gse/oauth/token", tags=["oauth"])
    async def token(request: Request) -> JSONResponse:
        form = await request.form()
        grant = form.get("grant_type")
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(basic[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            client_id, _, secret = decoded.partition(":")

        def oauth_error(status: int, error: str, description: str) -> JSONResponse:
            headers = {"WWW-Authenticate": 'Basic realm="gse"'} if status == 401 else None
            return JSONResponse(
                {"error": error, "error_description": description},
                status_code=status,
                headers=headers,
            )

        if grant != "client_credentials":
            return oauth_error(400, "unsupported_grant_type", "only client_credentials")
        client = state.clients.get(str(client_id or ""))
        if client is None or not client.secret_matches(str(secret or "")):
            return oauth_error(401, "invalid_client", "unknown client or wrong secret")
        issued = state.issue_token(client)
        return JSONResponse(
            {
                "access_token": issued.value,
                "token_type": "Bearer",
                "expires_in": client.token_ttl_s,
            },
            headers={"Cache-Control": "no-store"},
        )

    # Configurations ------------------------------------------------------------------------

    @app.post("/gse/api/v1/configurations/", tags=["configurations"])
    async def create_configuration(
        body: ConfigurationIn, client: Caller, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        def handle() -> tuple[int, Any]:
            request = body.model_dump()
            for cfg in state.configurations.values():
                if cfg.client_id == client.client_id and cfg.code == body.code:
                    if cfg.request != request:
                        raise ApiError(
                            409,
                            "configuration_exists",
                            f"configuration {body.code!r} exists with other data ({cfg.id})",
                        )
                    return 200, cfg.public()
            number = state.next_number("configuration")
            cfg = Configuration(
                id=f"GSE-CFG-{number:06d}",
                number=number,
                client_id=client.client_id,
                code=body.code,
                name=body.name,
                type=body.type,
                created_at=_now_iso(state),
                request=request,
            )
            state.configurations[cfg.id] = cfg
            state.changed()
            return 201, cfg.public()

        return idempotent(client, "configurations", idempotency_key, body, handle)

    @app.get("/gse/api/v1/configurations/", tags=["configurations"])
    async def list_configurations(client: Caller, paging: Paging) -> dict[str, Any]:
        mine = [c for c in state.configurations.values() if c.client_id == client.client_id]
        return _page([c.public() for c in mine], *paging)

    @app.get("/gse/api/v1/configurations/{configuration_id}", tags=["configurations"])
    async def get_configuration(configuration_id: str, client: Caller) -> dict[str, Any]:
        return configuration(client, configuration_id).public()

    # Plants and points -----------------------------------------------------------------------

    @app.post("/gse/api/v1/plants/", tags=["plants"])
    async def register_plant(
        body: PlantIn, client: Caller, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        cfg = configuration(client, body.configuration_id)

        def handle() -> tuple[int, Any]:
            point = _parse_point(body)
            request = body.model_dump(mode="json")
            existing = cfg.points.get(point.pod)
            if existing is not None:
                if existing.request != request:
                    raise ApiError(
                        409,
                        "pod_already_registered",
                        f"POD {point.pod} is registered with other data ({existing.id})",
                        [{"field": "pod", "message": "already registered"}],
                    )
                return 200, existing.public()
            for other in cfg.points.values():
                if other.substation == point.substation and other.zone != point.zone:
                    raise ApiError(
                        422,
                        "invalid_request",
                        "the request is invalid",
                        [
                            {
                                "field": "zone",
                                "message": f"substation {point.substation} is in zone "
                                f"{other.zone} ({other.pod})",
                            }
                        ],
                    )
            number = state.next_number("plant")
            record = PointRecord(
                id=f"GSE-PLT-{number:06d}",
                configuration_id=cfg.id,
                pod=point.pod,
                substation=point.substation,
                zone=point.zone.value,
                public_body=body.public_body,
                plant=point.plant,
                request=request,
                registered_at=_now_iso(state),
            )
            cfg.points[record.pod] = record
            state.point_ids[record.id] = (cfg.id, record.pod)
            state.changed()
            return 201, record.public()

        return idempotent(client, "plants", idempotency_key, body, handle)

    @app.get("/gse/api/v1/plants/", tags=["plants"])
    async def list_plants(
        client: Caller, paging: Paging, configuration_id: str | None = None
    ) -> dict[str, Any]:
        if configuration_id is not None:
            configs = [configuration(client, configuration_id)]
        else:
            configs = [c for c in state.configurations.values() if c.client_id == client.client_id]
        points = [p.public() for c in configs for p in sorted(c.points.values(), key=_by_pod)]
        return _page(points, *paging)

    # Measurements ------------------------------------------------------------------------------

    @app.post("/gse/api/v1/measurements/", tags=["measurements"])
    async def submit_measurements(
        body: MeasurementsIn, client: Caller, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        cfg = configuration(client, body.configuration_id)

        def handle() -> tuple[int, Any]:
            parsed = _parse_readings(cfg, body.readings)
            created = replaced = unchanged = 0
            months: set[str] = set()
            for pod, start, reading in parsed:
                held = cfg.readings.setdefault(pod, {})
                before = held.get(start)
                if before == reading:
                    unchanged += 1
                    continue
                created, replaced = (
                    (created + 1, replaced)
                    if before is None
                    else (
                        created,
                        replaced + 1,
                    )
                )
                held[start] = reading
                cfg.pod_interval[pod] = reading.minutes
                months.add(_month_of(start))
            for month in months:
                cfg.month_revision[month] = cfg.month_revision.get(month, 0) + 1
            if months:
                state.changed()
            number = state.next_number("submission")
            return 201, {
                "id": f"GSE-MSR-{number:08d}",
                "configuration_id": cfg.id,
                "received_at": _now_iso(state),
                "readings": len(parsed),
                "created": created,
                "replaced": replaced,
                "unchanged": unchanged,
                "months": sorted(months),
            }

        return idempotent(client, "measurements", idempotency_key, body, handle)

    @app.get("/gse/api/v1/measurements/", tags=["measurements"])
    async def list_measurements(
        client: Caller,
        paging: MeasurementPaging,
        configuration_id: str,
        month: str | None = None,
        pod: str | None = None,
    ) -> dict[str, Any]:
        cfg = configuration(client, configuration_id)
        bounds = _month_bounds(month) if month else None
        pods = sorted(cfg.readings) if pod is None else [pod.strip().upper()]
        rows = []
        for p in pods:
            if p in cfg.missing_pods:
                continue  # the GSE "has no data" for it
            for start, r in sorted(cfg.readings.get(p, {}).items()):
                if bounds and not bounds[0] <= start < bounds[1]:
                    continue
                rows.append(
                    {
                        "pod": p,
                        "start": datetime.fromtimestamp(start, figures.ROME).isoformat(),
                        "minutes": r.minutes,
                        "fed_in_kwh": r.fed_in_kwh,
                        "withdrawn_kwh": r.withdrawn_kwh,
                    }
                )
        return _page(rows, *paging)

    # Results, advances, payments -------------------------------------------------------------

    @app.get("/gse/api/v1/configurations/{configuration_id}/results/", tags=["results"])
    async def list_results(configuration_id: str, client: Caller, paging: Paging) -> dict[str, Any]:
        cfg = configuration(client, configuration_id)
        summaries = []
        for month in figures.published_months(state, cfg):
            result = _result(cfg, month)
            summaries.append(
                {k: result[k] for k in ("id", "month", "revision", "published_on", "totals")}
            )
        return _page(summaries, *paging)

    @app.get("/gse/api/v1/configurations/{configuration_id}/results/{month}", tags=["results"])
    async def get_result(configuration_id: str, month: str, client: Caller) -> dict[str, Any]:
        return figures.public_result(_published(configuration(client, configuration_id), month))

    @app.get(
        "/gse/api/v1/configurations/{configuration_id}/results/{month}/hours", tags=["results"]
    )
    async def get_result_hours(
        configuration_id: str, month: str, client: Caller, paging: Paging
    ) -> dict[str, Any]:
        """The month hour by hour (local hours with their offset), paged."""
        result = _published(configuration(client, configuration_id), month)
        return _page(result["_hours"], *paging, result_id=result["id"])

    def _published(cfg: Configuration, month: str) -> dict[str, Any]:
        day = _month(month, "month")
        if day not in figures.data_months(cfg):
            raise ApiError(404, "not_found", f"no data for {month}")
        if not figures.is_published(state, cfg, day):
            due = figures.publication_date(day, settings.publication_day)
            late = figures.month_key(day) in cfg.late_months
            raise ApiError(
                404,
                "results_not_published",
                f"the figures of {month} are not published yet"
                + (" (publication delayed)" if late else f" (due on {due.isoformat()})"),
            )
        return _result(cfg, day)

    @app.get("/gse/api/v1/advances/", tags=["advances"])
    async def list_advances(
        client: Caller, paging: Paging, configuration_id: str, month: str | None = None
    ) -> dict[str, Any]:
        cfg = configuration(client, configuration_id)
        months = figures.published_months(state, cfg)
        if month is not None:
            day = _month(month, "month")
            months = [m for m in months if m == day]
        lines = [
            {k: v for k, v in line.items() if not k.startswith("_")}
            for m in months
            for line in figures.advances(state, cfg, m)
        ]
        return _page(lines, *paging)

    @app.get("/gse/api/v1/payments/", tags=["payments"])
    async def list_payments(
        client: Caller, paging: Paging, configuration_id: str
    ) -> dict[str, Any]:
        cfg = configuration(client, configuration_id)
        _run_payments(cfg)
        return _page(cfg.payments, *paging, balance=figures.balance(cfg))

    def _run_payments(cfg: Configuration) -> None:
        try:
            figures.run_payments(state, cfg)
        except ScenarioError as e:
            raise _unsettleable(e) from e

    def _result(cfg: Configuration, month: date) -> dict[str, Any]:
        try:
            return figures.compute_result(state, cfg, month)
        except ScenarioError as e:
            raise _unsettleable(e) from e

    # Admin -------------------------------------------------------------------------------------

    @app.get("/health", tags=["admin"])
    async def health() -> dict[str, Any]:
        return {"status": "ok", "now": _now_iso(state)}

    @app.post("/admin/reset", dependencies=[Admin], tags=["admin"])
    async def reset() -> dict[str, Any]:
        state.reset()
        return {"reset": True}

    @app.post("/admin/clients", dependencies=[Admin], tags=["admin"], status_code=201)
    async def add_client(body: ClientIn) -> dict[str, Any]:
        c = state.add_client(
            body.client_id,
            body.client_secret,
            body.name,
            body.rate_limit_per_minute,
            body.token_ttl_s,
        )
        return _client_json(c)

    @app.get("/admin/clients", dependencies=[Admin], tags=["admin"])
    async def list_clients() -> dict[str, Any]:
        return {"items": [_client_json(c) for c in state.clients.values()]}

    @app.put("/admin/faults/delay", dependencies=[Admin], tags=["admin"])
    async def set_delay(body: DelayIn) -> dict[str, Any]:
        state.faults.delay_s = body.seconds
        return {"delay_s": body.seconds}

    @app.post("/admin/faults/errors", dependencies=[Admin], tags=["admin"])
    async def set_errors(body: ErrorsIn) -> dict[str, Any]:
        if body.status not in SERVER_ERRORS:
            raise ApiError(
                422,
                "invalid_request",
                "the request is invalid",
                [{"field": "status", "message": f"one of {list(SERVER_ERRORS)}"}],
            )
        state.faults.fail_next, state.faults.fail_status = body.count, body.status
        return {"fail_next": body.count, "status": body.status}

    @app.put(
        "/admin/configurations/{configuration_id}/missing-pods",
        dependencies=[Admin],
        tags=["admin"],
    )
    async def set_missing_pods(configuration_id: str, body: PodsIn) -> dict[str, Any]:
        cfg = _any_configuration(configuration_id)
        cfg.missing_pods = {p.strip().upper() for p in body.pods}
        state.changed()
        return {"missing_pods": sorted(cfg.missing_pods)}

    @app.put(
        "/admin/configurations/{configuration_id}/late-months",
        dependencies=[Admin],
        tags=["admin"],
    )
    async def set_late_months(configuration_id: str, body: MonthsIn) -> dict[str, Any]:
        cfg = _any_configuration(configuration_id)
        cfg.late_months = {figures.month_key(_month(m, "months")) for m in body.months}
        state.changed()
        return {"late_months": sorted(cfg.late_months)}

    @app.put("/admin/plants/{plant_id}/eligibility", dependencies=[Admin], tags=["admin"])
    async def set_eligibility(plant_id: str, body: EligibilityIn) -> dict[str, Any]:
        if body.status not in ELIGIBILITY:
            raise ApiError(
                422,
                "invalid_request",
                "the request is invalid",
                [{"field": "status", "message": f"one of {list(ELIGIBILITY)}"}],
            )
        where = state.point_ids.get(plant_id)
        if where is None:
            raise ApiError(404, "not_found", f"no plant {plant_id}")
        record = state.configurations[where[0]].points[where[1]]
        record.eligibility, record.eligibility_reason = body.status, body.reason
        state.changed()
        return record.public()

    @app.put("/admin/trase", dependencies=[Admin], tags=["admin"])
    async def set_trase(body: TraseIn) -> dict[str, Any]:
        cfg = _any_configuration(body.configuration_id) if body.configuration_id else None
        key = (cfg.id if cfg else None, body.year)
        if body.eur_mwh is None:
            state.trase.pop(key, None)
        else:
            state.trase[key] = body.eur_mwh
        state.changed()
        return {
            "year": body.year,
            "configuration_id": body.configuration_id,
            "eur_mwh": str(figures.trase_for(state, cfg, body.year)),
        }

    @app.put("/admin/prices", dependencies=[Admin], tags=["admin"])
    async def set_prices(body: PricesIn) -> dict[str, Any]:
        loaded, problems = {}, []
        for i, item in enumerate(body.prices):
            zone = str(item.get("zone", "")).upper()
            hour = parse_instant(item["hour"]) if isinstance(item.get("hour"), str) else None
            try:
                price = Decimal(str(item.get("eur_mwh")))
            except InvalidOperation:
                price = Decimal("NaN")
            if zone not in ZONE_INDEX:
                problems.append({"field": f"prices[{i}].zone", "message": "unknown zone"})
            if hour is None or hour % 3600:
                problems.append({"field": f"prices[{i}].hour", "message": "an hour's start"})
            if not price.is_finite():
                problems.append({"field": f"prices[{i}].eur_mwh", "message": "a number"})
            if zone in ZONE_INDEX and hour is not None and price.is_finite():
                loaded[(zone, hour)] = price
        if problems:
            raise ApiError(422, "invalid_request", "invalid prices", problems[:MAX_PROBLEMS])
        state.prices.update(loaded)
        state.changed()
        return {"loaded": len(loaded), "held": len(state.prices)}

    @app.put("/admin/clock", dependencies=[Admin], tags=["admin"])
    async def set_clock(body: ClockIn) -> dict[str, Any]:
        if body.now is not None and body.now.tzinfo is None:
            raise ApiError(
                422,
                "invalid_request",
                "the request is invalid",
                [{"field": "now", "message": "an instant with its UTC offset"}],
            )
        state.clock = body.now
        state.changed()
        return {"now": _now_iso(state), "simulated": body.now is not None}

    def _any_configuration(configuration_id: str) -> Configuration:
        cfg = state.configurations.get(configuration_id)
        if cfg is None:
            raise ApiError(404, "not_found", f"no configuration {configuration_id}")
        return cfg

    return app


def _client_json(c: Client) -> dict[str, Any]:
    return {
        "client_id": c.client_id,
        "name": c.name,
        "rate_limit_per_minute": c.rate_limit_per_minute,
        "token_ttl_s": c.token_ttl_s,
    }


def _by_pod(p: PointRecord) -> str:
    return p.pod


def _unsettleable(e: ScenarioError) -> ApiError:
    return ApiError(
        409,
        "cannot_compute",
        "the GSE cannot compute these figures from the data it holds",
        [{"field": p.path, "message": p.message} for p in e.problems[:MAX_PROBLEMS]],
    )


def _month(text: str, field: str) -> date:
    try:
        return figures.parse_month(text)
    except ValueError as e:
        raise ApiError(
            422, "invalid_request", "the request is invalid", [{"field": field, "message": str(e)}]
        ) from e


def _month_bounds(text: str) -> tuple[int, int]:
    return figures.month_bounds_utc(_month(text, "month"))


def _month_of(start_utc: int) -> str:
    return figures.month_key(datetime.fromtimestamp(start_utc, figures.ROME).date())


def _parse_point(body: PlantIn) -> Any:
    """Validated by the rules engine's own parser, so the GSE accepts what the engine settles."""
    document = {
        "period": {"start": "2024-01-01", "end": "2024-01-02"},
        "trase_eur_mwh": 0,
        "members": [{"id": "holder", "public_body": body.public_body}],
        "points": [
            {
                "pod": body.pod,
                "member": "holder",
                "substation": body.substation,
                "zone": body.zone,
                "plant": body.plant,
            }
        ],
        "prices": [],
        # The engine refuses a period with nothing to settle: one empty hour for this POD.
        "readings": [{"pod": body.pod, "start": "2024-01-01T00:00:00+01:00", "minutes": 60}],
        "distribution": {"producers": 1, "consumers": 0, "community": 0},
    }
    try:
        return parse_scenario(document).points[0]
    except ScenarioError as e:
        details = [
            {"field": p.path.removeprefix("points[0]."), "message": p.message}
            for p in e.problems
            if not p.path.startswith("readings")  # the placeholder's, not the caller's
        ]
        raise ApiError(422, "invalid_request", "the request is invalid", details) from e


def _parse_readings(
    cfg: Configuration, raw: list[dict[str, Any]]
) -> list[tuple[str, int, Reading]]:
    """Every row checked before anything is kept: one bad row refuses the whole submission."""
    problems: list[dict[str, str]] = []
    parsed: list[tuple[str, int, Reading]] = []
    seen: dict[tuple[str, int], int] = {}
    interval = dict(cfg.pod_interval)
    allowed = {"pod", "start", "minutes", "fed_in_kwh", "withdrawn_kwh"}

    def bad(i: int, field: str, message: str) -> None:
        problems.append({"field": f"readings[{i}].{field}", "message": message})

    for i, row in enumerate(raw):
        for unknown in sorted(row.keys() - allowed):
            bad(i, unknown, "unknown field")
        pod_raw = row.get("pod")
        pod = pod_raw.strip().upper() if isinstance(pod_raw, str) else ""
        point = cfg.points.get(pod)
        if not POD_PATTERN.fullmatch(pod):
            bad(i, "pod", f"{pod_raw!r} is not a POD")
        elif point is None:
            bad(i, "pod", f"POD {pod} is not registered in {cfg.id}")
        start_raw = row.get("start")
        start = parse_instant(start_raw) if isinstance(start_raw, str) else None
        if start is None:
            bad(i, "start", "an ISO-8601 instant with its UTC offset, whole minutes")
        minutes = row.get("minutes")
        if type(minutes) is not int or minutes not in (15, 60):
            bad(i, "minutes", "15 or 60")
            minutes = None
        elif start is not None and start % (minutes * 60):
            bad(i, "start", "must start on a boundary of its interval")
        values = []
        for field in ("fed_in_kwh", "withdrawn_kwh"):
            v = row.get(field, 0)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                bad(i, field, "a finite number")
            elif v < 0:
                bad(i, field, "must be >= 0")
            values.append(float(v) if isinstance(v, int | float) else 0.0)
        if point is not None and point.plant is None and values[0] > 0:
            bad(i, "fed_in_kwh", "must be 0: the point has no plant")
        if (
            point is not None
            and minutes is not None
            and interval.setdefault(pod, minutes) != minutes
        ):
            bad(i, "minutes", f"POD {pod} sends {interval[pod]}-minute readings")
        if point is not None and start is not None:
            first = seen.setdefault((pod, start), i)
            if first != i:
                bad(i, "start", f"repeats readings[{first}]")
        if len(problems) >= MAX_PROBLEMS:
            break
        if start is not None and minutes is not None:
            parsed.append((pod, start, Reading(minutes, values[0], values[1])))
    if problems:
        raise ApiError(
            422,
            "invalid_request",
            "the submission is invalid; nothing was kept",
            problems[:MAX_PROBLEMS],
        )
    return parsed
