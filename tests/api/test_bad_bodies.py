"""Bodies no JSON decoder should accept are a 400 with a reason, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import TenantHandle

BODIES = {
    "100,000 levels deep": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "invalid UTF-8 in a string": (b'{"name": "\xff\xfe"}', "UTF-8"),
    "a truncated UTF-8 sequence": (b'{"email": "a\xc3@b.example", "password": "x"}', "UTF-8"),
}


@pytest.mark.parametrize("path", ["/api/v1/agents", "/api/v1/auth/login"])
@pytest.mark.parametrize("case", list(BODIES))
async def test_an_undecodable_body_is_400_with_a_reason(
    client: httpx.AsyncClient, tenant: TenantHandle, path: str, case: str
) -> None:
    body, reason = BODIES[case]
    response = await client.post(
        path, content=body, headers={**tenant.admin, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert reason in response.json()["detail"]
