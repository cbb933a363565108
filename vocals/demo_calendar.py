"""The demo salon's booking calendar: a local HTTP endpoint the demo receptionist's
`check_availability` tool calls during the call, like a real booking system."""

from __future__ import annotations

import asyncio
from typing import Any, Final

from aiohttp import web

DAYS: Final = ("today", "tomorrow", "monday", "tuesday", "wednesday", "thursday", "friday",
               "saturday", "sunday")  # fmt: skip
# Appointment times of each part of the day, as they are said.
TIMES: Final = {
    "morning": ("nine thirty", "ten o'clock", "eleven thirty"),
    "afternoon": ("one o'clock", "two thirty", "four o'clock"),
    "evening": ("five o'clock", "five thirty"),
}
# What is taken already: the first free time of a part is offered, a full part gets another.
BOOKED: Final = {
    ("tomorrow", "morning"): {"nine thirty"},
    ("today", "afternoon"): set(TIMES["afternoon"]),
}
# A booking system answers in about a second; the demo's does too, so the caller hears the
# agent's filler phrase while it looks (the tool's filler starts before that).
LOOKUP_S: Final = 1.0
TOOL_FILLER: Final = "One moment while I check the calendar."
TOOL_FILLER_AFTER_S: Final = 0.2


def free_times(day: str, part: str) -> list[str]:
    """The times still free on `day` in `part` of the day."""
    taken = BOOKED.get((day, part), set())
    return [t for t in TIMES.get(part, ()) if t not in taken]


def availability(day: str, part: str) -> dict[str, str]:
    """The calendar's answer: the first free `time`, or an `alternative` when full."""
    free = free_times(day, part)
    if free:
        return {"time": free[0]}
    for other in TIMES:
        if other != part and free_times(day, other):
            return {"alternative": f"{day} {other}"}
    return {"alternative": "another day"}


def tool_definition(url: str) -> dict[str, Any]:
    """The agent's HTTP tool for this calendar (pipeline.http_tools.HttpTool's fields)."""
    return {
        "name": "check_availability",
        "description": "Free appointment times on a day, in the morning, afternoon or evening.",
        "url": url,
        "method": "POST",
        "parameters": {
            "type": "object",
            "properties": {
                "day": {"type": "string", "enum": list(DAYS)},
                "part": {"type": "string", "enum": list(TIMES)},
            },
            "required": ["day"],
        },
        "timeout_s": 5.0,
        "filler": TOOL_FILLER,
        "filler_after_s": TOOL_FILLER_AFTER_S,
    }


class DemoCalendar:
    """Serves `POST /availability` with `{"day", "part"}` on 127.0.0.1."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/availability", self._availability)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/availability"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _availability(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "the body is not JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "the body is not an object"}, status=400)
        self.requests.append(body)
        day = str(body.get("day", "")).lower()
        part = str(body.get("part", "morning")).lower()
        if day not in DAYS or part not in TIMES:
            return web.json_response({"error": f"no calendar for {day} {part}"}, status=400)
        await asyncio.sleep(LOOKUP_S)  # the booking system at work
        return web.json_response(availability(day, part))
