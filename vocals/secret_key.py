"""The key provider secrets are encrypted under: VOCALS_SECRET_KEY, or for a local setup a key
generated once into the data dir (a production deployment sets the variable)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import structlog

from store.secrets import SecretBox
from vocals.settings import Settings

log = structlog.get_logger(__name__)
KEY_FILE_NAME = "secret_key"


def secret_box(settings: Settings) -> SecretBox:
    if settings.secret_key:
        return SecretBox(settings.secret_key, settings.previous_secret_keys)
    path = Path(settings.data_dir) / KEY_FILE_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        log.warning(
            "generated a local secret key; set VOCALS_SECRET_KEY in production", path=str(path)
        )
    return SecretBox(path.read_text().strip(), settings.previous_secret_keys)
