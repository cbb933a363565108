"""Process settings from `VOCALS_*` environment variables and an optional TOML file.

Environment variables win over the file. Every value is validated at start-up; a bad one is a
`SettingsError` naming the variable, which the CLI turns into exit status 2.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from api.mail import DEFAULT_SENDER
from store.process_leases import DEFAULT_LEASE_TTL_S
from web_calls.protocol import MAX_CALL_S

ENV_PREFIX = "VOCALS_"
CONFIG_FILE_VAR = "VOCALS_CONFIG"
DEFAULT_DATA_DIR = ".vocals"
# Heartbeats are a third of the lease apart: below a second they would cost Redis for nothing.
MIN_PROCESS_LEASE_S = 1.0


class SettingsError(Exception):
    """A setting is missing or invalid; `variable` is the environment variable to fix."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable
        self.reason = reason


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    """Everything a `vocals` process is configured with. Field `x` is `VOCALS_X`."""

    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str | None = None
    previous_secret_keys: tuple[str, ...] = ()
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int = 9092
    audiosocket_health_port: int = 9093
    # Where Asterisk connects for external media (this host as Asterisk sees it).
    audiosocket_advertise_host: str | None = None
    media_transport: str = "audiosocket"
    rtp_ports: str = "20000-20999"
    public_url: str = "http://127.0.0.1:8000"
    # Invitations and password resets: smtp://user:password@host:587 (STARTTLS when the server
    # offers it) or smtps://…:465. Unset: the mail, link included, is written to the log.
    smtp_url: str | None = None
    smtp_from: str = DEFAULT_SENDER
    # Twilio's REST API: an edge location (https://api.dublin.ie1.twilio.com) keeps requests in
    # the region; tests point it at the Twilio fake.
    twilio_api_url: str = "https://api.twilio.com"
    ari_url: str | None = None
    ari_user: str = "vocals"
    ari_password: str | None = None
    ari_app: str = "vocals"
    ami_host: str | None = None
    ami_port: int = 5038
    ami_user: str = "vocals"
    ami_password: str | None = None
    # True once Asterisk has the [transport-tls] transport (asterisk/conf/pjsip.conf shows it
    # commented out): only then are TLS trunks accepted.
    sip_tls: bool = False
    asterisk_config_dir: str = f"{DEFAULT_DATA_DIR}/asterisk"
    recordings_dir: str = f"{DEFAULT_DATA_DIR}/recordings"
    data_dir: str = DEFAULT_DATA_DIR
    log_level: str = "info"
    log_format: str = "json"
    shutdown_drain_s: float = 30.0
    # A process silent this long is taken for dead and its calls adopted (store.process_leases).
    process_lease_s: float = DEFAULT_LEASE_TTL_S
    loadtest_providers: bool = False
    # Concurrent calls of this process, all and on local models (ari_app/admission.py has
    # the defaults, derived from measured capacity per core); calls beyond are refused.
    max_calls: int | None = None
    max_local_calls: int | None = None
    # Worker processes for local models (recognizer, voice); 0: one per core.
    local_workers: int = 0
    # A browser call is ended after this many seconds (a forgotten tab holds a call slot).
    web_call_max_s: float = MAX_CALL_S
    # Queued calls this process's dispatcher dials at once (ari_app/outbound.py has the
    # default).
    dials_in_flight: int | None = None

    # -- What the open ports hold for a client (see README, "Exposure") --
    # Tenants' URLs (webhooks, provider base URLs) may reach loopback and private networks:
    # an operator's choice, for on-premise receivers and local model servers.
    allow_private_urls: bool = False
    # Proxies (addresses or CIDR networks, comma-separated) whose X-Forwarded-For is believed.
    trusted_proxies: str = ""
    # Sign-in attempts per client address in 15 minutes; an office behind one NAT may need more.
    login_attempts_per_ip: int = 100
    # A client must have sent a whole request (head and body) this long after it started.
    http_request_timeout_s: float = 15.0
    # An idle keep-alive connection is closed after this; browsers reconnect at no cost.
    http_keepalive_timeout_s: int = 5
    # Open HTTP connections and WebSockets (each Twilio call is one); beyond it, 503.
    http_max_connections: int = 1000
    # The largest WebSocket message: Twilio's are about 1 KB (20 ms of base64 audio).
    ws_max_message_bytes: int = 64 * 1024
    # Open AudioSocket connections (one per call); beyond it, new ones are closed at once.
    audiosocket_max_connections: int = 1000

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def rtp_port_range(self) -> tuple[int, int]:
        low, _, high = self.rtp_ports.partition("-")
        return int(low), int(high or low)


