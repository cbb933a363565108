"""WebAuthn ceremonies through py_webauthn: the options a browser passes to
navigator.credentials.create()/get(), and the checks of what it sends back (challenge, origin,
relying party, signature, counter). Each challenge is kept in Redis for one use. Verification
(CBOR parsing, signature checks, attestation) runs in a worker thread, off the event loop.

The relying party is the host of the public URL: WebAuthn works on a host name (localhost
included) over https, or http on localhost, never on an IP address.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import msgspec
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from api.context import ApiContext
from api.errors import ApiError, invalid
from store.models import Passkey, User
from store.redis import KEY_PREFIX

RP_NAME = "Vocals"
# Time to touch the key or unlock the phone; the browser gives up at the same moment.
CEREMONY_TIMEOUT_S = 120


@dataclass(frozen=True, slots=True)
class RelyingParty:
    id: str
    origin: str


def relying_party(public_url: str) -> RelyingParty:
    """The relying party of this server; 409 when its public URL cannot be one."""
    parts = urlsplit(public_url)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return RelyingParty(id=host, origin=f"{parts.scheme}://{parts.netloc}")
    raise ApiError(
        409,
        "passkeys need the server's public URL (VOCALS_PUBLIC_URL) to name a host, "
        "not an IP address",
    )


def _challenge_key(purpose: str, subject: str) -> str:
    return f"{KEY_PREFIX}webauthn:{purpose}:{hashlib.sha256(subject.encode()).hexdigest()}"


async def _keep(context: ApiContext, purpose: str, subject: str, challenge: bytes) -> None:
    await context.redis.set(
        _challenge_key(purpose, subject), challenge.hex(), ex=CEREMONY_TIMEOUT_S
    )


async def _spend(context: ApiContext, purpose: str, subject: str) -> bytes:
    kept = await context.redis.getdel(_challenge_key(purpose, subject))
    if kept is None:
        raise invalid("credential", "the passkey request expired or was used: start again")
    return bytes.fromhex(kept if isinstance(kept, str) else kept.decode())


def _descriptors(passkeys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    known = {t.value for t in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=p.credential_id,
            transports=[AuthenticatorTransport(t) for t in p.transports if t in known],
        )
        for p in passkeys
    ]


def _plain(options: Any) -> dict[str, Any]:
    decoded: dict[str, Any] = msgspec.json.decode(options_to_json(options))
    return decoded


async def registration_options(
    context: ApiContext, rp: RelyingParty, user: User, existing: list[Passkey]
) -> dict[str, Any]:
    """Options for navigator.credentials.create(), as JSON (WebAuthn Level 3)."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=RP_NAME,
        user_id=user.id.bytes,
        user_name=user.email,
        timeout=CEREMONY_TIMEOUT_S * 1000,
        exclude_credentials=_descriptors(existing),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    await _keep(context, "register", str(user.id), options.challenge)
    return _plain(options)


async def verified_registration(
    context: ApiContext, rp: RelyingParty, user: User, credential: dict[str, Any]
) -> VerifiedRegistration:
    """The new credential, checked against the challenge given to this user; 422 if not."""
    challenge = await _spend(context, "register", str(user.id))
    try:
        return await asyncio.to_thread(
            verify_registration_response,
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise invalid("credential", f"the passkey was not accepted: {exc}") from exc


def _purpose(passwordless: bool) -> str:
    return "passwordless" if passwordless else "second-factor"


async def authentication_options(
    context: ApiContext, rp: RelyingParty, subject: str, passkeys: list[Passkey]
) -> dict[str, Any]:
    """Options for navigator.credentials.get(), the challenge kept for `subject`: with the
    user's passkeys as a second factor (the pending sign-in), or with none (any passkey of
    this site, the user verified by it) for signing in without a password."""
    passwordless = not passkeys
    options = generate_authentication_options(
        rp_id=rp.id,
        timeout=CEREMONY_TIMEOUT_S * 1000,
        allow_credentials=_descriptors(passkeys),
        user_verification=UserVerificationRequirement.REQUIRED
        if passwordless
        else UserVerificationRequirement.PREFERRED,
    )
    await _keep(context, _purpose(passwordless), subject, options.challenge)
    return _plain(options)


async def verified_sign_count(
    context: ApiContext,
    rp: RelyingParty,
    subject: str,
    credential: dict[str, Any],
    passkey: Passkey,
    *,
    passwordless: bool = False,
) -> int:
    """The authenticator's new signature counter once its assertion checks out; 422 if not
    (a counter that went back means a cloned authenticator, and is refused too). Without a
    password, the authenticator must have verified the user (PIN, fingerprint)."""
    challenge = await _spend(context, _purpose(passwordless), subject)
    try:
        verified = await asyncio.to_thread(
            verify_authentication_response,
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=passwordless,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise invalid("credential", f"the passkey was not accepted: {exc}") from exc
    return int(verified.new_sign_count)


def credential_id(credential: dict[str, Any]) -> bytes:
    """The raw id of the credential a browser sent (base64url in `rawId`)."""
    raw = credential.get("rawId")
    if not isinstance(raw, str):
        raise invalid("credential", "rawId is missing")
    try:
        return base64url_to_bytes(raw)
    except ValueError as exc:
        raise invalid("credential", "rawId is not base64url") from exc
