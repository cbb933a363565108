"""Errors as RFC 9457 `application/problem+json`, each naming the field or the reason.

Every failure a client can cause maps to a 4xx here: Litestar's validation errors, the store's
`Conflict` and `UnknownColumn`, and PostgreSQL rejecting a value (e.g. a NUL character).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import asyncpg
import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from store.repositories.base import Conflict, UnknownColumn
from store.secrets import PasswordHasherBusy

log = structlog.get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    416: "Range Not Satisfiable",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
# msgspec names the offending field in backticks: "Object missing required field `name`".
_BACKTICKED = re.compile(r"`([^`]+)`")
# ...and its position as a JSON path: "Expected `int`, got `str` - at `$.port`".
_AT_PATH = re.compile(r" - at `\$\.?([^`]*)`")


class FieldError(msgspec.Struct, frozen=True):
    """One refused input: `field` is its name (dotted, with [i] for list items)."""

    field: str
    reason: str


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An error response (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] = msgspec.field(default_factory=list)


class ApiError(HTTPException):
    """A refused request with its status, reason and optionally the fields at fault."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail=detail, status_code=status_code, headers=dict(headers or {}))
        self.errors = errors or []


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def invalid(field: str, reason: str) -> ApiError:
    """A 422 naming one field."""
    return invalid_fields([FieldError(field, reason)])


def invalid_fields(errors: list[FieldError]) -> ApiError:
    plain = [FieldError(e.field, plain_reason(e.reason)) for e in errors]
    detail = "; ".join(f"{e.field}: {e.reason}" for e in plain)
    return ApiError(422, detail, errors=plain)


def problem_response(
    status: int,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response[Problem]:
    body = Problem(
        title=_TITLES.get(status, "Error"), status=status, detail=detail, errors=errors or []
    )
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


# msgspec's wording of a refused value, and what a person reads instead (first match wins).
_PLAIN_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), plain)
    for pattern, plain in (
        (r"^Object missing required field", "is required"),
        (r"^Object contains unknown field", "is not a field of this form"),
        (r"^Expected `[^`]+`, got `null`$", "is required"),
        (r"^Expected `str` of length >= 1$", "must not be empty"),
        (r"^Expected `str` of length >= (\d+)$", r"must be at least \1 characters"),
        (r"^Expected `str` of length <= (\d+)$", r"must be at most \1 characters"),
        (r"^Expected `str` matching regex", "is not in the expected format"),
        (r"^Expected `(?:int|float)` >= (\S+)$", r"must be at least \1"),
        (r"^Expected `(?:int|float)` <= (\S+)$", r"must be at most \1"),
        (r"^Expected `(?:int|float)` > (\S+)$", r"must be more than \1"),
        (r"^Expected `(?:int|float)` < (\S+)$", r"must be less than \1"),
        (r"^Expected `(?:array|object)` of length <= (\d+)$", r"may have at most \1 entries"),
        (r"^(?:Expected `uuid`|Invalid UUID)", "must be an id"),
        (r"^Invalid (?:RFC3339 encoded )?datetime", "must be a date and time"),
        (r"^Expected `int`", "must be a whole number"),
        (r"^Expected `float`", "must be a number"),
        (r"^Expected `bool`", "must be yes or no"),
        (r"^Expected `datetime`", "must be a date and time"),
        (r"^Invalid enum value", "is not one of the choices"),
        (r"^Expected `str`", "must be text"),
        (r"^Expected `array`", "must be a list"),
        (r"^Expected `object`", "must be a set of named values"),
    )
)


def plain_reason(reason: str) -> str:
    """msgspec's reason in words a person reads (the API's own reasons pass unchanged)."""
    for pattern, plain in _PLAIN_REASONS:
        if pattern.search(reason):
            return pattern.sub(plain, reason) if "\\" in plain else plain
    return reason


def _field_error(entry: Mapping[str, Any]) -> FieldError:
    message = str(entry.get("message", "invalid value"))
    key = str(entry.get("key", "") or "")
    path = _AT_PATH.search(message)
    reason = plain_reason(message.split(" - at ", 1)[0])
    if path and path.group(1):
        field = path.group(1)
    elif key and key != "data":
        field = key
    else:
        named = _BACKTICKED.findall(message)
        field = named[-1] if named and "field" in message else "body"
    return FieldError(field, reason)


