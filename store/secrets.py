"""Secrets at rest: AES-GCM for provider keys and trunk passwords, scrypt for user passwords,
SHA-256 for API keys (they are long random strings, so a fast hash is enough)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets as stdlib_secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_FORMAT_VERSION = b"\x01"
_KEY_ID_BYTES = 4
_NONCE_BYTES = 12  # the size AES-GCM is designed for
_HEADER_BYTES = 1 + _KEY_ID_BYTES + _NONCE_BYTES
MIN_SECRET_KEY_CHARS = 32
_T = TypeVar("_T")

# scrypt cost: about 50 ms and 16 MiB per hash on a server core, per OWASP's minimum.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_SALT_BYTES = 16
# One thread for every password hash of the process: hashlib.scrypt releases the GIL, so the
# event loop keeps the other core; more threads would let a sign-in flood take every core.
_KDF_THREADS = 1
# Hashes waiting for that thread beyond this are refused: a flood queues no unbounded work.
_KDF_MAX_WAITING = 32

API_KEY_PREFIX = "vk_"
_API_KEY_ID_CHARS = 8
_API_KEY_SECRET_BYTES = 32
_LINK_TOKEN_BYTES = 32


class SecretError(Exception):
    """A ciphertext could not be decrypted: unknown key, tampered with, or not ours."""


class PasswordHasherBusy(Exception):
    """Too many password hashes are already waiting; try again shortly."""


@dataclass(frozen=True, slots=True)
class _Key:
    key_id: bytes
    aead: AESGCM


def _derive(secret_key: str) -> _Key:
    raw = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"vocals secrets at rest v1"
    ).derive(secret_key.encode())
    key_id = hashlib.sha256(raw).digest()[:_KEY_ID_BYTES]
    return _Key(key_id, AESGCM(raw))


class SecretBox:
    """Encrypts with the current key; decrypts with the current or any previous key.

    Each ciphertext carries the id of its key, so rotation can find what still needs
    re-encrypting. `purpose` (e.g. "provider_credentials.api_key") is authenticated data: a
    ciphertext moved to another column does not decrypt.
    """

    def __init__(self, current_key: str, previous_keys: tuple[str, ...] = ()) -> None:
        if len(current_key) < MIN_SECRET_KEY_CHARS:
            raise ValueError(f"the secret key must be at least {MIN_SECRET_KEY_CHARS} characters")
        self._current = _derive(current_key)
        self._keys = {self._current.key_id: self._current}
        for previous in previous_keys:
            key = _derive(previous)
            self._keys.setdefault(key.key_id, key)

    @property
    def current_key_id(self) -> bytes:
        return self._current.key_id

    def encrypt(self, plaintext: str, purpose: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._current.aead.encrypt(nonce, plaintext.encode(), purpose.encode())
        return _FORMAT_VERSION + self._current.key_id + nonce + sealed

    def decrypt(self, ciphertext: bytes, purpose: str) -> str:
        if len(ciphertext) <= _HEADER_BYTES or ciphertext[:1] != _FORMAT_VERSION:
            raise SecretError("not a Vocals ciphertext")
        key_id = ciphertext[1 : 1 + _KEY_ID_BYTES]
        key = self._keys.get(key_id)
        if key is None:
            raise SecretError(f"encrypted under unknown key {key_id.hex()}")
        nonce = ciphertext[1 + _KEY_ID_BYTES : _HEADER_BYTES]
        try:
            return key.aead.decrypt(nonce, ciphertext[_HEADER_BYTES:], purpose.encode()).decode()
        except InvalidTag as exc:
            raise SecretError("ciphertext was tampered with or belongs elsewhere") from exc

    def needs_rotation(self, ciphertext: bytes) -> bool:
        return ciphertext[1 : 1 + _KEY_ID_BYTES] != self._current.key_id

    def rotate(self, ciphertext: bytes, purpose: str) -> bytes:
        """Re-encrypt under the current key."""
        return self.encrypt(self.decrypt(ciphertext, purpose), purpose)


def hash_password_sync(password: str) -> str:
    salt = os.urandom(_SCRYPT_SALT_BYTES)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    encoded = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${encoded[0]}${encoded[1]}"


def has_password(stored: str) -> bool:
    """Whether `stored` is a password hash (an account made by single sign-on has none)."""
    return stored.startswith("scrypt$")


def verify_password_sync(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(computed, base64.b64decode(digest))


_kdf = ThreadPoolExecutor(max_workers=_KDF_THREADS, thread_name_prefix="password-kdf")
_kdf_waiting = 0


async def _on_kdf_thread(function: Callable[..., _T], *args: str) -> _T:
    """Run `function` on the password thread; `PasswordHasherBusy` when its queue is full."""
    global _kdf_waiting
    if _kdf_waiting >= _KDF_MAX_WAITING:
        raise PasswordHasherBusy
    _kdf_waiting += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_kdf, function, *args)
    finally:
        _kdf_waiting -= 1


async def hash_password(password: str) -> str:
    """scrypt off the event loop: it costs tens of milliseconds by design."""
    return await _on_kdf_thread(hash_password_sync, password)


async def verify_password(password: str, stored: str) -> bool:
    return await _on_kdf_thread(verify_password_sync, password, stored)


@dataclass(frozen=True, slots=True)
class NewApiKey:
    """A freshly generated API key: `key` is shown once, `prefix` and `key_hash` are stored."""

    key: str
    prefix: str
    key_hash: str


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_api_key() -> NewApiKey:
    key_id = stdlib_secrets.token_hex(_API_KEY_ID_CHARS // 2)
    prefix = f"{API_KEY_PREFIX}{key_id}"
    key = f"{prefix}_{stdlib_secrets.token_urlsafe(_API_KEY_SECRET_BYTES)}"
    return NewApiKey(key=key, prefix=prefix, key_hash=hash_api_key(key))


def api_key_prefix(key: str) -> str | None:
    """The stored lookup prefix of a presented key, or None when it is not shaped like ours."""
    prefix_length = len(API_KEY_PREFIX) + _API_KEY_ID_CHARS
    prefix = key[:prefix_length]
    key_id = prefix[len(API_KEY_PREFIX) :]
    if not prefix.startswith(API_KEY_PREFIX) or key[prefix_length : prefix_length + 1] != "_":
        return None
    if len(key_id) != _API_KEY_ID_CHARS or any(c not in "0123456789abcdef" for c in key_id):
        return None
    return prefix


def api_key_matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), stored_hash)


def new_link_token() -> tuple[str, str]:
    """A token for an invitation or reset link and the hash kept of it (a fast hash, as for
    API keys: the token is 256 random bits)."""
    token = stdlib_secrets.token_urlsafe(_LINK_TOKEN_BYTES)
    return token, hash_link_token(token)


def hash_link_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
