"""Live trunk status: endpoint state over ARI plus outbound registration over AMI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import msgspec
import structlog

from provisioning.asterisk_api import PJSIP_TECHNOLOGY, AsteriskAri
from provisioning.models import Trunk
from provisioning.naming import object_names

log = structlog.get_logger(__name__)


class RegistrationSource(Protocol):
    """Where registration states come from (an `AmiConnection` in production)."""

    async def outbound_registrations(self) -> Mapping[str, str]: ...


class TrunkStatus(msgspec.Struct, frozen=True):
    """What `GET /api/v1/sip-trunks/{id}/status` returns.

    endpoint_state: ARI's state (`online`, `offline`, `unknown`), `absent` when Asterisk has
    no such endpoint, `unavailable` when ARI could not be asked.
    registration: AMI status (`Registered`, `Unregistered`, `Rejected`, `Stopped`), `absent`
    when Asterisk has no such registration, `unavailable` when AMI could not be asked, and
    None for IP trunks, which do not register.
    """

    trunk_id: str
    endpoint: str
    endpoint_state: str
    active_channels: int
    registration: str | None
    errors: tuple[str, ...] = ()


async def trunk_status(
    trunk: Trunk,
    ari: AsteriskAri,
    registrations: RegistrationSource,
    *,
    not_found: tuple[type[BaseException], ...],
) -> TrunkStatus:
    """Ask Asterisk about one trunk; a failing source is reported, not raised."""
    names = object_names(trunk)
    errors: list[str] = []
    endpoint_state = "unavailable"
    channels = 0
    try:
        endpoint = await ari.get_endpoint(PJSIP_TECHNOLOGY, names.endpoint)
    except not_found:
        endpoint_state = "absent"
    except Exception as exc:  # the client's transport errors: status still answers
        errors.append(f"ARI: {type(exc).__name__}: {exc}")
    else:
        endpoint_state = endpoint.state or "unknown"
        channels = len(endpoint.channel_ids)
    registration: str | None = None
    if trunk.kind == "registration":
        try:
            states = await registrations.outbound_registrations()
        except Exception as exc:  # AMI down or refused: report it beside the ARI state
            registration = "unavailable"
            errors.append(f"AMI: {type(exc).__name__}: {exc}")
        else:
            registration = states.get(names.registration, "absent")
    if errors:
        log.warning("provisioning.status_degraded", trunk_id=trunk.id, errors=errors)
    return TrunkStatus(
        trunk.id, names.endpoint, endpoint_state, channels, registration, tuple(errors)
    )
