"""Web-call tokens: what lets a browser talk to an agent without holding an API key.

* `POST /web-calls` - a site's backend (with its API key, rate-limited as every request)
  mints a token for one agent, one origin and a few minutes, and gives it to the visitor's
  page, which opens the socket with it.
* `POST /agents/{agent_id}/web-calls` - an admin in the UI starts a test call, optionally with
  the agent's unsaved changes as a draft that this call alone runs.

A token starts one call; the socket is served by `web_calls/` (see its protocol).
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

import msgspec
from litestar import Request, Router, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from api.auth import Principal, authenticate_writer
from api.common import audit
from api.context import ApiContext
from api.errors import FieldError, invalid_fields, not_found, problems
from api.routes.agents import AgentUpdate, _checked_values
from api.routes.calls import MAX_VARIABLES, VariableName, VariableValue
from store.models import Agent
from store.repositories.config import AgentRepository
from store.web_call_tokens import WebCallGrant, WebCallTokens

# Served by web_calls.routes, which api/ must not import; tests check the two agree.
SOCKET_PATH: Final = "/web-calls/{agent_id}/socket"
SCRIPT_PATH: Final = "/web-call.js"
# Long enough for a page to open its socket after its backend minted the token, short enough
# that a leaked one is soon worthless; a site may ask for up to an hour.
DEFAULT_LIFETIME_S: Final = 300
MAX_LIFETIME_S: Final = 3600
# A page on a fast network opens its socket within a second of getting the token.
MIN_LIFETIME_S: Final = 1
# An admin's test call starts the moment the token comes back.
ADMIN_LIFETIME_S: Final = 60
LifetimeSeconds = Annotated[int, msgspec.Meta(ge=MIN_LIFETIME_S, le=MAX_LIFETIME_S)]
# What a browser sends as `Origin`: scheme, host and a port only when it is not the default.
ORIGIN: Final = re.compile(
    r"^https?://(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)(:\d{1,5})?$"
)
ORIGIN_HINT: Final = "must be an origin such as https://www.example.com (scheme and host, no path)"


class WebCallCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A token for one call with `agent_id`, from pages of `allowed_origin`."""

    agent_id: uuid.UUID
    allowed_origin: Annotated[str, msgspec.Meta(max_length=300)]
    lifetime_s: LifetimeSeconds = DEFAULT_LIFETIME_S
    variables: Annotated[
        dict[VariableName, VariableValue], msgspec.Meta(max_length=MAX_VARIABLES)
    ] = msgspec.field(default_factory=dict)


class AdminWebCall(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`draft`: the agent's unsaved changes, run by this call only (null: the agent as saved)."""

    draft: AgentUpdate | None = None


class WebCallToken(msgspec.Struct, kw_only=True):
    """Give `token` and `socket_url` to the page; the token starts one call, until
    `expires_at`, from `allowed_origin` only."""

    token: str
    agent_id: uuid.UUID
    allowed_origin: str
    expires_at: datetime
    socket_url: str
    script_url: str
    draft: bool


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _socket_url(public_url: str, agent_id: uuid.UUID) -> str:
    base = public_url.rstrip("/")
    base = "ws" + base.removeprefix("http") if base.startswith("http") else base
    return base + SOCKET_PATH.format(agent_id=agent_id)


async def _issue(context: ApiContext, grant: WebCallGrant, agent: Agent) -> WebCallToken:
    """Store the token and, while the page gets ready, the agent (`prepare_web_call`)."""
    token = await WebCallTokens(context.redis).issue(grant)
    if context.prepare_web_call is not None:
        context.prepare_web_call(agent)
    return WebCallToken(
        token=token,
        agent_id=grant.agent_id,
        allowed_origin=grant.origin,
        expires_at=datetime.fromtimestamp(grant.expires_at, UTC),
        socket_url=_socket_url(context.settings.public_url, grant.agent_id),
        script_url=context.settings.public_url.rstrip("/") + SCRIPT_PATH,
        draft=grant.draft is not None,
    )


@post(
    "/web-calls",
    operation_id="createWebCallToken",
    summary="Mint a short-lived, single-use token for a browser call",
    responses=problems(400, 401, 403, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def create_web_call(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[WebCallCreate],
) -> WebCallToken:
    errors: list[FieldError] = []
    origin = data.allowed_origin.lower()
    if not ORIGIN.match(origin):
        errors.append(FieldError("allowed_origin", ORIGIN_HINT))
    agent = await AgentRepository(context.pool).get(principal.tenant_id, data.agent_id)
    if agent is None:
        errors.append(FieldError("agent_id", "no agent with this id"))
    if errors or agent is None:
        raise invalid_fields(errors)
    grant = WebCallGrant(
        tenant_id=principal.tenant_id,
        agent_id=data.agent_id,
        origin=origin,
        expires_at=time.time() + data.lifetime_s,
        variables=dict(data.variables),
        actor=principal.actor,
    )
    # Not audited: a site mints one per visitor's call; the call's record is the trace.
    return await _issue(context, grant, agent)


@post(
    "/agents/{agent_id:uuid}/web-calls",
    operation_id="startAgentWebCall",
    summary="Talk to this agent from the browser (an admin's test call)",
    responses=problems(400, 401, 403, 404, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def start_agent_web_call(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    request: Request[Any, Any, Any],
    agent_id: FromPath[uuid.UUID],
    data: JSONBody[AdminWebCall],
) -> WebCallToken:
    tenant_id = principal.tenant_id
    agent = await AgentRepository(context.pool).get(tenant_id, agent_id)
    if agent is None:
        raise not_found("agent")
    draft = None if data.draft is None else await _drafted(context, agent, data.draft)
    origin = request.headers.get("origin") or _origin_of(context.settings.public_url)
    grant = WebCallGrant(
        tenant_id=tenant_id,
        agent_id=agent_id,
        origin=origin.lower(),
        expires_at=time.time() + ADMIN_LIFETIME_S,
        draft=draft,
        actor=principal.actor,
    )
    after = {"allowed_origin": grant.origin, "draft": draft is not None}
    await audit(context, principal, "test_call", "agent", agent_id, after=after)
    return await _issue(context, grant, agent if draft is None else draft)


async def _drafted(context: ApiContext, agent: Agent, update: AgentUpdate) -> Agent:
    """`agent` with the unsaved changes, checked as saving them would be (422 otherwise)."""
    given: dict[str, Any] = msgspec.to_builtins(update)
    given.pop("inbound_numbers", None)  # numbers route phone calls, not this one
    values = await _checked_values(context, agent.tenant_id, given, agent)
    return msgspec.structs.replace(agent, **values)


router = Router(
    path="/", route_handlers=[create_web_call, start_agent_web_call], tags=["web-calls"]
)
