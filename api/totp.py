"""TOTP codes (RFC 6238, through pyotp) and recovery codes: making them and checking them.

Recovery codes are 80 random bits, so a SHA-256 of them is as safe at rest as an API key's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import pyotp

ISSUER = "Vocals"
# What every authenticator app shows by default (pyotp's default too).
TOTP_DIGITS = 6
# Codes from the previous and next 30-second step are accepted: phones' clocks drift.
_ALLOWED_DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
_RECOVERY_CODE_BYTES = 10  # 80 bits: 16 base32 characters
_RECOVERY_GROUP = 4


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str) -> str:
    """The otpauth:// URI an authenticator app reads (usually from a QR code)."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS).provisioning_uri(name=account, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code `code` is, within the allowed drift; None when none is."""
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS)
    current = int((time.time() if now is None else now) // totp.interval)
    for step in range(current - _ALLOWED_DRIFT_STEPS, current + _ALLOWED_DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def is_totp_code(code: str) -> bool:
    return len(code) == TOTP_DIGITS and code.isdigit()


def new_recovery_codes() -> list[str]:
    """Fresh codes as shown to the user, e.g. `abcd-efgh-ijkl-mnop`."""
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = base64.b32encode(secrets.token_bytes(_RECOVERY_CODE_BYTES)).decode().lower()
        groups = [raw[i : i + _RECOVERY_GROUP] for i in range(0, len(raw), _RECOVERY_GROUP)]
        codes.append("-".join(groups))
    return codes


def hash_recovery_code(code: str) -> str:
    """The stored form; dashes, spaces and case do not matter when typing one."""
    normalized = "".join(code.split()).replace("-", "").lower()
    return hashlib.sha256(normalized.encode()).hexdigest()
