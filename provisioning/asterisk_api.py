"""What provisioning needs from an ARI client, as a Protocol.

`ari_app`'s client provides these; tests use any object with the same shape. The client
raises its own not-found error on a 404, which the caller names when building the flow
(`not_found=`), so provisioning needs no import of the client's internals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

PJSIP_MODULE: Final = "res_pjsip.so"
DIALPLAN_MODULE: Final = "pbx_config.so"  # reloads extensions.conf and what it includes
PJSIP_TECHNOLOGY: Final = "PJSIP"


class AriEndpoint(Protocol):
    """The fields of ARI's Endpoint model that trunk status reads."""

    @property
    def state(self) -> str | None: ...

    @property
    def channel_ids(self) -> Sequence[str]: ...


class AsteriskAri(Protocol):
    """Module reload and endpoint lookup over ARI (`PUT /asterisk/modules/{name}`,
    `GET /endpoints/{tech}/{resource}`)."""

    async def reload_module(self, name: str) -> object: ...

    async def get_endpoint(self, tech: str, resource: str) -> AriEndpoint: ...
