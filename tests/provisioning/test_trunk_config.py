"""What provisioning renders from the database: every tenant's trunks, even when one of them
was sealed under a key this process no longer has."""

from __future__ import annotations

import uuid

import asyncpg
from structlog.testing import capture_logs

from store.repositories.config import SipTrunkRepository
from store.repositories.tenants import TenantsRepository
from store.secrets import SecretBox
from vocals.trunks import load_trunk_config

OURS = SecretBox("trunk-config-current-key-0123456789abcdef")
LOST = SecretBox("trunk-config-lost-key-0123456789abcdefgh")


async def _trunk(pool: asyncpg.Pool, box: SecretBox) -> uuid.UUID:
    tenant = await TenantsRepository(pool).create(f"trunks-{uuid.uuid4().hex[:8]}")
    trunk = await SipTrunkRepository(pool, box).create(
        tenant.id,
        {"name": "carrier", "kind": "registration", "host": "sip.example.com",
         "username": "user", "password": "pw-0123"},
    )  # fmt: skip
    return trunk.id


async def test_a_trunk_sealed_under_a_lost_key_does_not_stop_the_others(
    pg_pool: asyncpg.Pool,
) -> None:
    good = await _trunk(pg_pool, OURS)
    lost = await _trunk(pg_pool, LOST)
    with capture_logs() as logs:
        config = await load_trunk_config(pg_pool, OURS)
    rendered = {trunk.id: trunk for trunk in config.trunks}
    assert rendered[str(good)].password == "pw-0123"
    assert str(lost) not in rendered
    (error,) = [line for line in logs if line.get("trunk_id") == str(lost)]
    assert error["log_level"] == "error" and "pw-0123" not in str(error)
