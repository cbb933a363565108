"""Asterisk object names for a trunk, derived from a slug of its name and its id only."""

from __future__ import annotations

import re
from typing import Final

import msgspec

from provisioning.models import Trunk

OBJECT_PREFIX: Final = "vocals-"
# Keeps the longest name ("vocals-" + slug + "-" + 36-char id + "-auth") within 64 characters.
MAX_SLUG_LENGTH: Final = 14
FALLBACK_SLUG: Final = "trunk"
_NOT_SLUG: Final = re.compile(r"[^a-z0-9]+")


class TrunkObjectNames(msgspec.Struct, frozen=True):
    """Names of the PJSIP objects rendered for one trunk.

    `endpoint` also names the aor and identify objects; dial out with
    `PJSIP/<number>@<endpoint>`.
    """

    endpoint: str
    auth: str
    registration: str


def trunk_slug(name: str) -> str:
    """Lower-case letters and digits of `name`, runs of anything else as one `-`."""
    slug = _NOT_SLUG.sub("-", name.lower()).strip("-")[:MAX_SLUG_LENGTH].rstrip("-")
    return slug or FALLBACK_SLUG


def object_names(trunk: Trunk) -> TrunkObjectNames:
    """Object names for a validated trunk (the id guarantees uniqueness)."""
    base = f"{OBJECT_PREFIX}{trunk_slug(trunk.name)}-{trunk.id}"
    return TrunkObjectNames(endpoint=base, auth=f"{base}-auth", registration=f"{base}-reg")
