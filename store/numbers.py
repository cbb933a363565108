"""One form for phone numbers everywhere: E.164, with its `+`, where a number is international.

Carriers and dialplans deliver the same number as `+15550100100`, `15550100100` or
`0015550100100`; Vocals stores, routes, generates dialplan for and looks up all three as
`+15550100100`. The rule, applied to the API's input, the stored routes and every lookup:

- a leading `+` is kept; a leading `00` (the international call prefix) becomes `+`;
- 8 to 15 digits not starting with 0 are an international number missing its `+`;
- anything else (extensions and short codes of up to 7 digits, national numbers starting
  with a single 0) is kept as written and matched exactly.
"""

from __future__ import annotations

import re
from typing import Final

# E.164 allows up to 15 digits; below 8 digits a bare number is an extension or short code.
_BARE_INTERNATIONAL: Final = re.compile(r"[1-9][0-9]{7,14}")
_INTERNATIONAL_PREFIX: Final = "00"


def normalize_number(number: str) -> str:
    """`number` in its one stored form (see the module docstring); never raises."""
    if number.startswith(_INTERNATIONAL_PREFIX) and _BARE_INTERNATIONAL.fullmatch(number[2:]):
        return "+" + number[2:]
    if _BARE_INTERNATIONAL.fullmatch(number):
        return "+" + number
    return number


def dialled_forms(number: str) -> tuple[str, ...]:
    """Every form in which a caller's dialplan may deliver `number` (its stored form first),
    so the generated dialplan answers each of them."""
    if not number.startswith("+") or not _BARE_INTERNATIONAL.fullmatch(number[1:]):
        return (number,)
    digits = number[1:]
    return (number, digits, _INTERNATIONAL_PREFIX + digits)
