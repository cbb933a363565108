"""An agent's transfer settings as the API takes them: shape checked on decode (400), the
rules across fields (unique names, a target when enabled) as 422. A call turns them into
`pipeline.call_control.TransferSettings`, whose limits these mirror."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from api.errors import FieldError

# A PJSIP endpoint (`PJSIP/1001`, `PJSIP/+15550100@trunk1`), a Local channel
# (`Local/200@humans[/n]`), a dialplan `context,exten[,prio]`
# or an E.164 number: never free text the model or a caller could turn into a dial string.
TARGET_PATTERN = (
    r"^(\+[1-9][0-9]{6,14}"
    r"|PJSIP/[A-Za-z0-9_.+-]{1,80}(@[A-Za-z0-9_.-]{1,80})?"
    r"|Local/[A-Za-z0-9_+*#.-]{1,80}@[A-Za-z0-9_-]{1,80}(/n)?"
    r"|[A-Za-z0-9_-]{1,80},[A-Za-z0-9_+*#.-]{1,80}(,[1-9][0-9]{0,3})?)$"
)
# Each destination is described to the model on every turn: a switchboard, not a directory.
MAX_TARGETS = 20


class TransferTargetIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A destination the agent's model may choose by `name`."""

    name: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,40}$")]
    target: Annotated[str, msgspec.Meta(pattern=TARGET_PATTERN)]
    description: Annotated[str, msgspec.Meta(max_length=300)] = ""
    # The PJSIP endpoint of the trunk an E.164 number goes out through (on Asterisk).
    trunk: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,80}$")] | None = None


class AgentTransfer(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Whether the agent offers `transfer_call`, blind or warm (briefing the human first)."""

    enabled: bool = False
    mode: Literal["blind", "warm"] = "blind"
    targets: Annotated[list[TransferTargetIn], msgspec.Meta(max_length=MAX_TARGETS)] = (
        msgspec.field(default_factory=list)
    )
    ring_timeout_s: Annotated[int, msgspec.Meta(ge=5, le=120)] = 25


def transfer_problems(transfer: dict[str, Any] | None) -> list[FieldError]:
    """What is wrong with `transfer` beyond its shape, each named `transfer.field`."""
    if transfer is None:
        return []
    found: list[FieldError] = []
    seen: set[str] = set()
    targets = transfer.get("targets", [])
    for index, target in enumerate(targets):
        if target["name"] in seen:
            found.append(FieldError(f"transfer.targets[{index}].name", "names a target twice"))
        seen.add(target["name"])
        if target.get("trunk") is not None and not target["target"].startswith("+"):
            found.append(
                FieldError(f"transfer.targets[{index}].trunk", "goes with a number target only")
            )
    if transfer.get("enabled") and not targets:
        found.append(FieldError("transfer.targets", "needs at least one target when enabled"))
    return found
