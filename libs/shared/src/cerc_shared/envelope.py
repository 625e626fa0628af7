"""The specification's response envelope and error format.

Every answer, good or bad, is ``{"success", "data", "meta", "errors"}``. Errors
carry a stable ``code``, a human ``message`` and, for validation, the ``field``
(a dotted path into the request) and what was ``expected``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

T = TypeVar("T")


class ErrorItem(BaseModel):
    code: str
    message: str
    field: str | None = None
    expected: str | None = None


class PageMeta(BaseModel):
    page: int
    per_page: int
    total: int


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T | None = None
    meta: PageMeta | None = None
    errors: list[ErrorItem] = Field(default_factory=list)


def ok(data: T, meta: PageMeta | None = None) -> Envelope[T]:
    return Envelope[T](data=data, meta=meta)


class ApiError(Exception):
    """A refusal the client can act on: its status, code, message and field."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        expected: str | None = None,
        headers: dict[str, str] | None = None,
        keep_changes: bool = False,
    ) -> None:
        super().__init__(message)
        # A refusal that must still record something (a failed-login count, a
        # revoked token family) sets keep_changes; the session commits it.
        self.keep_changes = keep_changes
        self.status_code = status_code
        self.errors = [ErrorItem(code=code, message=message, field=field, expected=expected)]
        self.headers = headers


class NotFound(ApiError):
    def __init__(self, what: str) -> None:
        super().__init__(404, "not_found", f"{what} not found")


def error_response(
    status_code: int, errors: Sequence[ErrorItem], headers: dict[str, str] | None = None
) -> JSONResponse:
    body = Envelope[Any](success=False, errors=list(errors)).model_dump(mode="json")
    return JSONResponse(body, status_code=status_code, headers=headers)


def _field_path(loc: Sequence[int | str]) -> str:
    # ("body", "email") -> "email"; ("query", "page") -> "page"; list indexes kept.
    parts = (
        [str(p) for p in loc[1:]]
        if loc and loc[0] in ("body", "query", "path")
        else list(map(str, loc))
    )
    return ".".join(parts) or str(loc[0] if loc else "")


def _validation_items(exc: RequestValidationError) -> list[ErrorItem]:
    items = []
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        expected = ctx.get("expected") or ctx.get("pattern") or err.get("type")
        items.append(
            ErrorItem(
                code="validation_error",
                message=str(err.get("msg", "invalid value")),
                field=_field_path(err.get("loc", ())),
                expected=str(expected) if expected is not None else None,
            )
        )
    return items


# The database's refusals of a character in text (SQLSTATE 22021, 22P05),
# whichever driver wraps them.
_CHARACTER_REFUSED = frozenset({"22021", "22P05"})


def _refused_text(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, "sqlstate", None) in _CHARACTER_REFUSED:
            return True
        current = getattr(current, "orig", None) or current.__cause__
    return False


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.errors, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _validation_items(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
        return error_response(
            exc.status_code,
            [ErrorItem(code=code.get(exc.status_code, "http_error"), message=str(exc.detail))],
            dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if _refused_text(exc):
            # PostgreSQL stores no NUL character in text: the input is wrong,
            # not the service, and the transaction has been rolled back.
            return error_response(
                422,
                [
                    ErrorItem(
                        code="invalid_character",
                        message="text must not contain the NUL character (U+0000)",
                        expected="text without U+0000",
                    )
                ],
            )
        raise exc  # anything else is the service's fault: the 500 below, logged

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(
            500, [ErrorItem(code="internal_error", message="internal error; it has been logged")]
        )
