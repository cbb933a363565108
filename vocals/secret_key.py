"""The key provider secrets are encrypted under: VOCALS_SECRET_KEY, or for a local setup a key
generated once into the data dir (a production deployment sets the variable)."""

from __future__ import annotations

import os
import secrets
import tempfile
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
        _create_once(path)
    return SecretBox(path.read_text().strip(), settings.previous_secret_keys)


def _create_once(path: Path) -> None:
    """Write a new key to `path` unless another process got there first. The key is written
    whole under a private name and then linked into place, so a process starting beside this
    one never reads a half-written key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{KEY_FILE_NAME}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        os.link(partial, path)
    except FileExistsError:
        return
    finally:
        os.unlink(partial)
    log.warning("generated a local secret key; set VOCALS_SECRET_KEY in production", path=str(path))
