"""Agents: CRUD, field validation, inbound numbers, roles, tenancy, cache, audit."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from api.app import create_app
from api.context import ApiContext
from ari_app.agent_loader import StoreAgentLoader
from pipeline.noise_suppression import NoiseSuppression
from providers.vad.silero import VadEngine
from provisioning.reload import ReloadResult
from store.config_cache import agent_cache_name
from tests.api.conftest import OFFLINE_AGENT, TenantHandle, client_for, create_agent


async def test_create_read_update_delete(client: httpx.AsyncClient, tenant: TenantHandle) -> None:
    created = await create_agent(
        client,
        tenant.admin,
        inbound_numbers=["+15550001001", "+15550001002"],
        end_of_speech_ms=700,
        voicemail_policy="leave_message",
        voicemail_message="Please call us back.",
        max_call_seconds=600,
        recording_enabled=True,
        recording_retention_days=7,
    )
    agent_id = created["id"]
    assert created["barge_in_sensitivity"] == "high"
    assert created["welcome_interruptible"] is False
    assert created["inbound_numbers"] == ["+15550001001", "+15550001002"]
    assert created["stt"] == {
        "credential_id": None,
        "vendor": "pocketsphinx",
        "model": None,
        "voice": None,
        "options": {},
    }
    fetched = await client.get(f"/api/v1/agents/{agent_id}", headers=tenant.viewer)
    assert fetched.status_code == 200
    assert fetched.json()["end_of_speech_ms"] == 700
    updated = await client.patch(
        f"/api/v1/agents/{agent_id}",
        json={"barge_in_sensitivity": "very_low", "inbound_numbers": ["+15550001003"]},
        headers=tenant.admin,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["barge_in_sensitivity"] == "very_low"
    assert updated.json()["inbound_numbers"] == ["+15550001003"]
    assert updated.json()["voicemail_message"] == "Please call us back."
    listed = await client.get("/api/v1/agents?sort=-created_at&limit=200", headers=tenant.key)
    assert agent_id in [a["id"] for a in listed.json()["items"]]
    deleted = await client.delete(f"/api/v1/agents/{agent_id}", headers=tenant.admin)
    assert deleted.status_code == 204
    gone = await client.get(f"/api/v1/agents/{agent_id}", headers=tenant.admin)
    assert gone.status_code == 404


async def test_media_transport_is_chosen_per_agent_or_left_to_the_server(
    client: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    default = await create_agent(client, tenant.admin)
    assert default["media_transport"] is None
    created = await create_agent(client, tenant.admin, media_transport="rtp")
    url = f"/api/v1/agents/{created['id']}"
    assert created["media_transport"] == "rtp"
    assert (await client.get(url, headers=tenant.viewer)).json()["media_transport"] == "rtp"
    other = await client.patch(url, json={"language": "de-DE"}, headers=tenant.admin)
    assert other.json()["media_transport"] == "rtp"  # PATCH leaves what it does not name
    changed = await client.patch(url, json={"media_transport": "audiosocket"}, headers=tenant.admin)
    assert changed.status_code == 200, changed.text
    assert changed.json()["media_transport"] == "audiosocket"
    reset = await client.patch(url, json={"media_transport": None}, headers=tenant.admin)
    assert reset.json()["media_transport"] is None
    assert (await client.get(url, headers=tenant.viewer)).json()["media_transport"] is None
    bad = await client.patch(url, json={"media_transport": "webrtc"}, headers=tenant.admin)
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in bad.json()["errors"]] == ["media_transport"]
    assert (await client.get(url, headers=tenant.viewer)).json()["media_transport"] is None


async def test_reads_are_cached_and_writes_invalidate(
    client: httpx.AsyncClient, tenant: TenantHandle, redis: Redis
) -> None:
    created = await create_agent(client, tenant.admin)
    agent_id = uuid.UUID(str(created["id"]))
    await client.get(f"/api/v1/agents/{agent_id}", headers=tenant.admin)
    cached = await redis.get(f"vocals:cache:{tenant.id}:{agent_cache_name(agent_id)}")
    assert cached is not None
    await client.patch(f"/api/v1/agents/{agent_id}", json={"name": "Renamed"}, headers=tenant.admin)
    assert await redis.get(f"vocals:cache:{tenant.id}:{agent_cache_name(agent_id)}") is None
    fetched = await client.get(f"/api/v1/agents/{agent_id}", headers=tenant.admin)
    assert fetched.json()["name"] == "Renamed"


async def test_validation_names_the_field(client: httpx.AsyncClient, tenant: TenantHandle) -> None:
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"barge_in_sensitivity": "loud"}, 400, "barge_in_sensitivity"),
        ({"end_of_speech_ms": 50}, 400, "end_of_speech_ms"),
        ({"max_call_seconds": 0}, 400, "max_call_seconds"),
        ({"media_transport": "sip"}, 400, "media_transport"),
        ({"inbound_numbers": ["555-CALL"]}, 400, "inbound_numbers[0]"),
        ({"unknown_field": 1}, 400, "unknown_field"),
        ({"stt": {"vendor": "nope"}}, 422, "stt.vendor"),
        ({"llm": {"vendor": "openai"}}, 422, "llm.credential_id"),
        ({"llm": {"vendor": "scripted", "options": {"colour": 1}}}, 422, "llm.options.colour"),
        ({"tts": {"vendor": "piper", "voice": "nobody"}}, 422, "tts.voice"),
        ({"stt": {"credential_id": str(uuid.uuid4())}}, 422, "stt.credential_id"),
        ({"voicemail_policy": "leave_message"}, 422, "voicemail_message"),
        ({"inbound_numbers": ["+1555", "+1555"]}, 422, "inbound_numbers"),
    ]
    for change, status, field in cases:
        body = {**OFFLINE_AGENT, "name": f"bad-{uuid.uuid4().hex[:6]}", **change}
        response = await client.post("/api/v1/agents", json=body, headers=tenant.admin)
        assert response.status_code == status, (change, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in response.json()["errors"]], (change, response.json())
    missing = await client.post("/api/v1/agents", json={"name": "x"}, headers=tenant.admin)
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] in {"stt", "llm", "tts"}


async def test_duplicate_names_and_numbers_conflict(
    client: httpx.AsyncClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    first = await create_agent(client, tenant.admin, inbound_numbers=["+15550002001"])
    same_name = await client.post(
        "/api/v1/agents", json={**OFFLINE_AGENT, "name": first["name"]}, headers=tenant.admin
    )
    assert same_name.status_code == 409
    taken = await client.post(
        "/api/v1/agents",
        json={**OFFLINE_AGENT, "name": "Thief", "inbound_numbers": ["+15550002001"]},
        headers=other_tenant.admin,
    )
    assert taken.status_code == 409
    assert "+15550002001" in taken.json()["detail"]
    names = [
        a["name"]
        for a in (await client.get("/api/v1/agents?limit=200", headers=other_tenant.admin)).json()[
            "items"
        ]
    ]
    assert "Thief" not in names


async def test_viewer_cannot_mutate_and_other_tenants_get_404(
    client: httpx.AsyncClient, tenant: TenantHandle, other_tenant: TenantHandle
) -> None:
    agent = await create_agent(client, tenant.admin)
    url = f"/api/v1/agents/{agent['id']}"
    assert (
        await client.post("/api/v1/agents", json=OFFLINE_AGENT, headers=tenant.viewer)
    ).status_code == 403
    assert (await client.patch(url, json={"name": "x"}, headers=tenant.viewer)).status_code == 403
    assert (await client.delete(url, headers=tenant.viewer)).status_code == 403
    for method in ("GET", "PATCH", "DELETE"):
        body = {"name": "stolen"} if method == "PATCH" else None
        response = await client.request(method, url, headers=other_tenant.owner, json=body)
        assert response.status_code == 404, method
    assert (await client.get(url, headers=tenant.viewer)).json()["name"] == agent["name"]


async def test_mutations_are_audit_logged(client: httpx.AsyncClient, tenant: TenantHandle) -> None:
    agent = await create_agent(client, tenant.key)
    await client.patch(
        f"/api/v1/agents/{agent['id']}", json={"language": "fr-FR"}, headers=tenant.admin
    )
    logs = await client.get(
        f"/api/v1/audit-logs?entity_type=agent&entity_id={agent['id']}", headers=tenant.viewer
    )
    entries = logs.json()["items"]
    assert [e["action"] for e in entries] == ["update", "create"]
    assert entries[1]["actor"].startswith("api-key:vk_")
    assert entries[0]["actor"].startswith("admin@")
    assert entries[0]["before"]["language"] == "en-US"
    assert entries[0]["after"]["language"] == "fr-FR"


async def test_number_changes_reprovision_the_dialplan(
    api_context: ApiContext, tenant: TenantHandle
) -> None:
    reloads: list[uuid.UUID] = []

    async def reload(tenant_id: uuid.UUID) -> ReloadResult:
        reloads.append(tenant_id)
        return ReloadResult(outcome="failed", reason="Asterisk unreachable")

    fields = {name: getattr(api_context, name) for name in api_context.__dataclass_fields__}
    async with client_for(create_app(ApiContext(**{**fields, "on_trunks_changed": reload}))) as c:
        agent = await create_agent(c, tenant.admin, inbound_numbers=["+15550004001"])
        assert agent["reload"] == {
            "ok": False,
            "outcome": "failed",
            "reason": "Asterisk unreachable",
        }
        url = f"/api/v1/agents/{agent['id']}"
        renamed = await c.patch(url, json={"name": f"r-{agent['name']}"}, headers=tenant.admin)
        assert renamed.json()["reload"] is None
        renumbered = await c.patch(url, json={"inbound_numbers": []}, headers=tenant.admin)
        assert renumbered.json()["reload"]["outcome"] == "failed"
        await c.patch(url, json={"inbound_numbers": ["+15550004002"]}, headers=tenant.admin)
        assert (await c.delete(url, headers=tenant.admin)).status_code == 204
    assert reloads == [tenant.id] * 4


BOOKING_TOOL = {
    "name": "check_availability",
    "description": "Free table slots on a day.",
    "url": "https://booking.example.com/availability",
    "parameters": {"type": "object", "properties": {"day": {"type": "string"}}},
}


async def test_http_tools_are_saved_validated_and_reach_the_call(
    client: httpx.AsyncClient, tenant: TenantHandle, api_context: ApiContext
) -> None:
    created = await create_agent(client, tenant.admin, tools=[BOOKING_TOOL])
    (tool,) = created["tools"]
    assert tool == {
        **BOOKING_TOOL,
        "method": "POST",
        "timeout_s": 10.0,
        "filler": "One moment while I check that.",
        "filler_after_s": 1.0,
        "headers": [],
    }
    url = f"/api/v1/agents/{created['id']}"
    slower = {**BOOKING_TOOL, "timeout_s": 5, "filler": "Let me look.", "filler_after_s": 0.5}
    changed = await client.patch(url, json={"tools": [slower]}, headers=tenant.admin)
    assert changed.status_code == 200, changed.text

    # What a call of this agent runs: the tool as offered to the model, with its filler.
    loader = StoreAgentLoader(api_context.pool, api_context.redis, api_context.box)
    settings = await loader.settings(tenant.id, uuid.UUID(created["id"]))
    (http_tool,) = settings.tools
    assert (http_tool.name, http_tool.url, http_tool.timeout_s) == (
        "check_availability",
        BOOKING_TOOL["url"],
        5.0,
    )
    assert (http_tool.filler, http_tool.filler_after_s) == ("Let me look.", 0.5)

    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"name": "check availability"}, 400, "tools[0].name"),
        ({"method": "DELETE"}, 400, "tools[0].method"),
        ({"timeout_s": 120}, 400, "tools[0].timeout_s"),
        ({"headers": {"X": "1"}}, 400, "tools[0].headers"),
        ({"url": "http://127.0.0.1:8080/book"}, 422, "tools[0].url"),
        ({"url": "ftp://booking.example.com/"}, 422, "tools[0].url"),
        ({"parameters": {"type": "string"}}, 422, "tools[0].parameters"),
    ]
    for change, status, field in cases:
        bad = await client.patch(
            url, json={"tools": [{**BOOKING_TOOL, **change}]}, headers=tenant.admin
        )
        assert bad.status_code == status, (change, bad.text)
        assert field in [e["field"] for e in bad.json()["errors"]], (change, bad.json())
    twice = await client.patch(
        url, json={"tools": [BOOKING_TOOL, BOOKING_TOOL]}, headers=tenant.admin
    )
    assert twice.status_code == 422
    assert [e["field"] for e in twice.json()["errors"]] == ["tools[1].name"]
    unchanged = await client.get(url, headers=tenant.viewer)
    assert unchanged.json()["tools"][0]["timeout_s"] == 5.0


MCP_SERVER = {"name": "calendar", "url": "https://mcp.example.com/mcp"}


async def test_mcp_servers_are_saved_validated_and_reach_the_call(
    client: httpx.AsyncClient, tenant: TenantHandle, api_context: ApiContext
) -> None:
    created = await create_agent(client, tenant.admin, mcp_servers=[MCP_SERVER])
    assert created["mcp_servers"] == [
        {
            **MCP_SERVER,
            "allowed_tools": None,
            "timeout_s": 10.0,
            "filler": "One moment while I check that.",
            "filler_after_s": 1.0,
        }
    ]
    url = f"/api/v1/agents/{created['id']}"
    narrowed = {**MCP_SERVER, "allowed_tools": ["free_slots"], "timeout_s": 4}
    changed = await client.patch(url, json={"mcp_servers": [narrowed]}, headers=tenant.admin)
    assert changed.status_code == 200, changed.text

    loader = StoreAgentLoader(api_context.pool, api_context.redis, api_context.box)
    settings = await loader.settings(tenant.id, uuid.UUID(created["id"]))
    (server,) = settings.mcp_servers
    assert (server.name, server.url, server.allowed_tools, server.timeout_s) == (
        "calendar",
        MCP_SERVER["url"],
        ["free_slots"],
        4.0,
    )

    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"name": "my calendar"}, 400, "mcp_servers[0].name"),
        ({"allowed_tools": ["free slots"]}, 400, "mcp_servers[0].allowed_tools[0]"),
        ({"timeout_s": 0}, 400, "mcp_servers[0].timeout_s"),
        ({"url": "http://10.0.0.7/mcp"}, 422, "mcp_servers[0].url"),
        ({"url": "file:///etc/passwd"}, 422, "mcp_servers[0].url"),
    ]
    for change, status, field in cases:
        bad = await client.patch(
            url, json={"mcp_servers": [{**MCP_SERVER, **change}]}, headers=tenant.admin
        )
        assert bad.status_code == status, (change, bad.text)
        assert field in [e["field"] for e in bad.json()["errors"]], (change, bad.json())
    twice = await client.patch(
        url, json={"mcp_servers": [MCP_SERVER, MCP_SERVER]}, headers=tenant.admin
    )
    assert twice.status_code == 422
    assert [e["field"] for e in twice.json()["errors"]] == ["mcp_servers[1].name"]
    unchanged = await client.get(url, headers=tenant.viewer)
    assert unchanged.json()["mcp_servers"][0]["allowed_tools"] == ["free_slots"]


async def test_turn_detection_is_chosen_per_agent_and_reaches_the_call(
    client: httpx.AsyncClient, tenant: TenantHandle, api_context: ApiContext
) -> None:
    default = await create_agent(client, tenant.admin)
    assert (default["turn_detection"], default["smart_turn"]) == ("silence", None)
    created = await create_agent(
        client, tenant.admin, turn_detection="smart", smart_turn={"complete_ms": 250}
    )
    url = f"/api/v1/agents/{created['id']}"
    assert created["turn_detection"] == "smart"
    assert created["smart_turn"] == {"complete_ms": 250, "incomplete_ms": 1200, "unknown_ms": 600}

    loader = StoreAgentLoader(api_context.pool, api_context.redis, api_context.box)
    settings = await loader.settings(tenant.id, uuid.UUID(created["id"]))
    assert settings.turn_detection == "smart"
    assert (settings.smart_turn.complete_ms, settings.smart_turn.incomplete_ms) == (250, 1200)

    backwards = {"complete_ms": 900, "incomplete_ms": 800, "unknown_ms": 850}
    bad = await client.patch(url, json={"smart_turn": backwards}, headers=tenant.admin)
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["smart_turn"]
    for change in ({"turn_detection": "vad"}, {"smart_turn": {"complete_ms": 20}}):
        refused = await client.patch(url, json=change, headers=tenant.admin)
        assert refused.status_code == 400, (change, refused.text)
    unchanged = await client.get(url, headers=tenant.viewer)
    assert unchanged.json()["smart_turn"]["complete_ms"] == 250
    back = await client.patch(url, json={"turn_detection": "silence"}, headers=tenant.admin)
    assert back.json()["turn_detection"] == "silence"


async def test_call_tools_are_saved_validated_and_reach_the_call(
    client: httpx.AsyncClient, tenant: TenantHandle, api_context: ApiContext
) -> None:
    created = await create_agent(client, tenant.admin, call_tools=["send_dtmf", "end_call"])
    assert created["call_tools"] == ["send_dtmf", "end_call"]
    loader = StoreAgentLoader(api_context.pool, api_context.redis, api_context.box)
    settings = await loader.settings(tenant.id, uuid.UUID(created["id"]))
    assert [tool.value for tool in settings.call_tools] == ["send_dtmf", "end_call"]

    url = f"/api/v1/agents/{created['id']}"
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"call_tools": ["transfer_everything"]}, 400, "call_tools[0]"),
        ({"call_tools": ["end_call", "end_call"]}, 422, "call_tools"),
        ({"tools": [{**BOOKING_TOOL, "name": "send_dtmf"}]}, 422, "tools[0].name"),
    ]
    for change, status, field in cases:
        bad = await client.patch(url, json=change, headers=tenant.admin)
        assert bad.status_code == status, (change, bad.text)
        assert field in [e["field"] for e in bad.json()["errors"]], (change, bad.json())
    unchanged = await client.get(url, headers=tenant.viewer)
    assert unchanged.json()["call_tools"] == ["send_dtmf", "end_call"]
    cleared = await client.patch(url, json={"call_tools": []}, headers=tenant.admin)
    assert cleared.status_code == 200 and cleared.json()["call_tools"] == []


SECRET = "Bearer sk-live-0123456789abcdef"


async def test_tool_header_values_are_sealed_never_shown_and_kept_when_left_out(
    client: httpx.AsyncClient, tenant: TenantHandle, api_context: ApiContext
) -> None:
    headers = [{"name": "Authorization", "value": SECRET}, {"name": "X-Shop", "value": "42"}]
    created = await create_agent(client, tenant.admin, tools=[{**BOOKING_TOOL, "headers": headers}])
    # Set, with a hint of a long value's end; never the value, in any answer.
    assert created["tools"][0]["headers"] == [
        {"name": "Authorization", "hint": "cdef"},
        {"name": "X-Shop", "hint": None},
    ]
    url = f"/api/v1/agents/{created['id']}"
    for answer in (
        await client.get(url, headers=tenant.viewer),
        await client.get("/api/v1/agents?limit=200", headers=tenant.viewer),
        await client.get("/api/v1/audit-logs?limit=200", headers=tenant.admin),
    ):
        assert answer.status_code == 200, answer.text
        assert "sk-live" not in answer.text
    # Sealed at rest: neither the agent row nor its audit entries hold it in clear.
    stored = await api_context.pool.fetchval(
        "SELECT tools::text FROM agents WHERE id = $1", uuid.UUID(created["id"])
    )
    assert "sealed" in stored and "sk-live" not in stored
    audits = await api_context.pool.fetchval(
        "SELECT string_agg(coalesce(before::text, '') || after::text, ' ') FROM audit_logs "
        "WHERE tenant_id = $1",
        tenant.id,
    )
    assert "sk-live" not in audits

    # Sent back as the UI shows it (no value): kept; a header left out is dropped.
    kept = {**BOOKING_TOOL, "description": "Free slots.", "headers": [{"name": "Authorization"}]}
    changed = await client.patch(url, json={"tools": [kept]}, headers=tenant.admin)
    assert changed.status_code == 200, changed.text
    assert changed.json()["tools"][0]["headers"] == [{"name": "Authorization", "hint": "cdef"}]
    loader = StoreAgentLoader(api_context.pool, api_context.redis, api_context.box)
    (tool,) = (await loader.settings(tenant.id, uuid.UUID(created["id"]))).tools
    # Unsealed for the call that runs the tool, and only there.
    assert tool.headers == {"Authorization": SECRET}
    assert "sk-live" not in repr(tool)

    moved = {**kept, "url": "https://elsewhere.example.net/availability"}
    refusals: list[tuple[dict[str, Any], str, str]] = [
        (moved, "tools[0].headers[0].value", "enter the value again"),
        ({**kept, "headers": [{"name": "X-New"}]}, "tools[0].headers[0].value", "is required"),
        (
            {**kept, "headers": [{"name": "Bad Header", "value": "1"}]},
            "tools[0].headers[0].name",
            "",
        ),
        (
            {**kept, "headers": [{"name": "Host", "value": "a.example"}]},
            "tools[0].headers[0].name",
            "set by Vocals",
        ),
        (
            {**kept, "headers": [{"name": "X-A", "value": "1\r\nX-B: 2"}]},
            "tools[0].headers[0].value",
            "single line",
        ),
        (
            {
                **kept,
                "headers": [{"name": "authorization"}, {"name": "Authorization", "value": "x"}],
            },
            "tools[0].headers[1].name",
            "twice",
        ),
    ]
    for tool_in, field, reason in refusals:
        refused = await client.patch(url, json={"tools": [tool_in]}, headers=tenant.admin)
        assert refused.status_code == 422, (tool_in, refused.text)
        errors = {e["field"]: e["reason"] for e in refused.json()["errors"]}
        assert reason in errors.get(field, "<none>"), (tool_in, errors)
    # Nothing refused changed what is stored, and moving the tool with the value typed again works.
    (tool,) = (await loader.settings(tenant.id, uuid.UUID(created["id"]))).tools
    assert (tool.url, tool.headers) == (BOOKING_TOOL["url"], {"Authorization": SECRET})
    retyped = {**moved, "headers": [{"name": "Authorization", "value": "Bearer new-0000"}]}
    assert (
        await client.patch(url, json={"tools": [retyped]}, headers=tenant.admin)
    ).status_code == 200


@pytest.mark.parametrize(
    ("field", "default", "chosen", "refused"),
    [
        ("vad", VadEngine.WEBRTC, VadEngine.SILERO, "rnnoise"),
        ("noise_suppression", NoiseSuppression.OFF, NoiseSuppression.WEBRTC, "rnnoise"),
    ],
)
async def test_a_per_agent_audio_choice_is_validated_and_reaches_the_call(
    client: httpx.AsyncClient,
    tenant: TenantHandle,
    api_context: ApiContext,
    field: str,
    default: StrEnum,
    chosen: StrEnum,
    refused: str,
) -> None:
    assert (await create_agent(client, tenant.admin))[field] == default
    created = await create_agent(client, tenant.admin, **{field: chosen.value})
    assert created[field] == chosen
    loader = StoreAgentLoader(api_context.pool, api_context.redis, api_context.box)
    settings = await loader.settings(tenant.id, uuid.UUID(created["id"]))
    assert getattr(settings, field) is chosen

    url = f"/api/v1/agents/{created['id']}"
    answer = await client.patch(url, json={field: refused}, headers=tenant.admin)
    assert answer.status_code == 400, answer.text
    assert field in answer.text
    assert (await client.get(url, headers=tenant.viewer)).json()[field] == chosen
    back = await client.patch(url, json={field: default.value}, headers=tenant.admin)
    assert back.json()[field] == default
    settings = await loader.settings(tenant.id, uuid.UUID(created["id"]))
    assert getattr(settings, field) is default
