"""Call control the pipeline may ask of the call's transport, as a port (`CallControl`).

ari_app/ and twilio_adapter/ implement it; the pipeline knows neither Asterisk nor Twilio.
Here too: where an agent may transfer its callers (`TransferSettings`), checked when the agent
is saved and again when a call loads it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Annotated, Final, Literal, Protocol

import msgspec

# A target the model names: short, so it reads well in the tool's description.
TARGET_NAME_PATTERN: Final = r"^[A-Za-z0-9_-]{1,40}$"
E164: Final = re.compile(r"^\+[1-9][0-9]{6,14}$")
# `PJSIP/1001`, `PJSIP/+15550100@trunk1`, `Local/200@humans[/n]`: a channel Asterisk can dial
# (a Local channel runs the operator's dialplan: a ring group, a queue).
ENDPOINT: Final = re.compile(
    r"^(PJSIP/[A-Za-z0-9_.+-]{1,80}(@[A-Za-z0-9_.-]{1,80})?"
    r"|Local/[A-Za-z0-9_+*#.-]{1,80}@[A-Za-z0-9_-]{1,80}(/n)?)$"
)
# `context,exten[,priority]`: where the caller's channel continues in the dialplan.
DIALPLAN: Final = re.compile(r"^[A-Za-z0-9_-]{1,80},[A-Za-z0-9_+*#.-]{1,80}(,[1-9][0-9]{0,3})?$")
TRUNK_NAME: Final = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")

TargetKind = Literal["endpoint", "dialplan", "number"]


def target_kind(target: str) -> TargetKind:
    """What `target` names; `ValueError` for anything else (a caller-dictated string, say)."""
    if E164.match(target):
        return "number"
    if ENDPOINT.match(target):
        return "endpoint"
    if DIALPLAN.match(target):
        return "dialplan"
    raise ValueError(
        "transfer target must be a PJSIP endpoint (PJSIP/1001), a Local channel "
        "(Local/200@humans), a dialplan 'context,exten' "
        "or an E.164 number (+15550100100)"
    )


class TransferMode(StrEnum):
    """Blind: the caller is handed over as is. Warm: the agent tells the human first."""

    BLIND = "blind"
    WARM = "warm"


class TransferTarget(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """A named destination the model may choose; never a number the caller dictates."""

    name: Annotated[str, msgspec.Meta(pattern=TARGET_NAME_PATTERN)]
    target: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    # When to pick it, told to the model ("billing questions").
    description: Annotated[str, msgspec.Meta(max_length=300)] = ""
    # The PJSIP endpoint of the trunk an E.164 number is dialled through on Asterisk.
    trunk: str | None = None

    def __post_init__(self) -> None:
        kind = target_kind(self.target)
        if self.trunk is not None and (kind != "number" or not TRUNK_NAME.match(self.trunk)):
            raise ValueError("a trunk goes with an E.164 number target only, as a PJSIP name")

    @property
    def kind(self) -> TargetKind:
        return target_kind(self.target)


class TransferSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Whether the agent offers `transfer_call`, how, and to whom."""

    enabled: bool = False
    mode: TransferMode = TransferMode.BLIND
    targets: list[TransferTarget] = msgspec.field(default_factory=list)
    # How long the human's phone rings before the caller is back with the agent.
    ring_timeout_s: Annotated[int, msgspec.Meta(ge=5, le=120)] = 25

    def __post_init__(self) -> None:
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names):
            raise ValueError("transfer target names must be unique")
        if self.enabled and not self.targets:
            raise ValueError("transfer needs at least one target when enabled")


class TransferFailure(StrEnum):
    """Why a transfer did not happen; the caller stays with the agent."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"
    FAILED = "failed"  # the line cannot reach the target, or the transport refused


class TransferResult(msgspec.Struct, frozen=True, kw_only=True):
    """`failure` None: the caller was handed over (`mode`: how it was, which the transport
    may have had to choose) and the agent is off the call."""

    failure: TransferFailure | None = None
    detail: str = ""
    mode: TransferMode | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


# Speaks the agent's summary to the human alone; returns once it was heard.
Announce = Callable[[], Awaitable[None]]


class CallControl(Protocol):
    """What a call's transport does for the pipeline's call-control tools."""

    async def transfer(
        self,
        target: TransferTarget,
        mode: TransferMode,
        *,
        ring_timeout_s: int,
        announce: Announce | None,
    ) -> TransferResult:
        """Hand the caller to `target`. Blind: once the target takes the call (at once for a
        dialplan target). Warm: `announce` runs while the human hears the agent alone, then
        caller and human are bridged. Either way the agent's media is then the transport's to
        drop; a failure leaves the caller with the agent and is returned, never raised."""
