"""A campaign's rules as stored: when a lead may be called (days and hours in the lead's own
time zone, holidays skipped) and which dispositions are retried, how often, how much later.

Pure functions of an explicit `now`, so the runner and the tests bring their own clock.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Final
from zoneinfo import ZoneInfo

import holidays
import msgspec

HourMinute = Annotated[str, msgspec.Meta(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
# A window that never opens (no day, or every day a holiday) stops the search this far out.
SEARCH_DAYS: Final = 400


class Disposition(StrEnum):
    """How one attempt ended."""

    HUMAN = "human"
    VOICEMAIL_LEFT = "voicemail_left"
    VOICEMAIL_NO_MESSAGE = "voicemail_no_message"
    IVR = "ivr"  # an automated menu answered and no person came on
    CALL_SCREENING = "call_screening"  # a call screener answered and no person came on
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    REJECTED = "rejected"
    TRANSFERRED = "transferred"
    DNC_REQUESTED = "dnc_requested"
    ON_DNC_LIST = "on_dnc_list"  # the number went on the list before it was dialled
    CANCELLED = "cancelled"


class LeadState(StrEnum):
    PENDING = "pending"
    DIALLING = "dialling"
    REACHED = "reached"
    EXHAUSTED = "exhausted"
    DNC = "dnc"
    CANCELLED = "cancelled"


FINAL_LEAD_STATES: Final = frozenset(
    {LeadState.REACHED, LeadState.EXHAUSTED, LeadState.DNC, LeadState.CANCELLED}
)
# The lead's business is done: it is never called again, whatever the retry rules say.
REACHED: Final = frozenset({Disposition.HUMAN, Disposition.VOICEMAIL_LEFT, Disposition.TRANSFERRED})
DNC: Final = frozenset({Disposition.DNC_REQUESTED, Disposition.ON_DNC_LIST})
RETRYABLE: Final = frozenset(
    {
        Disposition.VOICEMAIL_NO_MESSAGE,
        Disposition.IVR,
        Disposition.CALL_SCREENING,
        Disposition.NO_ANSWER,
        Disposition.BUSY,
        Disposition.FAILED,
    }
)


class CallingWindow(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Days (1 = Monday … 7 = Sunday) and hours a lead may be called, in the lead's time zone;
    `holidays` names the country (ISO 3166 code) whose public holidays are skipped. What a
    schema cannot say is checked by `window_errors`."""

    days: Annotated[list[int], msgspec.Meta(min_length=1, max_length=7)] = msgspec.field(
        default_factory=lambda: [1, 2, 3, 4, 5]
    )
    start: HourMinute = "09:00"
    end: HourMinute = "20:00"
    holidays: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] | None = None


def window_errors(window: CallingWindow) -> list[tuple[str, str]]:
    """(field, reason) of each rule the window breaks."""
    errors = []
    if any(not 1 <= day <= 7 for day in window.days):
        errors.append(("days", "days are 1 (Monday) to 7 (Sunday)"))
    if window.start >= window.end:
        errors.append(("end", "the window's end must be after its start, the same day"))
    if window.holidays is not None and window.holidays not in holidays.list_supported_countries():
        errors.append(("holidays", f"no holiday calendar for country {window.holidays!r}"))
    return errors


class RetryRule(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Call again after `after_s`, up to `retries` more times for this disposition."""

    retries: Annotated[int, msgspec.Meta(ge=0, le=20)]
    after_s: Annotated[int, msgspec.Meta(ge=0, le=30 * 86400)]


DEFAULT_RETRY_RULES: Final = {
    Disposition.BUSY.value: RetryRule(retries=2, after_s=600),
    Disposition.NO_ANSWER.value: RetryRule(retries=2, after_s=3600),
    Disposition.FAILED.value: RetryRule(retries=1, after_s=900),
    Disposition.VOICEMAIL_NO_MESSAGE.value: RetryRule(retries=1, after_s=4 * 3600),
    # A menu or a screener answers again at once; a later hour may find the person instead.
    Disposition.IVR.value: RetryRule(retries=1, after_s=4 * 3600),
    Disposition.CALL_SCREENING.value: RetryRule(retries=1, after_s=2 * 3600),
}


def _hm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@functools.lru_cache(maxsize=64)
def _holiday_calendar(country: str) -> holidays.HolidayBase:
    return holidays.country_holidays(country)


def _open_day(window: CallingWindow, day: date) -> bool:
    if day.isoweekday() not in window.days:
        return False
    return window.holidays is None or day not in _holiday_calendar(window.holidays)


def in_window(window: CallingWindow, now: datetime, tz: str) -> bool:
    local = now.astimezone(ZoneInfo(tz))
    start, end = _hm(window.start), _hm(window.end)
    return _open_day(window, local.date()) and start <= local.time() < end


def next_opening(window: CallingWindow, now: datetime, tz: str) -> datetime | None:
    """The first moment at or after `now` inside the window (UTC), or None when it never
    opens within a year."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    start, end = _hm(window.start), _hm(window.end)
    for offset in range(SEARCH_DAYS):
        day = local.date() + timedelta(days=offset)
        if not _open_day(window, day):
            continue
        opens = datetime.combine(day, start, zone)
        closes = datetime.combine(day, end, zone)
        if now < closes:
            return max(opens, now).astimezone(UTC)
    return None


def retry_at(
    rules: dict[str, RetryRule], disposition: Disposition, earlier: int, now: datetime
) -> datetime | None:
    """When to call again after `disposition`, which ended `earlier` attempts before this
    one too; None: do not."""
    rule = rules.get(disposition.value)
    if disposition not in RETRYABLE or rule is None or earlier >= rule.retries:
        return None
    return now + timedelta(seconds=rule.after_s)


def lead_state_after(disposition: Disposition, retrying: bool) -> LeadState:
    if disposition in DNC:
        return LeadState.DNC
    if disposition in REACHED:
        return LeadState.REACHED
    if disposition is Disposition.CANCELLED:
        return LeadState.CANCELLED
    return LeadState.PENDING if retrying else LeadState.EXHAUSTED
