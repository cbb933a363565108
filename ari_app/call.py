"""`Call`: one phone call whatever its transport, with its status history."""

from __future__ import annotations

import time
import uuid
from enum import StrEnum
from typing import Final

import msgspec


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallStatus(StrEnum):
    QUEUED = "queued"
    DIALING = "dialing"
    RINGING = "ringing"
    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    VOICEMAIL = "voicemail"
    COMPLETED = "completed"


_NEXT: Final[dict[CallStatus, frozenset[CallStatus]]] = {
    CallStatus.QUEUED: frozenset({CallStatus.DIALING, CallStatus.FAILED}),
    CallStatus.DIALING: frozenset(
        {
            CallStatus.RINGING,
            CallStatus.ANSWERED,
            CallStatus.BUSY,
            CallStatus.NO_ANSWER,
            CallStatus.FAILED,
        }
    ),
    CallStatus.RINGING: frozenset(
        {CallStatus.ANSWERED, CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.FAILED}
    ),
    CallStatus.ANSWERED: frozenset({CallStatus.VOICEMAIL, CallStatus.COMPLETED, CallStatus.FAILED}),
    CallStatus.VOICEMAIL: frozenset({CallStatus.COMPLETED}),
    CallStatus.BUSY: frozenset(),
    CallStatus.NO_ANSWER: frozenset(),
    CallStatus.FAILED: frozenset(),
    CallStatus.COMPLETED: frozenset(),
}
FINAL_STATUSES: Final = frozenset(s for s, nxt in _NEXT.items() if not nxt)


# Tenant and agent of an inbound call until its number is resolved (no record can name it).
UNROUTED: Final = uuid.UUID(int=0)


class InvalidTransition(ValueError):
    """A status change the call's state machine does not allow."""


class Call(msgspec.Struct, kw_only=True):
    """A call: who, which agent, which way, and each status with the time it was reached."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    agent_id: uuid.UUID
    direction: Direction
    from_number: str = ""
    to_number: str = ""
    trunk: str | None = None  # the outbound pacing key of the trunk dialled through
    trunk_id: uuid.UUID | None = None  # that trunk's id in the store, when it has one
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    status: CallStatus = CallStatus.QUEUED
    status_times: dict[str, float] = msgspec.field(default_factory=dict)  # status -> epoch s
    channel_id: str | None = None
    amd_status: str | None = None
    amd_cause: str | None = None
    hangup_cause: int | None = None
    outcome: str | None = None
    error: str | None = None
    recording_path: str | None = None  # where the store keeps its recording, once finished

    def __post_init__(self) -> None:
        self.status_times.setdefault(self.status.value, time.time())

    def to(self, status: CallStatus, *, at: float | None = None) -> None:
        """Move to `status`; raises `InvalidTransition` for a move the machine forbids."""
        if status is self.status:
            return
        if status not in _NEXT[self.status]:
            raise InvalidTransition(f"call {self.id}: {self.status} -> {status}")
        self.status = status
        self.status_times[status.value] = time.time() if at is None else at

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES

    def time_of(self, status: CallStatus) -> float | None:
        return self.status_times.get(status.value)
