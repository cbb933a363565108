"""Calling windows in the lead's own time (weekdays, hours, holidays, daylight saving) and
retry rules per disposition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from store.campaign_rules import (
    CallingWindow,
    Disposition,
    LeadState,
    RetryRule,
    in_window,
    lead_state_after,
    next_opening,
    retry_at,
    window_errors,
)

WEEKDAYS = CallingWindow(days=[1, 2, 3, 4, 5], start="09:00", end="17:00", holidays="US")


def test_the_window_is_in_the_leads_time_zone() -> None:
    # Thursday 10 December 2026, 15:30 UTC: 10:30 in New York, 16:30 in Paris, 00:30 in Tokyo.
    now = datetime(2026, 12, 10, 15, 30, tzinfo=UTC)
    assert in_window(WEEKDAYS, now, "America/New_York")
    assert in_window(WEEKDAYS, now, "Europe/Paris")
    assert not in_window(WEEKDAYS, now, "Asia/Tokyo")
    assert next_opening(WEEKDAYS, now, "Asia/Tokyo") == datetime(2026, 12, 11, 0, 0, tzinfo=UTC)
    assert next_opening(WEEKDAYS, now, "Europe/Paris") == now


def test_holidays_and_weekends_are_skipped() -> None:
    # Thursday 24 December 2026 after hours in New York: Christmas (Friday) and the weekend
    # are skipped, so Monday 28 December at 09:00 EST.
    now = datetime(2026, 12, 24, 23, 0, tzinfo=UTC)
    assert next_opening(WEEKDAYS, now, "America/New_York") == datetime(
        2026, 12, 28, 14, 0, tzinfo=UTC
    )
    christmas_noon = datetime(2026, 12, 25, 17, 0, tzinfo=UTC)
    assert not in_window(WEEKDAYS, christmas_noon, "America/New_York")
    no_holidays = msgspec.structs.replace(WEEKDAYS, holidays=None)
    assert in_window(no_holidays, christmas_noon, "America/New_York")


def test_the_window_follows_daylight_saving() -> None:
    # 09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer.
    winter = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)  # a Friday before the change
    summer = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)  # the Monday after
    assert next_opening(WEEKDAYS, winter, "America/New_York") == winter.replace(hour=14)
    assert next_opening(WEEKDAYS, summer, "America/New_York") == summer.replace(hour=13)


def test_a_window_is_checked_when_it_is_made() -> None:
    broken = CallingWindow(days=[0, 8], start="17:00", end="09:00", holidays="ZZ")
    assert [field for field, _ in window_errors(broken)] == ["days", "end", "holidays"]
    assert window_errors(WEEKDAYS) == []
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"start": "25:00"}, CallingWindow)


def test_retries_per_disposition() -> None:
    rules = {"busy": RetryRule(retries=2, after_s=600)}
    now = datetime(2026, 12, 10, 15, 30, tzinfo=UTC)
    assert retry_at(rules, Disposition.BUSY, 0, now) == now + timedelta(minutes=10)
    assert retry_at(rules, Disposition.BUSY, 1, now) == now + timedelta(minutes=10)
    assert retry_at(rules, Disposition.BUSY, 2, now) is None
    assert retry_at(rules, Disposition.NO_ANSWER, 0, now) is None  # no rule: no retry
    assert lead_state_after(Disposition.BUSY, True) is LeadState.PENDING
    assert lead_state_after(Disposition.BUSY, False) is LeadState.EXHAUSTED
    assert lead_state_after(Disposition.HUMAN, False) is LeadState.REACHED
    assert lead_state_after(Disposition.DNC_REQUESTED, False) is LeadState.DNC
    # A reached lead is never retried, whatever the rules say.
    everything = {d.value: RetryRule(retries=5, after_s=0) for d in Disposition}
    assert retry_at(everything, Disposition.HUMAN, 0, now) is None
    assert retry_at(everything, Disposition.REJECTED, 0, now) is None
