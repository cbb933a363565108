"""Campaigns: an agent calling a list of leads, paced, inside calling windows, retried per
disposition; start / pause / resume / cancel, progress and a CSV of results. Audited.

The runner in every `vocals serve` process (ari_app/campaign_runner.py) does the calling; the
API only writes the campaign, its leads and its status.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from litestar import Router, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from api.auth import Principal, authenticate, authenticate_writer
from api.common import DEFAULT_LIMIT, Limit, Offset, audit
from api.context import ApiContext
from api.csv_text import BadCsv, csv_stream, read_rows
from api.errors import ApiError, FieldError, invalid, invalid_fields, not_found, problems
from providers.pricing import CURRENCY
from store.campaign_rules import (
    DEFAULT_RETRY_RULES,
    CallingWindow,
    RetryRule,
    window_errors,
)
from store.numbers import normalize_number
from store.phone import (
    BadNumber,
    number_region,
    number_timezone,
    parse_number,
    read_lead_number,
    valid_timezone,
)
from store.repositories.campaigns import (
    AttemptRepository,
    Campaign,
    CampaignRepository,
    LeadRepository,
    NewLead,
)
from store.repositories.config import AgentRepository, InboundRouteRepository, SipTrunkRepository
from store.repositories.twilio import TwilioAccountRepository

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Region = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]
VariableName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
VariableValue = Annotated[str, msgspec.Meta(max_length=1_000)]
# Leads per request: a bigger list is posted in parts (the body limit is 1 MB anyway).
MAX_LEADS = 10_000
MAX_CALLER_IDS = 100
# The dial rate shown is over this last stretch of time.
RATE_WINDOW = timedelta(minutes=1)
# Dispositions of an attempt that reached someone or something that answered.
ANSWERED = frozenset(
    {
        "human",
        "voicemail_left",
        "voicemail_no_message",
        "ivr",
        "call_screening",
        "transferred",
        "dnc_requested",
    }
)
# Statuses whose settings may be replaced: a running campaign is paused first, so no dial
# happens under half-changed caps.
EDITABLE = ("draft", "scheduled", "paused")
RESULT_COLUMNS = (
    "number",
    "timezone",
    "lead_state",
    "lead_attempts",
    "last_disposition",
    "attempt",
    "caller_id",
    "dialled_at",
    "disposition",
    "call_id",
)


class RetryRules(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """How often and how much later each retryable disposition is called again (left out:
    not retried)."""

    busy: RetryRule | None = None
    no_answer: RetryRule | None = None
    failed: RetryRule | None = None
    voicemail_no_message: RetryRule | None = None
    ivr: RetryRule | None = None
    call_screening: RetryRule | None = None


class CampaignCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A campaign, created as a draft: its agent calls out through `trunk_id`, or through the
    tenant's Twilio account with `twilio` (the agent needs a Twilio number)."""

    name: Name
    agent_id: uuid.UUID
    trunk_id: uuid.UUID | None = None
    twilio: bool = False
    max_concurrency: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 1
    calls_per_second: Annotated[float, msgspec.Meta(gt=0, le=100)] = 1.0
    calling_window: CallingWindow = msgspec.field(default_factory=CallingWindow)
    retry_rules: RetryRules = msgspec.field(
        default_factory=lambda: msgspec.convert(
            msgspec.to_builtins(DEFAULT_RETRY_RULES), RetryRules
        )
    )
    caller_ids: Annotated[list[str], msgspec.Meta(max_length=MAX_CALLER_IDS)] = msgspec.field(
        default_factory=list
    )
    default_timezone: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "UTC"
    start_at: datetime | None = None


class CampaignOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    agent_id: uuid.UUID
    trunk_id: uuid.UUID | None
    twilio: bool
    status: str
    start_at: datetime | None
    max_concurrency: int
    calls_per_second: float
    calling_window: dict[str, Any]
    retry_rules: dict[str, Any]
    caller_ids: list[str]
    default_timezone: str
    started_at: datetime | None
    completed_at: datetime | None
    created_at: datetime


class CampaignList(msgspec.Struct, kw_only=True):
    items: list[CampaignOut]
    total: int
    limit: int
    offset: int


class LeadIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    number: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    timezone: str | None = None
    variables: Annotated[dict[VariableName, VariableValue], msgspec.Meta(max_length=50)] = (
        msgspec.field(default_factory=dict)
    )


class LeadsIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Leads as JSON; `region` reads national numbers (without `+`) as that country's (left
    out: the country of the number the campaign calls from, when it has one)."""

    leads: Annotated[list[LeadIn], msgspec.Meta(min_length=1, max_length=MAX_LEADS)]
    region: Region | None = None


class LeadsCsv(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Leads as CSV: a header naming `number`, optionally `timezone`; every other column is a
    variable for the agent's prompt."""

    csv: Annotated[str, msgspec.Meta(min_length=1, max_length=1_000_000)]
    region: Region | None = None


class LeadsAdded(msgspec.Struct, kw_only=True):
    """`region`: the country national numbers were read in (the request's, else that of the
    number the campaign calls from)."""

    added: int
    duplicates: int
    region: str | None = None


class CampaignCost(msgspec.Struct, kw_only=True):
    """What the campaign's calls cost so far in `currency`: each call is priced shortly after
    it ends (`pending_calls`: ended, not priced yet); a call that used a provider with no
    known price counts in `calls_with_unpriced_usage`, that provider left out of `total`."""

    total: float
    currency: str
    priced_calls: int
    pending_calls: int
    calls_with_unpriced_usage: int


class Progress(msgspec.Struct, kw_only=True):
    """Leads by state, attempts by disposition (`in_progress`: not ended yet), the dial rate
    over the last minute, the share of ended attempts that were answered and the cost so
    far."""

    status: str
    leads: dict[str, int]
    total_leads: int
    dispositions: dict[str, int]
    attempts: int
    dial_rate_per_minute: float
    answer_rate: float | None
    cost: CampaignCost


def _out(row: Campaign) -> CampaignOut:
    return msgspec.convert(
        {f: getattr(row, f) for f in CampaignOut.__struct_fields__}, CampaignOut, strict=False
    )


async def _campaign(context: ApiContext, principal: Principal, campaign_id: uuid.UUID) -> Campaign:
    row = await CampaignRepository(context.pool).get(principal.tenant_id, campaign_id)
    if row is None:
        raise not_found("campaign")
    return row


async def _carrier_errors(
    context: ApiContext, tenant_id: uuid.UUID, data: CampaignCreate
) -> list[FieldError]:
    """The trunk or Twilio the campaign calls through, and caps within the trunk's own."""
    if data.twilio == (data.trunk_id is not None):
        return [FieldError("trunk_id", "give either trunk_id or twilio: true, not both")]
    if data.twilio:
        twilio = TwilioAccountRepository(context.pool, context.box)
        if await twilio.agent_twilio_number(tenant_id, data.agent_id) is None:
            return [FieldError("twilio", "the agent has no Twilio number to call from")]
        return []
    assert data.trunk_id is not None
    trunk = await SipTrunkRepository(context.pool, context.box).get(tenant_id, data.trunk_id)
    if trunk is None:
        return [FieldError("trunk_id", "no SIP trunk with this id")]
    errors = []
    if data.max_concurrency > trunk.max_calls:
        errors.append(
            FieldError(
                "max_concurrency", f"the trunk allows {trunk.max_calls} calls at once at most"
            )
        )
    if data.calls_per_second > trunk.max_cps:
        errors.append(
            FieldError(
                "calls_per_second", f"the trunk allows {trunk.max_cps:g} calls per second at most"
            )
        )
    return errors


async def _caller_id_errors(
    context: ApiContext, tenant_id: uuid.UUID, numbers: list[str]
) -> tuple[list[str], list[FieldError]]:
    """The caller ids in stored form; each must be one of the tenant's own numbers."""
    routes = InboundRouteRepository(context.pool)
    stored, errors = [], []
    for i, raw in enumerate(numbers):
        try:
            number = parse_number(raw)
        except BadNumber as exc:
            errors.append(FieldError(f"caller_ids[{i}]", str(exc)))
            continue
        if (await routes.list_page(tenant_id, filters={"did": number}, limit=1)).total == 0:
            errors.append(FieldError(f"caller_ids[{i}]", f"{number} is not one of your numbers"))
        stored.append(number)
    return stored, errors


