"""Reading a dialable number from what people type, and the time zone a number is in.

A number is kept in E.164 (store/numbers.py). A lead list or a do-not-call import writes
numbers the way people do (`(555) 010-0100`, `+44 20 7946 0958`, `0015550100100`): spaces,
dashes, dots and brackets are dropped, and a national number is read in `region` when one is
given.
"""

from __future__ import annotations

import re
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_timezones

from store.numbers import normalize_number

# What people put between digits; nothing else is allowed in a number.
_SEPARATORS: Final = re.compile(r"[\s\-().]")
_DIALABLE: Final = re.compile(r"^\+?[0-9]{2,20}$")
# phonenumbers' answer for a number it cannot place.
_UNKNOWN_ZONE: Final = "Etc/Unknown"
_UNKNOWN_REGION: Final = "ZZ"


class BadNumber(ValueError):
    """Not a phone number; the message says why in plain words."""


def parse_number(raw: str, region: str | None = None) -> str:
    """`raw` as a stored number (E.164 where international); raises `BadNumber`."""
    text = _SEPARATORS.sub("", raw.strip())
    if not text:
        raise BadNumber("the number is empty")
    if not _DIALABLE.match(text):
        raise BadNumber(f"{raw.strip()!r} is not a phone number (digits and an optional +)")
    if region is not None and not text.startswith(("+", "00")):
        parsed = _parse(text, region)
        if not phonenumbers.is_possible_number(parsed):
            raise BadNumber(f"{raw.strip()!r} is not a possible number in {region}")
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    number = normalize_number(text)
    if number.startswith("+"):
        parsed = _parse(number, None)
        if not phonenumbers.is_possible_number(parsed):
            raise BadNumber(f"{number} has the wrong number of digits for its country")
    return number


def read_lead_number(raw: str, region: str | None, default_region: str | None) -> str:
    """`raw` as `parse_number` reads it with `region`; without one, a number without `+` is
    first read in `default_region` (the caller's own country: a bare `4155550123` is a US
    number there, not a Swiss one), then as international when it is no number there."""
    if region is not None or default_region is None:
        return parse_number(raw, region)
    try:
        return parse_number(raw, default_region)
    except BadNumber:
        return parse_number(raw)


def number_region(number: str) -> str | None:
    """The country (ISO 3166 code) whose national numbers are written like `number`'s: the
    main country of its country code (US for +1), or None."""
    if not number.startswith("+"):
        return None
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    if parsed.country_code is None:
        return None
    region = phonenumbers.region_code_for_country_code(parsed.country_code)
    return region if region and region != _UNKNOWN_REGION else None


def number_timezone(number: str) -> str | None:
    """The time zone of an E.164 number when its country or area code has exactly one."""
    if not number.startswith("+"):
        return None
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in number_timezones.time_zones_for_number(parsed) if z != _UNKNOWN_ZONE]
    return zones[0] if len(zones) == 1 else None


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _parse(number: str, region: str | None) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException as exc:
        raise BadNumber(f"{number!r} is not a phone number ({exc._msg})") from exc
