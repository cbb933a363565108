"""CSV in and out of the API: a posted CSV text read into rows keyed by its header, and cells
written so that a spreadsheet opening an export runs nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from typing import Any, Final

# A spreadsheet runs a cell that starts like a formula; a phone number's `+` is not one.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


class BadCsv(ValueError):
    """The text is not CSV with the header it needs; the message says why."""


def read_rows(text: str, *, required: str) -> list[tuple[int, dict[str, str]]]:
    """(line number, {header: cell}) for each non-blank row; the header must name
    `required`. Headers are matched case-insensitively and without surrounding spaces."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise BadCsv("the CSV is empty") from None
    except csv.Error as exc:
        raise BadCsv(f"the CSV cannot be read: {exc}") from None
    if required not in header:
        raise BadCsv(f"the CSV's first line must be a header naming a {required!r} column")
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            # A short row leaves its missing cells out; extra cells have no header.
            values = (c.strip() for c in cells)
            rows.append((reader.line_num, dict(zip(header, values, strict=False))))
    except csv.Error as exc:
        raise BadCsv(f"line {reader.line_num}: {exc}") from None
    return rows


def cell(value: object) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    return text.lstrip("+-").replace(" ", "").isdigit()


async def csv_stream(
    header: Sequence[str], rows: AsyncIterator[Iterable[Any]]
) -> AsyncIterator[str]:
    """The CSV text of `header` and `rows`, a row at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    async for row in rows:
        writer.writerow([cell(v) for v in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
