"""From the trunk and route rows of every tenant to what provisioning renders."""

from __future__ import annotations

from collections import defaultdict

import asyncpg
import msgspec
import structlog

from provisioning.models import InboundRoute, Trunk, TrunkConfig
from store.repositories.config import InboundRouteRepository, SipTrunkRepository
from store.secrets import SecretBox, SecretError

log = structlog.get_logger(__name__)


async def load_trunk_config(pool: asyncpg.Pool, box: SecretBox) -> TrunkConfig:
    """All trunks (passwords decrypted) with their routes; routes on no trunk stand alone.
    A trunk whose password no configured key opens is left out and logged: one sealed under a
    lost key must not stop every other tenant's trunks from being provisioned."""
    trunk_repo = SipTrunkRepository(pool, box)
    routes_by_trunk: dict[str | None, list[InboundRoute]] = defaultdict(list)
    for route in await InboundRouteRepository(pool).list_all_tenants():
        trunk_id = str(route.trunk_id) if route.trunk_id else None
        routes_by_trunk[trunk_id].append(InboundRoute(did=route.did, agent_id=str(route.agent_id)))
    trunks: list[Trunk] = []
    for row in await trunk_repo.list_all_tenants():
        try:
            password = trunk_repo.reveal(row, "password")
        except SecretError as exc:
            log.error(
                "trunk left out: its password does not decrypt (set VOCALS_PREVIOUS_SECRET_KEYS"
                " to the key it was sealed with, or set the password again)",
                trunk_id=str(row.id),
                tenant_id=str(row.tenant_id),
                error=str(exc),
            )
            continue
        trunks.append(
            msgspec.convert(
                {
                    "id": str(row.id),
                    "tenant_id": str(row.tenant_id),
                    "name": row.name,
                    "kind": row.kind,
                    "host": row.host,
                    "port": row.port,
                    "transport": row.transport,
                    "username": row.username,
                    "password": password,
                    "from_user": row.from_user,
                    "from_domain": row.from_domain,
                    "codecs": row.codecs,
                    "dtmf_mode": row.dtmf_mode,
                    "max_cps": row.max_cps,
                    "max_calls": row.max_calls,
                    "inbound_routes": routes_by_trunk.pop(str(row.id), []),
                },
                Trunk,
            )
        )
    loose = tuple(route for routes in routes_by_trunk.values() for route in routes)
    return TrunkConfig(trunks=tuple(trunks), routes=loose)
