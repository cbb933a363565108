"""Waiting helpers and a hand-driven Twilio for the bad-input tests."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable

import asyncpg
import httpx

from store.models import CallRecord
from store.repositories.calls import CallRepository
from tests.fakes.twilio import FakeTwilio, MediaStreamCaller, twilio_signature

POLL_S = 0.02


async def eventually(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    for _ in itertools.count():
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError("condition never held")
        await asyncio.sleep(POLL_S)


async def quiet(stream: MediaStreamCaller, for_s: float = 0.3, timeout_s: float = 15.0) -> None:
    """Until the agent spoke, everything sent has played and nothing new came for `for_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        times = stream.log.media_times
        if times and stream.queued_ms == 0 and time.monotonic() - times[-1] >= for_s:
            return
        await asyncio.sleep(POLL_S)
    raise TimeoutError("the agent never went quiet")


async def record_of(
    pool: asyncpg.Pool, tenant_id: uuid.UUID, timeout_s: float = 10.0
) -> CallRecord:
    """The tenant's one call record, once written."""
    repo = CallRepository(pool)
    deadline = time.monotonic() + timeout_s
    while True:
        page = await repo.list_page(tenant_id)
        if page.items:
            [record] = page.items
            return record
        if time.monotonic() > deadline:
            raise TimeoutError("no call record")
        await asyncio.sleep(0.05)


def voice_params(
    fake: FakeTwilio, *, to: str, call_sid: str | None = None
) -> list[tuple[str, str]]:
    return [
        ("CallSid", call_sid or "CA" + uuid.uuid4().hex), ("AccountSid", fake.account_sid),
        ("From", "+15557654321"), ("To", to), ("CallStatus", "ringing"),
        ("Direction", "inbound"), ("ApiVersion", "2010-04-01"),
    ]  # fmt: skip


async def post_signed(
    url: str, params: list[tuple[str, str]], token: str, signature: str | None = "sign"
) -> httpx.Response:
    """POST a form as Twilio does; `signature` "sign" signs it properly, None omits it."""
    headers = {}
    if signature == "sign":
        headers["X-Twilio-Signature"] = twilio_signature(token, url, params)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    async with httpx.AsyncClient() as client:
        return await client.post(url, data=dict(params), headers=headers)


def stream_of(twiml: str) -> tuple[str, dict[str, str]]:
    """The `<Stream url>` and its parameters from a TwiML answer."""
    stream = ET.fromstring(twiml).find("Connect/Stream")
    assert stream is not None, twiml
    params = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
    return stream.get("url", ""), params
