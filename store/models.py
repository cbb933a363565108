"""Rows as stored, one msgspec Struct per table (secrets stay encrypted bytes here)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec


class Tenant(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    created_at: datetime
    updated_at: datetime
    require_two_factor: bool = False
    require_sso: bool = False


class User(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    password_hash: str
    role: str
    created_at: datetime
    updated_at: datetime
    # Sealed with the SecretBox ("users.totp_secret"); enabled once the first code confirmed it.
    totp_secret: bytes | None = None
    totp_enabled_at: datetime | None = None
    totp_last_step: int | None = None


class Passkey(msgspec.Struct, kw_only=True):
    """A user's WebAuthn credential: a second factor."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    name: str
    credential_id: bytes
    public_key: bytes
    sign_count: int
    transports: list[str]
    created_at: datetime
    last_used_at: datetime | None = None


class SignInLink(msgspec.Struct, kw_only=True):
    """An invitation or a password reset: a single-use link, kept as its token's hash."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    kind: str
    email: str
    role: str | None
    user_id: uuid.UUID | None
    token_hash: str
    created_by: str
    expires_at: datetime
    used_at: datetime | None
    created_at: datetime


class SsoProvider(msgspec.Struct, kw_only=True):
    """An SSO provider of a tenant; `client_secret` is sealed. `protocol` is "oidc" (issuer:
    its issuer URL) or "github" (issuer: the GitHub web address)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    issuer: str
    client_id: str
    client_secret: bytes
    allowed_domains: list[str]
    default_role: str
    created_at: datetime
    updated_at: datetime
    protocol: str = "oidc"


class ProviderCredential(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    kind: str
    vendor: str
    api_key: bytes | None
    api_key_last4: str | None
    model: str | None
    options: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    # The last credential check (POST .../test); None until one ran.
    last_test_ok: bool | None = None
    last_test_at: datetime | None = None
    last_test_message: str | None = None


class Agent(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    system_prompt: str
    welcome_message: str
    welcome_interruptible: bool
    language: str
    stt: dict[str, Any]
    llm: dict[str, Any]
    tts: dict[str, Any]
    barge_in_sensitivity: str
    end_of_speech_ms: int | None
    voicemail_policy: str
    voicemail_message: str
    max_call_seconds: int
    recording_enabled: bool
    recording_retention_days: int
    created_at: datetime
    updated_at: datetime
    # "audiosocket" or "rtp"; None takes the process default (VOCALS_MEDIA_TRANSPORT).
    media_transport: str | None = None
    # HTTP tools as the API validated them (see api/agent_tools.py).
    tools: list[dict[str, Any]] = msgspec.field(default_factory=list)
    # MCP servers as the API validated them (see api/agent_tools.py).
    mcp_servers: list[dict[str, Any]] = msgspec.field(default_factory=list)
    # Transfer settings as the API validated them (see api/agent_transfer.py).
    transfer: dict[str, Any] = msgspec.field(default_factory=dict)
    # Post-call analysis settings as the API validated them (see api/agent_analysis.py).
    analysis: dict[str, Any] = msgspec.field(default_factory=dict)
    # "silence" or "smart"; `smart_turn` holds smart's silences in ms (None: the defaults).
    turn_detection: str = "silence"
    smart_turn: dict[str, int] | None = None
    # Built-in tools by name (see pipeline/dtmf_tools.py), as the API validated them.
    call_tools: list[str] = msgspec.field(default_factory=list)
    # "webrtc" or "silero": what calls caller audio speech.
    vad: str = "webrtc"
    # "off" or "webrtc": what cleans caller audio before the VAD and the recognizer.
    noise_suppression: str = "off"


class SipTrunk(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    kind: str
    host: str
    port: int
    transport: str
    username: str | None
    password: bytes | None
    from_user: str | None
    from_domain: str | None
    codecs: list[str]
    dtmf_mode: str
    max_cps: float
    max_calls: int
    created_at: datetime
    updated_at: datetime


class InboundRoute(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    did: str
    agent_id: uuid.UUID
    trunk_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class CallRecord(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    agent_id: uuid.UUID | None = None
    trunk_id: uuid.UUID | None = None
    direction: str
    transport: str = "asterisk"
    from_number: str = ""
    to_number: str = ""
    status: str
    outcome: str | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration_ms: int | None = None
    transcript: list[dict[str, Any]] = msgspec.field(default_factory=list)
    turns: list[dict[str, Any]] = msgspec.field(default_factory=list)
    events: list[dict[str, Any]] = msgspec.field(default_factory=list)
    provider_usage: dict[str, Any] = msgspec.field(default_factory=dict)
    variables: dict[str, Any] = msgspec.field(default_factory=dict)
    recording_path: str | None = None
    error_reason: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    # Written after the call by the post-call worker, never by the record's writer.
    analysis: dict[str, Any] | None = None
    cost: dict[str, Any] | None = None


class SttEvent(msgspec.Struct, kw_only=True):
    id: int
    tenant_id: uuid.UUID
    call_id: uuid.UUID
    kind: str
    vendor: str
    detail: str
    created_at: datetime


class AuditLog(msgspec.Struct, kw_only=True):
    id: int
    tenant_id: uuid.UUID
    actor: str
    action: str
    entity_type: str
    entity_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime


class Webhook(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    url: str
    events: list[str]
    secret: bytes
    active: bool
    created_at: datetime
    updated_at: datetime


class WebhookDelivery(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    payload: dict[str, Any]
    # Deliveries of one webhook sharing an ordering key (a call id) go out one by one, by seq.
    ordering_key: str | None
    seq: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # Where the last attempt was sent (the webhook's URL then); None before any attempt.
    last_url: str | None = None


class ApiKey(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    prefix: str
    key_hash: str
    role: str
    rpm: int
    rpd: int
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_at: datetime
    updated_at: datetime
