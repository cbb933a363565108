"""Operator tasks behind `vocals admin …` and `vocals migrate`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import msgspec

from provisioning.models import MASKED_SECRET
from provisioning.render import render_all
from store.db import create_pool
from store.migrate import Migration, migrate
from store.models import Tenant, User
from store.repositories.base import Conflict
from store.repositories.config import UserRepository
from store.repositories.tenants import TenantsRepository
from store.rotation import rotate_secrets
from store.secrets import hash_password
from vocals.secret_key import secret_box
from vocals.services import Services, ensure_database, resolve_services
from vocals.settings import Settings
from vocals.trunks import load_trunk_config

ROLES = ("owner", "admin", "viewer")
MIN_PASSWORD_CHARS = 10


class AdminError(Exception):
    """A user error in an admin command: printed as one line, exit status 1."""


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[tuple[asyncpg.Pool, Services]]:
    """A migrated database pool (starting embedded services when needed)."""
    services = await resolve_services(settings)
    try:
        await ensure_database(services.database_url)
        conn = await asyncpg.connect(services.database_url, timeout=10)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        pool = await create_pool(services.database_url, max_size=2)
        try:
            yield pool, services
        finally:
            await pool.close()
    finally:
        services.close()


async def run_migrations(settings: Settings) -> tuple[list[Migration], Services]:
    services = await resolve_services(settings)
    try:
        await ensure_database(services.database_url)
        conn = await asyncpg.connect(services.database_url, timeout=10)
        try:
            return await migrate(conn), services
        finally:
            await conn.close()
    finally:
        services.close()


async def create_tenant(settings: Settings, name: str) -> Tenant:
    if not name.strip():
        raise AdminError("the tenant name must not be empty")
    async with database(settings) as (pool, _):
        try:
            return await TenantsRepository(pool).create(name.strip())
        except Conflict as exc:
            raise AdminError(str(exc)) from None


async def create_user(
    settings: Settings, tenant: str, email: str, password: str, role: str
) -> User:
    if role not in ROLES:
        raise AdminError(f"role must be one of {', '.join(ROLES)}")
    if "@" not in email or email.strip() != email:
        raise AdminError(f"{email!r} is not an e-mail address")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AdminError(f"the password must be at least {MIN_PASSWORD_CHARS} characters")
    async with database(settings) as (pool, _):
        found = await TenantsRepository(pool).find_by_name(tenant)
        if found is None:
            raise AdminError(
                f"no tenant named {tenant!r}; create it with `vocals admin create-tenant`"
            )
        values = {"email": email, "password_hash": await hash_password(password), "role": role}
        try:
            return await UserRepository(pool).create(found.id, values)
        except Conflict:
            raise AdminError(f"a user with e-mail {email} already exists") from None


async def rotate_key(settings: Settings) -> int:
    """Re-encrypt stored secrets under VOCALS_SECRET_KEY; VOCALS_PREVIOUS_SECRET_KEYS hold the
    keys they may still be encrypted under."""
    box = secret_box(settings)
    async with database(settings) as (pool, _):
        return await rotate_secrets(pool, box)


async def render_trunks(settings: Settings, *, show_secrets: bool = False) -> dict[str, str]:
    """The generated Asterisk files for every stored trunk and route, without writing them;
    passwords are masked unless `show_secrets`."""
    async with database(settings) as (pool, _):
        config = await load_trunk_config(pool, secret_box(settings))
    trunks = config.trunks
    if not show_secrets:
        trunks = tuple(
            msgspec.structs.replace(t, password=MASKED_SECRET) if t.password else t for t in trunks
        )
    return render_all(trunks, settings.ari_app, config.routes)
