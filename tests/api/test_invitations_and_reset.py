"""Invitations and password reset by e-mail, through the API and a real SMTP server on
127.0.0.1: links used once, links that expire, the same limits as sign-in, and answers that
never tell whether an e-mail has an account."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from api.app import create_app
from api.context import ApiContext
from api.mail import Mailer
from tests.api.conftest import PASSWORD, MakeTenant, bearer, client_for, login, with_settings
from tests.fakes.smtp import FakeSmtp

NEW_PASSWORD = "a brand new passphrase"
RESET = "/api/v1/auth/password-reset"
ACCEPT = "/api/v1/auth/invitations/accept"
INVITATIONS = "/api/v1/users/invitations"
# Mail must not wait on the answer: a relay this slow would show in it if it did.
SLOW_RELAY_S = 0.5
MAIL_WAIT_S = 10.0


@pytest.fixture
async def smtp() -> AsyncIterator[FakeSmtp]:
    server = FakeSmtp()
    await server.start()
    yield server
    await server.stop()


def _mailing(context: ApiContext, smtp: FakeSmtp, **settings: Any) -> ApiContext:
    return replace(with_settings(context, **settings), mailer=Mailer(smtp.url, "Vocals <v@x.test>"))


async def _mail(smtp: FakeSmtp) -> EmailMessage:
    return await asyncio.wait_for(smtp.messages.get(), MAIL_WAIT_S)


def _token(message: EmailMessage, path: str) -> str:
    body = message.get_content()
    found = re.search(rf"http://127\.0\.0\.1:8000/{path}#token=([\w-]+)", body)
    assert found is not None, body
    return found.group(1)


async def _audited(client: httpx.AsyncClient, headers: dict[str, str], action: str) -> list[Any]:
    response = await client.get("/api/v1/audit-logs", params={"action": action}, headers=headers)
    items: list[Any] = response.json()["items"]
    return items


async def test_an_invitation_is_accepted_once(
    api_context: ApiContext, make_tenant: MakeTenant, smtp: FakeSmtp
) -> None:
    tenant = await make_tenant()
    email = f"colleague@{tenant.name}.example"
    async with client_for(create_app(_mailing(api_context, smtp))) as client:
        owner_by_admin = await client.post(
            INVITATIONS, json={"email": email, "role": "owner"}, headers=tenant.admin
        )
        assert owner_by_admin.status_code == 403
        invited = await client.post(
            INVITATIONS, json={"email": email, "role": "admin"}, headers=tenant.admin
        )
        assert invited.status_code == 201, invited.text
        mail = await _mail(smtp)
        assert mail["To"] == email
        token = _token(mail, "accept-invitation")
        pending = await client.get(INVITATIONS, headers=tenant.viewer)
        assert [i["email"] for i in pending.json()["items"]] == [email]

        accepted = await client.post(ACCEPT, json={"token": token, "password": NEW_PASSWORD})
        assert accepted.status_code == 200, accepted.text
        me = await client.get("/api/v1/auth/me", headers=bearer(accepted.json()["token"]))
        assert (me.json()["actor"], me.json()["role"]) == (email, "admin")
        again = await client.post(ACCEPT, json={"token": token, "password": "another password"})
        assert again.status_code == 422
        assert again.json()["errors"][0]["field"] == "token"
        assert (await client.get(INVITATIONS, headers=tenant.viewer)).json()["items"] == []
        await login(client, email, NEW_PASSWORD)
        assert len(await _audited(client, tenant.owner, "invite")) == 1
        accepts = await _audited(client, tenant.owner, "accept_invitation")
        assert accepts[0]["after"]["invited_by"] == f"admin@{tenant.name}.example"


async def test_an_expired_or_revoked_invitation_is_refused(
    api_context: ApiContext, make_tenant: MakeTenant, smtp: FakeSmtp
) -> None:
    tenant = await make_tenant()
    expiring = create_app(_mailing(api_context, smtp, invitation_ttl_s=0))
    async with client_for(expiring) as client:
        invited = await client.post(
            INVITATIONS, json={"email": f"late@{tenant.name}.example"}, headers=tenant.owner
        )
        assert invited.status_code == 201
        late = await client.post(
            ACCEPT,
            json={
                "token": _token(await _mail(smtp), "accept-invitation"),
                "password": NEW_PASSWORD,
            },
        )
    assert late.status_code == 422
    assert late.json()["errors"][0]["reason"] == "the link is invalid, expired or already used"

    async with client_for(create_app(_mailing(api_context, smtp))) as client:
        invited = await client.post(
            INVITATIONS, json={"email": f"gone@{tenant.name}.example"}, headers=tenant.owner
        )
        token = _token(await _mail(smtp), "accept-invitation")
        revoked = await client.delete(f"{INVITATIONS}/{invited.json()['id']}", headers=tenant.admin)
        assert revoked.status_code == 204
        refused = await client.post(ACCEPT, json={"token": token, "password": NEW_PASSWORD})
    assert refused.status_code == 422


async def test_a_reset_link_works_once_and_ends_every_session(
    api_context: ApiContext, make_tenant: MakeTenant, smtp: FakeSmtp
) -> None:
    tenant = await make_tenant()
    async with client_for(create_app(_mailing(api_context, smtp))) as client:
        for _ in range(2):
            asked = await client.post(RESET, json={"email": tenant.owner_email.upper()})
            assert asked.status_code == 202
        first = _token(await _mail(smtp), "reset-password")
        second = _token(await _mail(smtp), "reset-password")
        reset = await client.post(
            f"{RESET}/confirm", json={"token": first, "password": NEW_PASSWORD}
        )
        assert reset.status_code == 204, reset.text
        ended = await client.get("/api/v1/auth/me", headers=tenant.owner)
        assert ended.status_code == 401
        await login(client, tenant.owner_email, NEW_PASSWORD)
        for used in (first, second):
            again = await client.post(
                f"{RESET}/confirm", json={"token": used, "password": PASSWORD}
            )
            assert again.status_code == 422
        viewer = tenant.viewer
        actions = {e["action"] for e in await _audited(client, viewer, "reset_password")}
        assert actions == {"reset_password"}
        assert len(await _audited(client, viewer, "request_password_reset")) == 2

    expiring = create_app(_mailing(api_context, smtp, password_reset_ttl_s=0))
    async with client_for(expiring) as client:
        await client.post(RESET, json={"email": tenant.owner_email})
        token = _token(await _mail(smtp), "reset-password")
        late = await client.post(f"{RESET}/confirm", json={"token": token, "password": PASSWORD})
    assert late.status_code == 422


async def test_no_answer_tells_whether_an_email_has_an_account(
    api_context: ApiContext, make_tenant: MakeTenant, smtp: FakeSmtp
) -> None:
    tenant = await make_tenant()
    smtp.delay_s = SLOW_RELAY_S
    limited = create_app(_mailing(api_context, smtp, login_attempts_per_email=4))
    unknown = f"nobody@{tenant.name}.example"
    timings: dict[str, list[float]] = {tenant.owner_email: [], unknown: []}
    answers: dict[str, set[tuple[int, bytes]]] = {tenant.owner_email: set(), unknown: set()}
    async with client_for(limited) as client:
        for _ in range(5):
            for email in timings:
                started = time.perf_counter()
                response = await client.post(RESET, json={"email": email})
                timings[email].append(time.perf_counter() - started)
                answers[email].add((response.status_code, response.content))
    assert answers[tenant.owner_email] == answers[unknown]
    assert {status for status, _ in answers[unknown]} == {202, 429}
    known_s = statistics.median(timings[tenant.owner_email])
    unknown_s = statistics.median(timings[unknown])
    assert abs(known_s - unknown_s) < SLOW_RELAY_S / 2, (known_s, unknown_s)
    for _ in range(4):
        await _mail(smtp)


async def test_without_smtp_the_link_goes_to_the_log(
    api_context: ApiContext, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    context = replace(api_context, mailer=Mailer())
    with capture_logs() as logs:
        async with client_for(create_app(context)) as client:
            asked = await client.post(RESET, json={"email": f"viewer@{tenant.name}.example"})
            await context.mailer.aclose()
    assert asked.status_code == 202
    mails = [entry for entry in logs if entry["event"] == "mail.log_only"]
    assert mails[0]["to"] == f"viewer@{tenant.name}.example"
    assert "/reset-password#token=" in mails[0]["body"]
