"""What selftest reports around the call: ARI, AMI, trunks, the server's own health, and the
channels and bridges a call left behind."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Final

import httpx
import msgspec

from ari_app.client import AriClient
from ari_app.errors import AriError, NotFound
from provisioning.ami import AmiConnection, AmiError
from vocals.settings import Settings

# A finished call's channels and bridges are gone within a second on a healthy Asterisk.
LEFTOVER_WAIT_S: Final = 5.0
LEFTOVER_POLL_S: Final = 0.2
HEALTH_TIMEOUT_S: Final = 5.0


class AriState(msgspec.Struct, kw_only=True):
    url: str
    asterisk_version: str | None = None
    server_app: str
    # Whether the server's Stasis app is registered with Asterisk (its events socket is up).
    server_app_registered: bool = False
    selftest_app: str
    error: str | None = None


class AmiState(msgspec.Struct, kw_only=True):
    state: str
    # Outbound registration object name -> status (Registered, Rejected, ...).
    registrations: dict[str, str] = msgspec.field(default_factory=dict)


class Snapshot(msgspec.Struct, frozen=True):
    """Ids (with names) of the channels and bridges Asterisk holds at one moment."""

    channels: dict[str, str]
    bridges: dict[str, str]


async def ari_state(ari: AriClient, server_app: str) -> AriState:
    state = AriState(url=ari.settings.url, server_app=server_app, selftest_app=ari.app)
    try:
        info = await ari.info(["system"])
        state.asterisk_version = info.system.version if info.system else None
        state.server_app_registered = await _app_registered(ari, server_app)
    except AriError as exc:
        state.error = str(exc)
    return state


async def _app_registered(ari: AriClient, app: str) -> bool:
    try:
        await ari.request("GET", f"/applications/{app}")
    except NotFound:
        return False
    return True


async def endpoint_states(ari: AriClient) -> dict[str, str]:
    """PJSIP endpoint name -> state (online, offline, unknown) as ARI reports it."""
    try:
        endpoints = await ari.list_endpoints("PJSIP")
    except AriError:
        return {}
    return {e.resource: e.state or "unknown" for e in endpoints}


async def ami_state(settings: Settings) -> AmiState:
    """Log in to AMI as the server would and read the outbound registrations."""
    if not settings.ami_password:
        return AmiState(state="not configured (VOCALS_AMI_PASSWORD is not set)")
    host = settings.ami_host or _ari_host(settings)
    where = f"{settings.ami_user}@{host}:{settings.ami_port}"
    try:
        ami = AmiConnection(host, settings.ami_user, settings.ami_password, port=settings.ami_port)
    except OSError as exc:
        return AmiState(state=f"cannot connect to {where}: {exc}")
    try:
        await ami.start()
        registrations = dict(await ami.outbound_registrations())
    except AmiError as exc:
        return AmiState(state=f"{where}: {exc}")
    finally:
        await ami.close()
    return AmiState(state=f"logged in as {where}", registrations=registrations)


def _ari_host(settings: Settings) -> str:
    return httpx.URL(settings.ari_url or "http://127.0.0.1").host or "127.0.0.1"


async def server_health(base_url: str) -> dict[str, Any]:
    """The running server's own view (`/healthz` extra: ARI connection, AudioSocket, ...)."""
    try:
        async with httpx.AsyncClient(timeout=HEALTH_TIMEOUT_S) as client:
            response = await client.get(f"{base_url.rstrip('/')}/healthz")
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        return {"error": f"{base_url}/healthz: {type(exc).__name__}: {exc}"}
    extra = body.get("extra") if isinstance(body, dict) else None
    return {"status": body.get("status"), **(extra if isinstance(extra, dict) else {})}


async def snapshot(ari: AriClient) -> Snapshot:
    channels = await ari.list_channels()
    bridges = await ari.list_bridges()
    return Snapshot({c.id: c.name for c in channels}, {b.id: b.name or b.id for b in bridges})


async def leftovers(ari: AriClient, before: Snapshot) -> Snapshot:
    """What Asterisk still holds that was not there `before`, once it has had time to go."""
    deadline = time.monotonic() + LEFTOVER_WAIT_S
    while True:
        now = await snapshot(ari)
        left = Snapshot(
            {k: v for k, v in now.channels.items() if k not in before.channels},
            {k: v for k, v in now.bridges.items() if k not in before.bridges},
        )
        if not (left.channels or left.bridges) or time.monotonic() >= deadline:
            return left
        await asyncio.sleep(LEFTOVER_POLL_S)
