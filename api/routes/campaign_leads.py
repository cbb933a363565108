"""A campaign's leads, a page at a time, each with its attempts (and the call of each): what
the admin reads to see who was called, when, and how it ended."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Router, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter

from api.auth import Principal, authenticate
from api.common import DEFAULT_LIMIT, Limit, Offset
from api.context import ApiContext
from api.errors import not_found, problems
from store.campaign_rules import Disposition, LeadState
from store.repositories.campaigns import AttemptRepository, CampaignRepository, LeadRepository


class LeadAttempt(msgspec.Struct, kw_only=True):
    """One dial of a lead; `disposition` is null while the call is not settled."""

    attempt: int
    caller_id: str
    dialled_at: datetime
    disposition: str | None
    call_id: uuid.UUID


class LeadOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    number: str
    timezone: str
    variables: dict[str, str]
    state: str
    attempts: int
    last_disposition: str | None
    next_attempt_at: datetime
    history: list[LeadAttempt]


class LeadList(msgspec.Struct, kw_only=True):
    items: list[LeadOut]
    total: int
    limit: int
    offset: int


@get(
    "/{campaign_id:uuid}/leads",
    operation_id="listCampaignLeads",
    responses=problems(400, 401, 404, 429),
)
async def list_leads(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    campaign_id: FromPath[uuid.UUID],
    # `state` is Litestar's reserved name for the app's state, hence the alias.
    lead_state: Annotated[
        LeadState | None, QueryParameter(name="state", description="Only leads in this state.")
    ] = None,
    disposition: Annotated[
        Disposition | None, QueryParameter(description="Only leads whose last attempt ended so.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> LeadList:
    """Leads in number order, each with every attempt so far."""
    tenant_id = principal.tenant_id
    if await CampaignRepository(context.pool).get(tenant_id, campaign_id) is None:
        raise not_found("campaign")
    filters: dict[str, Any] = {"campaign_id": campaign_id}
    if lead_state is not None:
        filters["state"] = lead_state.value
    if disposition is not None:
        filters["last_disposition"] = disposition.value
    page = await LeadRepository(context.pool).list_page(
        tenant_id, filters=filters, sort="number", limit=limit, offset=offset
    )
    attempts = await AttemptRepository(context.pool).of_leads(
        tenant_id, [lead.id for lead in page.items]
    )
    history: defaultdict[uuid.UUID, list[LeadAttempt]] = defaultdict(list)
    for a in attempts:
        history[a.lead_id].append(
            LeadAttempt(
                attempt=a.attempt,
                caller_id=a.caller_id,
                dialled_at=a.dialled_at,
                disposition=a.disposition,
                call_id=a.call_id,
            )
        )
    items = [
        LeadOut(
            id=lead.id,
            number=lead.number,
            timezone=lead.timezone,
            variables=lead.variables,
            state=lead.state,
            attempts=lead.attempts,
            last_disposition=lead.last_disposition,
            next_attempt_at=lead.next_attempt_at,
            history=history[lead.id],
        )
        for lead in page.items
    ]
    return LeadList(items=items, total=page.total, limit=page.limit, offset=page.offset)


router = Router(
    path="/campaigns",
    route_handlers=[list_leads],
    tags=["campaigns"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate)},
)