async def _values(
    context: ApiContext, tenant_id: uuid.UUID, data: CampaignCreate
) -> dict[str, Any]:
    """The campaign's columns once every rule holds; a 422 naming each field at fault."""
    errors: list[FieldError] = []
    if await AgentRepository(context.pool).get(tenant_id, data.agent_id) is None:
        errors.append(FieldError("agent_id", "no agent with this id"))
    else:
        errors += await _carrier_errors(context, tenant_id, data)
    caller_ids, caller_errors = await _caller_id_errors(context, tenant_id, data.caller_ids)
    errors += caller_errors
    errors += [
        FieldError(f"calling_window.{field}", reason)
        for field, reason in window_errors(data.calling_window)
    ]
    if not valid_timezone(data.default_timezone):
        errors.append(FieldError("default_timezone", "not a time zone name (e.g. Europe/Paris)"))
    if errors:
        raise invalid_fields(errors)
    start_at = data.start_at
    if start_at is not None and start_at.tzinfo is None:
        start_at = start_at.replace(tzinfo=UTC)
    return {
        "name": data.name,
        "agent_id": data.agent_id,
        "trunk_id": data.trunk_id,
        "twilio": data.twilio,
        "max_concurrency": data.max_concurrency,
        "calls_per_second": data.calls_per_second,
        "calling_window": msgspec.to_builtins(data.calling_window),
        "retry_rules": msgspec.to_builtins(data.retry_rules),
        "caller_ids": caller_ids,
        "default_timezone": data.default_timezone,
        "start_at": start_at,
    }


