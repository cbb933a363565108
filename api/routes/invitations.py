"""Invitations: an admin invites a colleague by e-mail with a role; the colleague chooses a
password through a single-use link that expires, and is signed in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from api.auth import Principal, Role, authenticate, authenticate_writer, user_principal
from api.common import audit
from api.context import ApiContext
from api.errors import ApiError, invalid, not_found, problems
from api.routes.auth import Email, LoginResponse, signed_in
from api.routes.users import Password
from api.sign_in_limits import count_attempt
from store.models import SignInLink
from store.repositories.base import Conflict
from store.repositories.config import UserRepository
from store.repositories.sign_in_links import INVITATION, SignInLinkRepository, SsoRequired
from store.repositories.tenants import TenantsRepository
from store.secrets import hash_link_token, hash_password, new_link_token

LinkToken = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
# One answer for every link that cannot be used, so a guess learns nothing about the others.
UNUSABLE_LINK = "the link is invalid, expired or already used"
# An invitation signs its colleague in with a password, which such a tenant refuses.
_SSO_ONLY = (
    "this tenant signs in with single sign-on: its users sign in through its identity "
    "provider (an admin adds them, or allows their e-mail domain)"
)


class InvitationCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Email
    role: Role = "viewer"


class InvitationOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    email: str
    role: Role
    invited_by: str
    expires_at: datetime
    created_at: datetime


class InvitationList(msgspec.Struct, kw_only=True):
    items: list[InvitationOut]


class InvitationAccept(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    token: LinkToken
    password: Password


def _out(row: SignInLink) -> InvitationOut:
    return InvitationOut(
        id=row.id,
        email=row.email,
        role=row.role,  # type: ignore[arg-type]  # the table's CHECK keeps it a Role
        invited_by=row.created_by,
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


@post(
    "/",
    operation_id="createInvitation",
    summary="Invite a colleague by e-mail",
    responses=problems(400, 401, 403, 409, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def create_invitation(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[InvitationCreate],
) -> InvitationOut:
    if data.role == "owner" and principal.role != "owner":
        raise ApiError(403, "only an owner can grant the owner role")
    users = await UserRepository(context.pool).list_page(
        principal.tenant_id, filters={"email": data.email}, limit=1
    )
    if users.total:
        raise ApiError(409, "this e-mail already has an account in this tenant")
    tenant = await TenantsRepository(context.pool).get(principal.tenant_id)
    if tenant is not None and tenant.require_sso:
        raise ApiError(409, _SSO_ONLY)
    token, token_hash = new_link_token()
    expires_at = datetime.now(UTC) + timedelta(seconds=context.settings.invitation_ttl_s)
    row = await SignInLinkRepository(context.pool).create(
        principal.tenant_id,
        {
            "kind": INVITATION,
            "email": data.email,
            "role": data.role,
            "token_hash": token_hash,
            "created_by": principal.actor,
            "expires_at": expires_at,
        },
    )
    link = f"{context.settings.public_url}/accept-invitation#token={token}"
    context.mailer.send_later(
        data.email,
        "You are invited to Vocals",
        f"{principal.actor} invited you to Vocals as {data.role}.\n\n"
        f"Choose your password here (the link works once, until {expires_at:%Y-%m-%d %H:%M} "
        f"UTC):\n{link}\n",
    )
    await audit(
        context, principal, "invite", "user", None, after={"email": row.email, "role": row.role}
    )
    return _out(row)


@get(
    "/",
    operation_id="listInvitations",
    summary="Invitations not accepted yet",
    responses=problems(401, 429),
    dependencies={"principal": Provide(authenticate)},
)
async def list_invitations(
    principal: NamedDependency[Principal], context: NamedDependency[ApiContext]
) -> InvitationList:
    rows = await SignInLinkRepository(context.pool).pending_invitations(principal.tenant_id)
    return InvitationList(items=[_out(r) for r in rows])


@delete(
    "/{invitation_id:uuid}",
    operation_id="revokeInvitation",
    status_code=HTTP_204_NO_CONTENT,
    responses=problems(401, 403, 404, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def revoke_invitation(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    invitation_id: FromPath[uuid.UUID],
) -> None:
    row = await SignInLinkRepository(context.pool).revoke_invitation(
        principal.tenant_id, invitation_id
    )
    if row is None:
        raise not_found("invitation")
    await audit(
        context,
        principal,
        "revoke_invitation",
        "user",
        None,
        before={"email": row.email, "role": row.role},
    )


@post(
    "/accept",
    operation_id="acceptInvitation",
    status_code=200,
    summary="Accept an invitation: choose a password and sign in",
    responses=problems(400, 403, 409, 429),
)
async def accept_invitation(
    request: Request[Any, Any, Any],
    context: NamedDependency[ApiContext],
    data: JSONBody[InvitationAccept],
) -> LoginResponse:
    # Links are guessed like passwords: the same per-address limit, counted first.
    await count_attempt(context, request, None)
    password_hash = await hash_password(data.password)
    try:
        accepted = await SignInLinkRepository(context.pool).accept_invitation(
            hash_link_token(data.token), password_hash
        )
    except Conflict:
        raise ApiError(409, "this e-mail has an account already: sign in instead") from None
    except SsoRequired:
        raise ApiError(403, _SSO_ONLY) from None
    if accepted is None:
        raise invalid("token", UNUSABLE_LINK)
    link, user = accepted
    await audit(
        context,
        user_principal(user),
        "accept_invitation",
        "user",
        user.id,
        after={"email": user.email, "role": user.role, "invited_by": link.created_by},
    )
    return await signed_in(context, user, "invitation")


admin_router = Router(
    path="/users/invitations",
    route_handlers=[create_invitation, list_invitations, revoke_invitation],
    tags=["users"],
    security=[{"bearer": []}],
)

public_router = Router(
    path="/auth/invitations",
    route_handlers=[accept_invitation],
    tags=["auth"],
)
