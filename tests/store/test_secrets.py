from __future__ import annotations

import uuid

import asyncpg
import pytest

from store.repositories.config import AgentRepository, ProviderCredentialRepository
from store.repositories.tenants import TenantsRepository
from store.rotation import rotate_secrets
from store.secrets import (
    SecretBox,
    SecretError,
    api_key_matches,
    api_key_prefix,
    generate_api_key,
    hash_password,
    verify_password,
)
from store.tool_headers import seal_header, unsealed_headers

OLD = "old-secret-key-" + "o" * 32
NEW = "new-secret-key-" + "n" * 32


def test_round_trip_and_purpose_binding() -> None:
    box = SecretBox(OLD)
    sealed = box.encrypt("sk-live-123", "provider_credentials.api_key")
    assert b"sk-live-123" not in sealed
    assert box.decrypt(sealed, "provider_credentials.api_key") == "sk-live-123"
    with pytest.raises(SecretError):
        box.decrypt(sealed, "sip_trunks.password")


@pytest.mark.parametrize("position", [0, 3, 10, 20, -1])
def test_tampered_ciphertext_is_rejected(position: int) -> None:
    box = SecretBox(OLD)
    sealed = bytearray(box.encrypt("secret", "p"))
    sealed[position] ^= 0x01
    with pytest.raises(SecretError):
        box.decrypt(bytes(sealed), "p")


def test_unknown_key_is_rejected() -> None:
    sealed = SecretBox(OLD).encrypt("secret", "p")
    with pytest.raises(SecretError, match="unknown key"):
        SecretBox(NEW).decrypt(sealed, "p")


def test_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32"):
        SecretBox("short")


async def test_rotation_re_encrypts_under_the_new_key(own_pool: asyncpg.Pool) -> None:
    pg_pool = own_pool
    tenant = await TenantsRepository(pg_pool).create(f"rot-{uuid.uuid4().hex[:8]}")
    old_repo = ProviderCredentialRepository(pg_pool, SecretBox(OLD))
    row = await old_repo.create(
        tenant.id, {"name": "p", "kind": "llm", "vendor": "scripted", "api_key": "sk-rotate-me"}
    )
    new_box = SecretBox(NEW, previous_keys=(OLD,))

    rotated = await rotate_secrets(pg_pool, new_box)
    assert rotated >= 1
    assert await rotate_secrets(pg_pool, new_box) == 0

    stored = await ProviderCredentialRepository(pg_pool, SecretBox(NEW)).get(tenant.id, row.id)
    assert stored is not None and stored.api_key is not None
    assert not new_box.needs_rotation(stored.api_key)
    assert SecretBox(NEW).decrypt(stored.api_key, "provider_credentials.api_key") == "sk-rotate-me"


async def test_rotation_re_seals_the_headers_of_agents_tools(own_pool: asyncpg.Pool) -> None:
    tenant = await TenantsRepository(own_pool).create(f"rot-{uuid.uuid4().hex[:8]}")
    header = seal_header(SecretBox(OLD), "Authorization", "Bearer tool-secret-0001")
    tool = {"name": "book", "url": "https://booking.example.com/", "headers": [header]}
    offline = {"vendor": "scripted"}
    agents = AgentRepository(own_pool)
    row = await agents.create(
        tenant.id, {"name": "a", "stt": offline, "llm": offline, "tts": offline, "tools": [tool]}
    )
    new_box = SecretBox(NEW, previous_keys=(OLD,))

    assert await rotate_secrets(own_pool, new_box) >= 1
    assert await rotate_secrets(own_pool, new_box) == 0
    stored = await agents.get(tenant.id, row.id)
    assert stored is not None
    # Readable with the new key alone: the old one may now be dropped.
    assert unsealed_headers(SecretBox(NEW), stored.tools[0]["headers"]) == {
        "Authorization": "Bearer tool-secret-0001"
    }
    assert stored.tools[0]["headers"][0]["hint"] == header["hint"]


async def test_passwords_use_a_slow_salted_kdf() -> None:
    first = await hash_password("correct horse")
    second = await hash_password("correct horse")
    assert first != second and first.startswith("scrypt$")
    assert await verify_password("correct horse", first)
    assert not await verify_password("wrong horse", first)
    assert not await verify_password("correct horse", "garbage")


def test_api_keys_are_stored_as_hashes_with_a_visible_prefix() -> None:
    new = generate_api_key()
    assert new.key.startswith(new.prefix + "_")
    assert new.key not in new.key_hash
    assert api_key_prefix(new.key) == new.prefix
    assert api_key_matches(new.key, new.key_hash)
    assert not api_key_matches(new.key + "x", new.key_hash)
    assert api_key_prefix("Bearer nonsense") is None
