"""Password reset by e-mail: a single-use link that expires. Asking for one answers the same
whether or not the e-mail has an account, and the mail goes out after the answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Request, Router, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from api.auth import user_principal
from api.common import audit
from api.context import ApiContext
from api.errors import invalid, problems
from api.routes.auth import Email
from api.routes.invitations import UNUSABLE_LINK, LinkToken
from api.routes.users import Password
from api.sign_in_limits import count_attempt
from store.repositories.config import UserRepository
from store.repositories.sign_in_links import PASSWORD_RESET, SignInLinkRepository
from store.secrets import hash_link_token, hash_password, new_link_token

RESET_REQUESTED = "if this e-mail has an account, a reset link is on its way"


class ResetRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Email


class ResetRequested(msgspec.Struct, kw_only=True):
    detail: str


class ResetConfirm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    token: LinkToken
    password: Password


@post(
    "/",
    operation_id="requestPasswordReset",
    status_code=HTTP_202_ACCEPTED,
    summary="Send a password reset link (the answer never says whether the e-mail exists)",
    responses=problems(400, 429),
)
async def request_reset(
    request: Request[Any, Any, Any],
    context: NamedDependency[ApiContext],
    data: JSONBody[ResetRequest],
) -> ResetRequested:
    # Counted as a sign-in attempt on the account, known or not, so the limit says nothing.
    await count_attempt(context, request, data.email)
    user = await UserRepository(context.pool).find_for_login(data.email)
    if user is not None:
        token, token_hash = new_link_token()
        expires_at = datetime.now(UTC) + timedelta(seconds=context.settings.password_reset_ttl_s)
        await SignInLinkRepository(context.pool).create(
            user.tenant_id,
            {
                "kind": PASSWORD_RESET,
                "email": user.email,
                "user_id": user.id,
                "token_hash": token_hash,
                "created_by": user.email,
                "expires_at": expires_at,
            },
        )
        link = f"{context.settings.public_url}/reset-password#token={token}"
        context.mailer.send_later(
            user.email,
            "Reset your Vocals password",
            "Someone (we hope you) asked to reset your Vocals password.\n\n"
            f"Choose a new one here (the link works once, until {expires_at:%Y-%m-%d %H:%M} "
            f"UTC):\n{link}\n\nIf it was not you, ignore this mail: your password stays.\n",
        )
        await audit(context, user_principal(user), "request_password_reset", "user", user.id)
    return ResetRequested(detail=RESET_REQUESTED)


@post(
    "/confirm",
    operation_id="confirmPasswordReset",
    status_code=HTTP_204_NO_CONTENT,
    summary="Set a new password with a reset link; every session of the account ends",
    responses=problems(400, 429),
)
async def confirm_reset(
    request: Request[Any, Any, Any],
    context: NamedDependency[ApiContext],
    data: JSONBody[ResetConfirm],
) -> None:
    await count_attempt(context, request, None)
    password_hash = await hash_password(data.password)
    reset = await SignInLinkRepository(context.pool).reset_password(
        hash_link_token(data.token), password_hash
    )
    if reset is None:
        raise invalid("token", UNUSABLE_LINK)
    _, user = reset
    await audit(context, user_principal(user), "reset_password", "user", user.id)


router = Router(
    path="/auth/password-reset",
    route_handlers=[request_reset, confirm_reset],
    tags=["auth"],
)
