"""What the process hands the API: connections, secrets, settings and hooks into telephony."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from redis.asyncio import Redis

from api.mail import Mailer
from provisioning.models import Trunk
from provisioning.reload import ReloadResult
from provisioning.status import TrunkStatus
from store.models import Agent
from store.secrets import SecretBox


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """Tunables of the API; the defaults suit production."""

    public_url: str = "http://127.0.0.1:8000"
    # The UI build served at `/` when the directory exists.
    ui_dist: Path | None = Path("ui/dist")
    # A UI session lasts a working day; logging in again after that is not a burden.
    session_ttl_s: int = 12 * 3600
    # Guessing passwords: 10 attempts per account (a successful one starts its count over) and
    # 100 per client address in a sliding 15-minute window; attempts beyond are refused before
    # any password is checked.
    login_attempts_per_email: int = 10
    login_attempts_per_ip: int = 100
    login_window_s: int = 15 * 60
    # An invitation waits a week for a colleague back from leave; a reset link is for now.
    invitation_ttl_s: int = 7 * 86_400
    password_reset_ttl_s: int = 3600
    # A vendor that does not answer a credential check within this is reported as unreachable.
    provider_test_timeout_s: float = 10.0
    # Tenants' URLs may reach loopback and private networks (the operator's choice).
    allow_private_urls: bool = False
    # Webhook test deliveries wait at most this long for the receiver.
    webhook_timeout_s: float = 10.0
    # Asterisk has a TLS transport (VOCALS_SIP_TLS): without it TLS trunks cannot dial.
    sip_tls: bool = False


@dataclass(frozen=True, slots=True)
class ApiContext:
    """Everything `create_app` needs.

    `extra_health` adds process-level health (AudioSocket listener, ARI connection) to
    `/healthz`. `on_trunks_changed(tenant_id)` re-provisions Asterisk after a trunk change and
    says whether it worked. `hangup_call(tenant_id, call_id)` ends a live call; False when the
    call is not live in this deployment. `trunk_status(trunk)` asks Asterisk about one trunk
    (`provisioning.status.trunk_status` with the process's ARI and AMI connections).
    `prepare_web_call(agent)` starts readying a browser call's agent (its greeting
    synthesized) as its token is minted.
    """

    pool: asyncpg.Pool
    redis: Redis
    box: SecretBox
    settings: ApiSettings = field(default_factory=ApiSettings)
    # Invitations and reset links; log-only (development) unless the operator set SMTP.
    mailer: Mailer = field(default_factory=Mailer)
    extra_health: Callable[[], Awaitable[dict[str, Any]]] | None = None
    on_trunks_changed: Callable[[uuid.UUID], Awaitable[ReloadResult]] | None = None
    hangup_call: Callable[[uuid.UUID, uuid.UUID], Awaitable[bool]] | None = None
    trunk_status: Callable[[Trunk], Awaitable[TrunkStatus]] | None = None
    prepare_web_call: Callable[[Agent], None] | None = None