@post(
    "/",
    operation_id="createCampaign",
    status_code=HTTP_201_CREATED,
    responses=problems(400, 401, 403, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def create_campaign(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[CampaignCreate],
) -> CampaignOut:
    values = await _values(context, principal.tenant_id, data)
    row = await CampaignRepository(context.pool).create(principal.tenant_id, values)
    out = _out(row)
    await audit(context, principal, "create", "campaign", row.id, after=out)
    return out


@put(
    "/{campaign_id:uuid}",
    operation_id="replaceCampaign",
    responses=problems(400, 401, 403, 404, 409, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def replace_campaign(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    campaign_id: FromPath[uuid.UUID],
    data: JSONBody[CampaignCreate],
) -> CampaignOut:
    """Replace a campaign's settings, as created, while it is not calling (a draft, scheduled
    or paused); its status and leads stay."""
    before = await _campaign(context, principal, campaign_id)
    values = await _values(context, principal.tenant_id, data)
    row = await CampaignRepository(context.pool).update_when(
        principal.tenant_id, campaign_id, EDITABLE, values
    )
    if row is None:
        raise ApiError(409, f"a {before.status} campaign cannot be changed; pause it first")
    out = _out(row)
    await audit(context, principal, "update", "campaign", row.id, before=_out(before), after=out)
    return out


@get("/", operation_id="listCampaigns", responses=problems(400, 401, 429))
async def list_campaigns(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> CampaignList:
    page = await CampaignRepository(context.pool).list_page(
        principal.tenant_id, limit=limit, offset=offset
    )
    return CampaignList(
        items=[_out(r) for r in page.items], total=page.total, limit=page.limit, offset=page.offset
    )


@get("/{campaign_id:uuid}", operation_id="getCampaign", responses=problems(401, 404, 429))
async def get_campaign(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    campaign_id: FromPath[uuid.UUID],
) -> CampaignOut:
    return _out(await _campaign(context, principal, campaign_id))


def _lead(
    index: str, raw: LeadIn, region: str | None, default_region: str | None, fallback_tz: str
) -> tuple[NewLead | None, FieldError | None]:
    try:
        number = read_lead_number(raw.number, region, default_region)
    except BadNumber as exc:
        return None, FieldError(f"{index}.number", str(exc))
    if not number.startswith("+"):
        return None, FieldError(
            f"{index}.number", f"{raw.number!r} has no country code: write it with + or give region"
        )
    tz = raw.timezone or number_timezone(number) or fallback_tz
    if not valid_timezone(tz):
        return None, FieldError(f"{index}.timezone", f"{tz!r} is not a time zone name")
    return NewLead(number=number, timezone=tz, variables=dict(raw.variables)), None


async def _default_region(context: ApiContext, campaign: Campaign) -> str | None:
    """The country a lead list's national numbers are read in when the request gives none:
    that of the number the campaign calls from (its first caller id, else its trunk's
    caller id, else the agent's first number; Twilio numbers included)."""
    candidates = list(campaign.caller_ids[:1])
    if campaign.trunk_id is not None:
        trunk = await SipTrunkRepository(context.pool, context.box).get(
            campaign.tenant_id, campaign.trunk_id
        )
        if trunk is not None and trunk.from_user:
            candidates.append(normalize_number(trunk.from_user))
    routes = await InboundRouteRepository(context.pool).list_page(
        campaign.tenant_id, filters={"agent_id": campaign.agent_id}, sort="created_at", limit=1
    )
    candidates += [route.did for route in routes.items]
    regions = (number_region(number) for number in candidates)
    return next((region for region in regions if region is not None), None)


async def _add_leads(
    context: ApiContext,
    principal: Principal,
    campaign: Campaign,
    leads: list[tuple[str, LeadIn]],
    region: str | None,
) -> LeadsAdded:
    if campaign.status in ("cancelled", "completed"):
        raise ApiError(409, f"the campaign is {campaign.status}; it takes no more leads")
    default_region = None if region is not None else await _default_region(context, campaign)
    new: list[NewLead] = []
    errors: list[FieldError] = []
    for index, raw in leads:
        lead, error = _lead(index, raw, region, default_region, campaign.default_timezone)
        if error is not None:
            errors.append(error)
        elif lead is not None:
            new.append(lead)
    if errors:
        raise invalid_fields(errors)
    added = await LeadRepository(context.pool).add(principal.tenant_id, campaign.id, new)
    await audit(context, principal, "add_leads", "campaign", campaign.id, after={"added": added})
    return LeadsAdded(added=added, duplicates=len(new) - added, region=region or default_region)


@post(
    "/{campaign_id:uuid}/leads",
    operation_id="addCampaignLeads",
    status_code=HTTP_201_CREATED,
    responses=problems(400, 401, 403, 404, 409, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def add_leads(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    campaign_id: FromPath[uuid.UUID],
    data: JSONBody[LeadsIn],
) -> LeadsAdded:
    """Add leads; one bad lead refuses them all (each is named in `errors`). A number the
    campaign has already is a duplicate, not an error. A lead's time zone, when not given, is
    its number's (when its country has one), else the campaign's default."""
    campaign = await _campaign(context, principal, campaign_id)
    indexed = [(f"leads[{i}]", lead) for i, lead in enumerate(data.leads)]
    return await _add_leads(context, principal, campaign, indexed, data.region)


@post(
    "/{campaign_id:uuid}/leads/import",
    operation_id="importCampaignLeads",
    status_code=HTTP_201_CREATED,
    responses=problems(400, 401, 403, 404, 409, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def import_leads(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    campaign_id: FromPath[uuid.UUID],
    data: JSONBody[LeadsCsv],
) -> LeadsAdded:
    """Add leads from CSV, as `POST …/leads` does; bad rows are named by CSV line."""
    campaign = await _campaign(context, principal, campaign_id)
    try:
        rows = read_rows(data.csv, required="number")
    except BadCsv as exc:
        raise invalid("csv", str(exc)) from None
    if not rows:
        raise invalid("csv", "the CSV has a header but no leads")
    if len(rows) > MAX_LEADS:
        raise invalid("csv", f"at most {MAX_LEADS} leads per import")
    leads = []
    for line, row in rows:
        variables = {k: v for k, v in row.items() if k not in ("number", "timezone") and k}
        leads.append(
            (
                f"csv.line[{line}]",
                LeadIn(
                    number=row.get("number", ""),
                    timezone=row.get("timezone") or None,
                    variables=variables,
                ),
            )
        )
    return await _add_leads(context, principal, campaign, leads, data.region)


Action = Literal["start", "pause", "resume", "cancel"]
# Which statuses each action moves from.
_FROM: dict[str, tuple[str, ...]] = {
    "start": ("draft",),
    "pause": ("running", "scheduled"),
    "resume": ("paused",),
    "cancel": ("draft", "scheduled", "running", "paused"),
}


async def _act(
    context: ApiContext, principal: Principal, campaign_id: uuid.UUID, action: Action
) -> CampaignOut:
    campaign = await _campaign(context, principal, campaign_id)
    to = {"pause": "paused", "cancel": "cancelled"}.get(action, "running")
    if to == "running" and campaign.start_at is not None and campaign.start_at > datetime.now(UTC):
        to = "scheduled"
    repo = CampaignRepository(context.pool)
    moved = await repo.move(principal.tenant_id, campaign_id, _FROM[action], to)
    if moved is None:
        raise ApiError(409, f"a {campaign.status} campaign cannot {action}")
    if action == "cancel":
        await LeadRepository(context.pool).cancel_pending(principal.tenant_id, campaign_id)
    await audit(
        context,
        principal,
        action,
        "campaign",
        campaign_id,
        before={"status": campaign.status},
        after={"status": moved.status},
    )
    return _out(moved)


def _action_route(action: Action) -> Any:
    @post(
        f"/{{campaign_id:uuid}}/{action}",
        operation_id=f"{action}Campaign",
        status_code=HTTP_200_OK,
        responses=problems(400, 401, 403, 404, 409, 429),
        dependencies={"principal": Provide(authenticate_writer)},
        name=f"{action}_campaign",
    )
    async def handler(
        principal: NamedDependency[Principal],
        context: NamedDependency[ApiContext],
        campaign_id: FromPath[uuid.UUID],
    ) -> CampaignOut:
        """Start (or schedule, with a future `start_at`), pause, resume or cancel."""
        return await _act(context, principal, campaign_id, action)

    return handler


@get(
    "/{campaign_id:uuid}/progress",
    operation_id="getCampaignProgress",
    responses=problems(401, 404, 429),
)
async def progress(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    campaign_id: FromPath[uuid.UUID],
) -> Progress:
    campaign = await _campaign(context, principal, campaign_id)
    tenant_id = principal.tenant_id
    leads = await LeadRepository(context.pool).state_counts(tenant_id, campaign_id)
    attempts = AttemptRepository(context.pool)
    dispositions = await attempts.disposition_counts(tenant_id, campaign_id)
    recent = await attempts.dialled_since(tenant_id, campaign_id, datetime.now(UTC) - RATE_WINDOW)
    cost = await attempts.cost(tenant_id, campaign_id)
    ended = sum(n for d, n in dispositions.items() if d != "in_progress")
    answered = sum(n for d, n in dispositions.items() if d in ANSWERED)
    return Progress(
        status=campaign.status,
        leads=leads,
        total_leads=sum(leads.values()),
        dispositions=dispositions,
        attempts=sum(dispositions.values()),
        dial_rate_per_minute=recent * (timedelta(minutes=1) / RATE_WINDOW),
        answer_rate=answered / ended if ended else None,
        cost=CampaignCost(currency=CURRENCY, **msgspec.structs.asdict(cost)),
    )


@get(
    "/{campaign_id:uuid}/results",
    operation_id="exportCampaignResults",
    summary="Every lead with each of its attempts, as CSV",
    media_type="text/csv",
    responses=problems(401, 404, 429),
)
async def results(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    campaign_id: FromPath[uuid.UUID],
) -> Stream:
    campaign = await _campaign(context, principal, campaign_id)
    records = AttemptRepository(context.pool).results(principal.tenant_id, campaign.id)

    async def rows() -> AsyncIterator[list[Any]]:
        async for r in records:
            yield [
                r["number"],
                r["timezone"],
                r["state"],
                r["attempts"],
                r["last_disposition"],
                r["attempt"],
                r["caller_id"],
                r["dialled_at"],
                r["disposition"],
                r["call_id"],
            ]

    return Stream(
        csv_stream(RESULT_COLUMNS, rows()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="campaign-{campaign.id}.csv"'},
    )


router = Router(
    path="/campaigns",
    route_handlers=[
        create_campaign,
        replace_campaign,
        list_campaigns,
        get_campaign,
        add_leads,
        import_leads,
        *(_action_route(a) for a in ("start", "pause", "resume", "cancel")),
        progress,
        results,
    ],
    tags=["campaigns"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate)},
)
