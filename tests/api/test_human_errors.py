"""Refusals people read: each 409/422 (and 400) names its field with a reason in words, never
the database's or the validation library's own text."""

from __future__ import annotations

import random

import httpx

from tests.api.conftest import OFFLINE_AGENT, MakeTenant, create_agent

RAW_TEXT = ("Key (", "tenant_id", "already exists (", "Expected `", "regex", "$.")


def _assert_plain(response: httpx.Response) -> None:
    for raw in RAW_TEXT:
        assert raw not in response.text, response.text


async def test_a_duplicate_name_is_refused_on_its_field(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    owner = await make_tenant()
    body = {"name": "Sphinx", "kind": "stt", "vendor": "pocketsphinx"}
    assert (
        await client.post("/api/v1/providers", json=body, headers=owner.admin)
    ).status_code == 201
    again = await client.post("/api/v1/providers", json=body, headers=owner.admin)
    assert again.status_code == 409
    assert again.json()["errors"] == [{"field": "name", "reason": "This name is already used."}]
    _assert_plain(again)


async def test_a_number_of_another_agent_names_that_agent(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    owner, stranger = await make_tenant(), await make_tenant()
    # Numbers are unique across the deployment: these are this test's own.
    free, taken = (f"+1555{random.randrange(10**7):07d}" for _ in range(2))
    await create_agent(client, owner.admin, name="Front desk", inbound_numbers=[taken])
    body = {**OFFLINE_AGENT, "name": "Night line", "inbound_numbers": [free, taken]}
    mine = await client.post("/api/v1/agents", json=body, headers=owner.admin)
    assert mine.status_code == 409
    assert mine.json()["errors"] == [
        {"field": "inbound_numbers[1]", "reason": "This number belongs to agent Front desk."}
    ]
    theirs = await client.post("/api/v1/agents", json=body, headers=stranger.admin)
    assert theirs.status_code == 409
    assert theirs.json()["errors"][0]["reason"] == "This number is used by another account."
    assert "Front desk" not in theirs.text


async def test_invalid_values_are_explained_in_words(
    client: httpx.AsyncClient, make_tenant: MakeTenant
) -> None:
    owner = await make_tenant()
    cases: list[tuple[dict[str, object], str, str]] = [
        ({"name": ""}, "name", "must not be empty"),
        ({"stt": {"credential_id": "not-an-id"}}, "stt.credential_id", "must be an id"),
        ({"inbound_numbers": ["call me"]}, "inbound_numbers[0]", "is not in the expected format"),
        ({"max_call_seconds": 0}, "max_call_seconds", "must be at least"),
    ]
    for change, field, reason in cases:
        response = await client.post(
            "/api/v1/agents", json={**OFFLINE_AGENT, **change}, headers=owner.admin
        )
        assert response.status_code in (400, 422), response.text
        errors = {e["field"]: e["reason"] for e in response.json()["errors"]}
        assert errors.get(field, "").startswith(reason), (change, errors)
        _assert_plain(response)
