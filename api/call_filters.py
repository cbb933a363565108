"""What narrows a list of calls, from the query string: shared by the calls list and its
export, so an export holds exactly the calls the list showed."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar.params import FromQuery, QueryParameter

from api.common import MAX_FILTER_CHARS, sort_param
from api.errors import ApiError, FieldError
from store.repositories.calls import CallRepository

Direction = Literal["inbound", "outbound"]
ShortFilter = Annotated[str, msgspec.Meta(max_length=40)]
# Part of a phone number: digits, optionally after a `+` (found anywhere in either party).
# Declared in the schema, and checked here: Litestar does not apply a constraint inside an
# optional query parameter.
NUMBER_PART = re.compile(r"^\+?[0-9]{1,20}$")


@dataclass(frozen=True, slots=True)
class CallFilters:
    columns: dict[str, Any]
    since: datetime | None
    until: datetime | None
    text: str | None
    number: str | None
    sort: str


async def call_filters(
    status: FromQuery[ShortFilter | None] = None,
    direction: FromQuery[Direction | None] = None,
    agent_id: FromQuery[uuid.UUID | None] = None,
    outcome: FromQuery[ShortFilter | None] = None,
    id: FromQuery[uuid.UUID | None] = None,
    number: Annotated[str | None, QueryParameter(pattern=NUMBER_PART.pattern)] = None,
    since: FromQuery[datetime | None] = None,
    until: FromQuery[datetime | None] = None,
    q: FromQuery[Annotated[str, msgspec.Meta(max_length=MAX_FILTER_CHARS)] | None] = None,
    sort: Annotated[str, sort_param(CallRepository.sortable)] = "-started_at",
) -> CallFilters:
    """`since`/`until` bound when the call began (not when its record was written); `number`
    is found in the caller's or the called number, without its `+`; `q` searches the
    transcript; `id` is one call."""
    if number is not None and not NUMBER_PART.match(number):
        # 400, as for any other query parameter that does not parse.
        reason = "digits of a phone number, optionally after a +"
        raise ApiError(400, f"number: {reason}", errors=[FieldError("number", reason)])
    given = {"status": status, "direction": direction, "agent_id": agent_id}
    given |= {"outcome": outcome, "id": id}
    return CallFilters(
        columns={k: v for k, v in given.items() if v is not None},
        since=since,
        until=until,
        text=q,
        number=number.removeprefix("+") if number else None,
        sort=sort,
    )
