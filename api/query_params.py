"""Query parameters as the OpenAPI schema declares them: one an operation does not declare is
refused (400) rather than ignored (`?limt=5` is a mistake the client should hear about), so is
a single-valued one given twice, and a date-time must be RFC 3339 text, where the lax parser
would also read `0.5` as a Unix time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Litestar, Request
from litestar.routes import HTTPRoute

from api.errors import ApiError, FieldError


@dataclass(frozen=True, slots=True)
class _Declared:
    names: frozenset[str]
    datetimes: frozenset[str]
    lists: frozenset[str]


def _declared(app: Litestar) -> dict[int, _Declared]:
    """The query parameters of every HTTP route handler, by handler identity."""
    known: dict[int, _Declared] = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler, kwargs_model in route.route_handler_map.values():
            # A parameter may belong to a dependency (the calls list's filters), not the handler.
            fields = dict(handler.parsed_fn_signature.parameters)
            for provider in handler.resolve_dependencies().values():
                fields |= provider.parsed_fn_signature.parameters
            names = {p.field_alias: p.field_name for p in kwargs_model.expected_query_params}
            datetimes = {
                alias
                for alias, name in names.items()
                if name in fields
                and (
                    fields[name].is_subclass_of(datetime)
                    or fields[name].has_inner_subclass_of(datetime)
                )
            }
            lists = {p.field_alias for p in kwargs_model.expected_query_params if p.is_sequence}
            known[id(handler)] = _Declared(frozenset(names), frozenset(datetimes), frozenset(lists))
    return known


def _refuse(name: str, reason: str) -> ApiError:
    return ApiError(400, f"{name}: {reason}", errors=[FieldError(name, reason)])


class DeclaredQueryParameters:
    """A `before_request` hook. It learns the routes at its first request: Litestar copies
    hooks as it registers them, so there is no instance to tell after the app is built."""

    def __init__(self) -> None:
        self._known: dict[int, _Declared] | None = None

    async def __call__(self, request: Request[Any, Any, Any]) -> None:
        if self._known is None:
            self._known = _declared(request.app)
        declared = self._known.get(id(request.route_handler))
        if declared is None:
            return
        query = request.query_params
        for name in sorted(query):
            if name not in declared.names:
                raise _refuse(name, "unknown query parameter")
            values = query.getall(name)
            if len(values) > 1 and name not in declared.lists:
                raise _refuse(name, "given more than once")
            if name in declared.datetimes:
                for value in values:
                    try:
                        datetime.fromisoformat(value)
                    except ValueError:
                        raise _refuse(name, "expected an RFC 3339 date-time") from None