def _variable(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


_FIELDS = {f.name: f for f in msgspec.structs.fields(Settings)}


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field in _FIELDS.items():
        raw = environ.get(_variable(name))
        if raw is None or raw == "":
            continue
        if name == "previous_secret_keys":
            values[name] = [k for k in raw.split(",") if k]
        elif field.type in (int, float, bool):
            values[name] = _scalar(name, raw, field.type)
        else:
            values[name] = raw
    return values


def _scalar(name: str, raw: str, kind: Any) -> Any:
    if kind is bool:
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(_variable(name), f"expected true or false, got {raw!r}")
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(_variable(name), f"expected a number, got {raw!r}") from None


def _from_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise SettingsError(CONFIG_FILE_VAR, f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(CONFIG_FILE_VAR, f"{path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise SettingsError(_variable(unknown[0]), f"unknown setting in {path}")
    return data


def _check_port(name: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise SettingsError(_variable(name), f"port must be 1-65535, got {port}")


def _check_url(name: str, url: str | None, schemes: set[str]) -> None:
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        raise SettingsError(
            _variable(name), f"expected a URL starting with {' or '.join(sorted(schemes))}"
        )


def _validate(settings: Settings) -> None:
    if settings.media_transport not in {"audiosocket", "rtp"}:
        raise SettingsError(_variable("media_transport"), "expected audiosocket or rtp")
    for name in ("http_port", "audiosocket_port", "audiosocket_health_port", "ami_port"):
        _check_port(name, getattr(settings, name))
    try:
        low, high = settings.rtp_port_range
    except ValueError:
        raise SettingsError(_variable("rtp_ports"), "expected a range like 20000-20999") from None
    if not (1024 <= low <= high <= 65535) or low % 2:
        raise SettingsError(
            _variable("rtp_ports"), "expected an even first port and a range within 1024-65535"
        )
    _check_url("database_url", settings.database_url, {"postgres", "postgresql"})
    _check_url("redis_url", settings.redis_url, {"redis", "rediss", "unix"})
    _check_url("public_url", settings.public_url, {"http", "https"})
    _check_url("smtp_url", settings.smtp_url, {"smtp", "smtps"})
    _check_url("ari_url", settings.ari_url, {"http", "https"})
    _check_url("twilio_api_url", settings.twilio_api_url, {"http", "https"})
    if settings.secret_key is not None and len(settings.secret_key) < 32:
        raise SettingsError(_variable("secret_key"), "must be at least 32 characters")
    if settings.log_level not in {"debug", "info", "warning", "error"}:
        raise SettingsError(_variable("log_level"), "expected debug, info, warning or error")
    if settings.log_format not in {"json", "console"}:
        raise SettingsError(_variable("log_format"), "expected json or console")
    for name in ("max_calls", "max_local_calls", "dials_in_flight"):
        limit = getattr(settings, name)
        if limit is not None and limit < 1:
            raise SettingsError(_variable(name), "must be at least 1")
    if settings.shutdown_drain_s < 0:
        raise SettingsError(_variable("shutdown_drain_s"), "must not be negative")
    if settings.process_lease_s < MIN_PROCESS_LEASE_S:
        raise SettingsError(
            _variable("process_lease_s"), f"must be at least {MIN_PROCESS_LEASE_S:g} seconds"
        )
    if settings.web_call_max_s <= 0:
        raise SettingsError(_variable("web_call_max_s"), "must be positive")
    if settings.local_workers < 0:
        raise SettingsError(_variable("local_workers"), "must not be negative")
    _validate_exposure(settings)


def _validate_exposure(settings: Settings) -> None:
    for name in (
        "http_request_timeout_s",
        "http_keepalive_timeout_s",
        "http_max_connections",
        "ws_max_message_bytes",
        "audiosocket_max_connections",
        "login_attempts_per_ip",
    ):
        if getattr(settings, name) <= 0:
            raise SettingsError(_variable(name), "must be positive")
    for proxy in settings.trusted_proxy_list:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise SettingsError(
                _variable("trusted_proxies"), f"{proxy!r} is not an address or network"
            ) from None


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Read and validate settings; raises `SettingsError` naming the offending variable."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or (Path(env[CONFIG_FILE_VAR]) if env.get(CONFIG_FILE_VAR) else None)
    if path is not None:
        values.update(_from_file(path))
    values.update(_from_env(env))
    try:
        settings = msgspec.convert(values, Settings, strict=False)
    except msgspec.ValidationError as exc:
        field = str(exc).rpartition("$.")[2].split("[")[0].rstrip("`") or "config"
        raise SettingsError(_variable(field), str(exc).split(" - at")[0]) from None
    _validate(settings)
    return settings
