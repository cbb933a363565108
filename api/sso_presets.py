"""Presets for the identity providers most tenants use: the issuer (and protocol) filled in
from what the admin knows, so they only paste a client id and secret.

- Google: OpenID Connect at https://accounts.google.com.
- Microsoft Entra ID: OpenID Connect at https://login.microsoftonline.com/{directory}/v2.0,
  for one directory (tenant) id. The multi-tenant "common"/"organizations" endpoints publish a
  templated issuer no ID token matches, so they are not offered. Entra sends no
  `email_verified`: the app registration must add the optional claims `email` and `xms_edov`.
- GitHub: not OpenID Connect but its OAuth 2 flow (api/github_oauth.py), at https://github.com
  or a GitHub Enterprise Server's address.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from api.errors import invalid
from api.github_oauth import GITHUB_COM

Preset = Literal["google", "microsoft", "github"]
Protocol = Literal["oidc", "github"]
GOOGLE_ISSUER = "https://accounts.google.com"
_ENTRA_ISSUER = "https://login.microsoftonline.com/{directory}/v2.0"
# An Entra directory (tenant) id is a GUID.
DIRECTORY_PATTERN = r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"


@dataclass(frozen=True, slots=True)
class Endpoint:
    protocol: Protocol
    issuer: str


def resolve(preset: Preset | None, issuer: str | None, directory: str | None) -> Endpoint:
    """The protocol and issuer a new provider is configured with; 422 naming the field when
    the preset and the fields given do not fit together."""
    if directory is not None and preset != "microsoft":
        raise invalid("directory", "only the microsoft preset takes a directory id")
    if preset is None:
        if issuer is None:
            raise invalid("issuer", "required without a preset")
        return Endpoint("oidc", issuer)
    if preset == "github":
        return Endpoint("github", issuer or GITHUB_COM)
    if issuer is not None:
        raise invalid("issuer", f"the {preset} preset sets the issuer itself")
    if preset == "google":
        return Endpoint("oidc", GOOGLE_ISSUER)
    if directory is None:
        raise invalid("directory", "the microsoft preset needs the Entra directory (tenant) id")
    return Endpoint("oidc", _ENTRA_ISSUER.format(directory=directory.lower()))
