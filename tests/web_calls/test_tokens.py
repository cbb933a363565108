"""Web-call tokens over a real `vocals serve`: minted with an API key, they start one call,
for their agent, from their origin, within their lifetime; everything else is refused with a
reason and leaves the token as it was."""

from __future__ import annotations

import asyncio

import httpx

from store.db import create_pool
from tests.web_calls.browser import OPEN_TIMEOUT_S, page_call, refusal
from tests.web_calls.conftest import SITE, Site, api_key

CLOSE_POLICY = 1008


async def _started(socket_url: str, token: str, origin: str | None = SITE) -> str:
    """Start a call with `token`, wait for its greeting's first audio, hang up; its id."""
    async with page_call(socket_url, token, origin) as call:
        await call.wait_for(lambda: call.audio or call.closed.is_set(), OPEN_TIMEOUT_S)
        assert call.of_type("started"), (call.close_code, call.close_reason)
        await call.send_text(type="hangup")
        await asyncio.wait_for(call.closed.wait(), OPEN_TIMEOUT_S)
        assert call.close_code == 1000
        assert call.of_type("ended")
        return call.call_id


async def test_a_token_starts_one_call_and_only_one(site: Site) -> None:
    agent = await site.agent()
    grant = await site.token(agent)
    assert grant["socket_url"] == f"ws://127.0.0.1:{site.server.port}/web-calls/{agent}/socket"
    assert grant["allowed_origin"] == SITE and grant["draft"] is False
    await _started(grant["socket_url"], grant["token"])
    code, reason = await refusal(grant["socket_url"], grant["token"], SITE)
    assert code == CLOSE_POLICY and "used" in reason


async def test_a_token_for_one_agent_cannot_start_another_agents_call(site: Site) -> None:
    mine, other = await site.agent(), await site.agent()
    grant = await site.token(mine)
    other_url = grant["socket_url"].replace(mine, other)
    code, reason = await refusal(other_url, grant["token"], SITE)
    assert code == CLOSE_POLICY and "another agent" in reason
    await _started(grant["socket_url"], grant["token"])  # not spent by the refusal


async def test_a_token_is_refused_from_another_origin_or_none(site: Site) -> None:
    agent = await site.agent()
    grant = await site.token(agent)
    for origin in ("https://evil.example.net", "http://shop.example.com", None):
        code, reason = await refusal(grant["socket_url"], grant["token"], origin)
        assert code == CLOSE_POLICY and "origin" in reason, (origin, reason)
    await _started(grant["socket_url"], grant["token"])


async def test_a_token_expires(site: Site) -> None:
    agent = await site.agent()
    grant = await site.token(agent, lifetime_s=1)
    await asyncio.sleep(1.5)
    code, reason = await refusal(grant["socket_url"], grant["token"], SITE)
    assert code == CLOSE_POLICY and "expired" in reason


async def test_a_socket_without_a_start_message_or_with_a_forged_token_is_refused(
    site: Site,
) -> None:
    agent = await site.agent()
    grant = await site.token(agent)
    code, _ = await refusal(grant["socket_url"], "x" * 43, SITE)
    assert code == CLOSE_POLICY
    async with page_call(grant["socket_url"], None, SITE) as call:
        await call.socket.send(bytes(640))
        await asyncio.wait_for(call.closed.wait(), OPEN_TIMEOUT_S)
        assert call.close_code == CLOSE_POLICY and "audio before" in call.close_reason


async def test_minting_refuses_bad_requests_with_reasons(site: Site) -> None:
    agent = await site.agent()
    cases = [
        ({"agent_id": agent, "allowed_origin": "https://shop.example.com/page"}, 422,
         "allowed_origin"),
        ({"agent_id": agent, "allowed_origin": "shop.example.com"}, 422, "allowed_origin"),
        ({"agent_id": "00000000-0000-0000-0000-000000000001", "allowed_origin": SITE}, 422,
         "no agent"),
        ({"agent_id": agent, "allowed_origin": SITE, "lifetime_s": 7200}, 400, "lifetime_s"),
        ({"agent_id": agent, "allowed_origin": SITE, "variables": {"bad name": "x"}}, 400,
         "variables"),
    ]  # fmt: skip
    async with site.client() as client:
        for body, status, words in cases:
            response = await client.post("/api/v1/web-calls", json=body)
            assert response.status_code == status, (body, response.text)
            assert words in response.text, response.text
    async with site.client(site.viewer) as client:
        body = {"agent_id": agent, "allowed_origin": SITE}
        assert (await client.post("/api/v1/web-calls", json=body)).status_code == 403
    async with httpx.AsyncClient(base_url=site.server.url) as client:
        body = {"agent_id": agent, "allowed_origin": SITE}
        assert (await client.post("/api/v1/web-calls", json=body)).status_code == 401


async def test_minting_is_rate_limited_per_key(site: Site, database_url: str) -> None:
    agent = await site.agent()
    pool = await create_pool(database_url, max_size=1)
    try:
        limited = await api_key(pool, site.tenant_id, "admin", rpm=3)
    finally:
        await pool.close()
    body = {"agent_id": agent, "allowed_origin": SITE}
    async with site.client(limited) as client:
        codes = [(await client.post("/api/v1/web-calls", json=body)).status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]


async def test_the_api_does_not_open_cors_to_a_tokens_origin(site: Site) -> None:
    """The site's page only opens the socket; the API stays closed to its origin."""
    agent = await site.agent()
    await site.token(agent)
    async with site.client() as client:
        response = await client.options(
            "/api/v1/web-calls",
            headers={"Origin": SITE, "Access-Control-Request-Method": "POST"},
        )
    assert response.headers.get("access-control-allow-origin") != SITE


async def test_an_admins_test_call_runs_the_unsaved_draft_and_leaves_the_agent_alone(
    site: Site,
) -> None:
    agent = await site.agent()
    draft = {"welcome_message": "This is the draft speaking.", "inbound_numbers": ["+15550001111"]}
    async with site.client() as client:
        response = await client.post(
            f"/api/v1/agents/{agent}/web-calls", json={"draft": draft}, headers={"Origin": SITE}
        )
        assert response.status_code == 201, response.text
        grant = response.json()
        assert grant["draft"] is True and grant["allowed_origin"] == SITE
        async with page_call(grant["socket_url"], grant["token"], SITE) as call:
            await call.wait_for(lambda: bool(call.of_type("transcript")), OPEN_TIMEOUT_S)
            assert call.of_type("started")[0]["draft"] is True
            assert call.of_type("transcript")[0]["text"] == "This is the draft speaking."
            await call.send_text(type="hangup")
        stored = (await client.get(f"/api/v1/agents/{agent}")).json()
        assert stored["welcome_message"] == "Hello from the web desk."
        refused = await client.post(
            f"/api/v1/agents/{agent}/web-calls", json={"draft": {"stt": {"vendor": "nobody"}}}
        )
        assert refused.status_code == 422 and "stt" in refused.text
        missing = await client.post(
            "/api/v1/agents/00000000-0000-0000-0000-000000000001/web-calls", json={}
        )
        assert missing.status_code == 404
