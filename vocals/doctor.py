"""`vocals doctor`: one line per dependency, saying what is wrong and how to fix it."""

from __future__ import annotations

import asyncio
import importlib.util
from dataclasses import dataclass

import aiohttp
import asyncpg
from redis.asyncio import Redis

from providers import builtin, registry
from store.migrate import available_migrations
from vocals.services import redact_url, resolve_services
from vocals.settings import Settings

CHECK_TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


async def _postgres(url: str) -> Check:
    try:
        conn = await asyncpg.connect(url, timeout=CHECK_TIMEOUT_S)
    except asyncpg.InvalidCatalogNameError:
        return Check(
            "PostgreSQL", False, "server answers but the database is missing: run `vocals migrate`"
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return Check(
            "PostgreSQL",
            False,
            f"cannot connect to {redact_url(url)} ({exc.__class__.__name__}: {exc}); start "
            "PostgreSQL or set VOCALS_DATABASE_URL",
        )
    try:
        applied = await conn.fetchval(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        )
        done = await conn.fetchval("SELECT count(*) FROM schema_migrations") if applied else 0
    finally:
        await conn.close()
    pending = len(available_migrations()) - int(done)
    if pending > 0:
        return Check(
            "PostgreSQL", False, f"connected; {pending} migration(s) pending: run `vocals migrate`"
        )
    return Check("PostgreSQL", True, f"connected to {redact_url(url)}, schema up to date")


async def _redis(url: str) -> Check:
    client = Redis.from_url(
        url, socket_timeout=CHECK_TIMEOUT_S, socket_connect_timeout=CHECK_TIMEOUT_S
    )
    try:
        await client.ping()
    except (OSError, ConnectionError, TimeoutError) as exc:
        return Check(
            "Redis",
            False,
            f"cannot reach {redact_url(url)} ({exc}); start Redis or set VOCALS_REDIS_URL",
        )
    except Exception as exc:
        return Check("Redis", False, f"{redact_url(url)} answered with an error: {exc}")
    finally:
        await client.aclose()
    return Check("Redis", True, f"answering at {redact_url(url)}")


async def _ari(settings: Settings) -> Check:
    if not settings.ari_url:
        return Check("ARI", True, "not configured (set VOCALS_ARI_URL to control an Asterisk)")
    if not settings.ari_password:
        return Check("ARI", False, "VOCALS_ARI_URL is set but VOCALS_ARI_PASSWORD is not")
    auth = aiohttp.BasicAuth(settings.ari_user, settings.ari_password)
    url = settings.ari_url.rstrip("/") + "/asterisk/info"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CHECK_TIMEOUT_S)) as session,
            session.get(url, auth=auth) as response,
        ):
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Check(
            "ARI",
            False,
            f"cannot reach {url} ({exc.__class__.__name__}); check VOCALS_ARI_URL and http.conf",
        )
    if status == 401:
        return Check(
            "ARI",
            False,
            "Asterisk refused the credentials: check VOCALS_ARI_USER/PASSWORD against ari.conf",
        )
    if status != 200:
        return Check("ARI", False, f"{url} answered HTTP {status}")
    return Check("ARI", True, f"Asterisk answering at {settings.ari_url}")


def _offline_providers() -> Check:
    missing = [
        m for m in ("pocketsphinx", "piper", "webrtcvad") if importlib.util.find_spec(m) is None
    ]
    if missing:
        return Check(
            "Offline providers", False, f"missing {', '.join(missing)}: run `make install`"
        )
    return Check(
        "Offline providers", True, "pocketsphinx STT, piper TTS, scripted LLM, webrtcvad installed"
    )


async def _configured_providers(url: str) -> Check:
    """Every vendor a tenant configured must exist in this build's provider registry."""
    builtin.load_all()
    try:
        conn = await asyncpg.connect(url, timeout=CHECK_TIMEOUT_S)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return Check("Providers", False, "cannot list configured providers without PostgreSQL")
    try:
        rows = await conn.fetch(
            "SELECT kind, vendor, count(*) AS n FROM provider_credentials "
            "GROUP BY kind, vendor ORDER BY kind, vendor"
        )
    except asyncpg.UndefinedTableError:
        return Check("Providers", False, "schema missing: run `vocals migrate`")
    finally:
        await conn.close()
    unknown = []
    for row in rows:
        try:
            registry.get(row["kind"], row["vendor"])
        except registry.UnknownVendor:
            unknown.append(f"{row['kind']}/{row['vendor']}")
    if unknown:
        return Check("Providers", False, f"configured but not available here: {', '.join(unknown)}")
    summary = ", ".join(f"{r['kind']}/{r['vendor']} x{r['n']}" for r in rows) or "none yet"
    return Check("Providers", True, f"configured: {summary}; offline defaults always available")


async def run_doctor(settings: Settings) -> list[Check]:
    services = await resolve_services(settings, allow_embedded=False)
    return list(
        await asyncio.gather(
            _postgres(services.database_url),
            _redis(services.redis_url),
            _ari(settings),
            asyncio.to_thread(_offline_providers),
            _configured_providers(services.database_url),
        )
    )
