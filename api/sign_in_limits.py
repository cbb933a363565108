"""Sign-in attempts (passwords, second-factor codes, reset and invitation links), counted
per account and per client address in Redis before anything is checked."""

from __future__ import annotations

from typing import Any

from litestar import Request

from api.context import ApiContext
from api.errors import ApiError
from store.rate_limits import RateLimiter


def client_ip(request: Request[Any, Any, Any]) -> str:
    # uvicorn rewrites the client from X-Forwarded-For only for the operator's trusted proxies.
    return request.client.host if request.client else "unknown"


def account_key(email: str) -> str:
    return f"login:email:{email.lower()}"


async def count_attempt(
    context: ApiContext, request: Request[Any, Any, Any], email: str | None
) -> None:
    """Count this attempt per account (when known) and per address before any secret is
    checked; 429 when either is over its limit. Counting first is atomic in Redis, so
    concurrent guesses cannot all pass a check made before the others were counted."""
    settings = context.settings
    counted = [(f"login:ip:{client_ip(request)}", settings.login_attempts_per_ip)]
    if email is not None:
        counted.insert(0, (account_key(email), settings.login_attempts_per_email))
    limiter = RateLimiter(context.redis)
    for name, limit in counted:
        result = await limiter.hit(name, limit, settings.login_window_s)
        if not result.allowed:
            raise ApiError(
                429,
                "too many sign-in attempts; try again later",
                headers={"Retry-After": str(result.retry_after_s)},
            )


async def forget_account_attempts(context: ApiContext, email: str) -> None:
    """The account's count starts over after a success; the address's does not, or one known
    password would let its holder keep guessing other accounts' passwords."""
    await RateLimiter(context.redis).reset(account_key(email), context.settings.login_window_s)


async def count_lookup(context: ApiContext, request: Request[Any, Any, Any]) -> None:
    """Count a pre-sign-in lookup (which SSO providers to offer) per address, apart from the
    sign-in attempts it precedes, against the same per-address limit; 429 when over it."""
    result = await RateLimiter(context.redis).hit(
        f"sso-lookup:ip:{client_ip(request)}",
        context.settings.login_attempts_per_ip,
        context.settings.login_window_s,
    )
    if not result.allowed:
        raise ApiError(
            429,
            "too many look-ups; try again later",
            headers={"Retry-After": str(result.retry_after_s)},
        )