def _validation_handler(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    errors = [_field_error(e) for e in extra if isinstance(e, Mapping)]
    detail = "; ".join(f"{e.field}: {e.reason}" for e in errors) if errors else str(exc.detail)
    return problem_response(400, detail, errors)


def _http_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    errors = exc.errors if isinstance(exc, ApiError) else []
    headers = dict(exc.headers or {})
    status = exc.status_code
    if status >= HTTP_500_INTERNAL_SERVER_ERROR:
        log.error("server error", status=status, detail=exc.detail)
    return problem_response(status, str(exc.detail), errors, headers)


def _conflict_handler(_: Request[Any, Any, Any], exc: Conflict) -> Response[Problem]:
    # The database's own text (table, key and values) is for the log, not for people.
    log.info("conflict", reason=str(exc), constraint=exc.constraint)
    if exc.kind == "in_use":
        return problem_response(409, "This is still in use (by a campaign, say): it stays.")
    if exc.field is None:
        return problem_response(409, "This conflicts with something that already exists.")
    words = exc.field.replace("_", " ")
    reason = (
        f"This {words} is already used." if exc.kind == "unique" else f"No such {words} exists."
    )
    return problem_response(409, reason, [FieldError(exc.field, reason)])


def _unknown_column_handler(_: Request[Any, Any, Any], exc: UnknownColumn) -> Response[Problem]:
    return problem_response(400, str(exc), [FieldError(exc.column, str(exc))])


def _data_error_handler(_: Request[Any, Any, Any], exc: asyncpg.PostgresError) -> Response[Problem]:
    # PostgreSQL refused a value the API's own checks let through (e.g. a NUL in a text field):
    # the request was well formed, so not a 400.
    reason = exc.args[0] if exc.args else type(exc).__name__
    return problem_response(422, f"value refused by the database: {reason}")


# Seconds a client should wait before retrying when PostgreSQL or Redis is unreachable.
OUTAGE_RETRY_AFTER_S = 5


def _outage_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    log.warning("dependency unavailable", error=f"{type(exc).__name__}: {exc}")
    return problem_response(
        503,
        "a backing service (PostgreSQL or Redis) is unavailable; try again shortly",
        headers={"Retry-After": str(OUTAGE_RETRY_AFTER_S)},
    )


# Seconds a client should wait when every password check of the process is already queued.
PASSWORDS_BUSY_RETRY_AFTER_S = 1


def _passwords_busy_handler(
    _: Request[Any, Any, Any], exc: PasswordHasherBusy
) -> Response[Problem]:
    return problem_response(
        503,
        "too many password checks at once; try again shortly",
        headers={"Retry-After": str(PASSWORDS_BUSY_RETRY_AFTER_S)},
    )


def _undecodable_handler(
    _: Request[Any, Any, Any], exc: UnicodeDecodeError | RecursionError
) -> Response[Problem]:
    # Raised past Litestar's own JSON error handling while decoding a request body.
    if isinstance(exc, UnicodeDecodeError):
        return problem_response(400, "the request is not valid UTF-8")
    return problem_response(400, "the request body is nested too deeply")


def _internal_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    log.exception("unhandled error", error=type(exc).__name__)
    return problem_response(500, "internal error")


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ValidationException: _validation_handler,
    HTTPException: _http_handler,
    Conflict: _conflict_handler,
    UnknownColumn: _unknown_column_handler,
    asyncpg.DataError: _data_error_handler,
    asyncpg.IntegrityConstraintViolationError: _data_error_handler,
    asyncpg.PostgresConnectionError: _outage_handler,
    asyncpg.InterfaceError: _outage_handler,
    RedisConnectionError: _outage_handler,
    RedisTimeoutError: _outage_handler,
    OSError: _outage_handler,
    PasswordHasherBusy: _passwords_busy_handler,
    UnicodeDecodeError: _undecodable_handler,
    RecursionError: _undecodable_handler,
    Exception: _internal_handler,
}


def problem_spec(description: str) -> ResponseSpec:
    return ResponseSpec(
        data_container=Problem,
        description=description,
        media_type=PROBLEM_MEDIA_TYPE,
        generate_examples=False,
    )


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI declarations of the problem responses an operation can give (503, a backing
    service being down, is possible everywhere; an operation that takes input, one that can
    answer 400, can also meet a value PostgreSQL will not store: 422)."""
    extra = (422, 503) if 400 in statuses else (503,)
    return {status: problem_spec(_TITLES[status]) for status in sorted({*statuses, *extra})}
