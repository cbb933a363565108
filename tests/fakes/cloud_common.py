"""What the cloud-vendor fakes share: an aiohttp server on 127.0.0.1, scripted failures and
a log of what arrived."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Failure:
    """One scripted error answer (HTTP status, optional `Retry-After` seconds)."""

    status: int
    retry_after: float | None = None


@dataclass
class ScriptedTurn:
    """One scripted LLM reply: text, then tool calls (name, JSON arguments) streamed in pieces."""

    text: str = ""
    tool_calls: list[tuple[str, str]] = field(default_factory=list)


# Characters of a tool call's arguments per streamed piece: small, so every call arrives split.
ARGUMENT_PIECE = 7


@dataclass
class Received:
    """One request or session as the fake saw it, with its arrival time (monotonic)."""

    path: str
    headers: dict[str, str]
    body: Any = None
    at: float = field(default_factory=time.monotonic)


class LocalServer:
    """An aiohttp application listening on an ephemeral 127.0.0.1 port."""

    def __init__(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app)
        self.port = 0

    async def start(self) -> int:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self.port

    async def stop(self) -> None:
        await self._runner.cleanup()


def failure_response(failure: Failure, body: dict[str, Any]) -> web.Response:
    """The JSON error answer for `failure`, with `Retry-After` when scripted."""
    response = web.json_response(body, status=failure.status)
    if failure.retry_after is not None:
        response.headers["Retry-After"] = f"{failure.retry_after:g}"
    return response


class ScriptedRecognizer:
    """A stand-in for a vendor's speech recognizer: the words of `transcript` are "heard"
    one per `seconds_per_word` of audio received, whatever the audio is."""

    def __init__(self, transcript: str, seconds_per_word: float, bytes_per_second: int) -> None:
        self.words = transcript.split()
        self.seconds_per_word = seconds_per_word
        self.bytes_per_second = bytes_per_second
        self.heard_bytes = 0
        self._reported = 0

    def hear(self, size: int) -> list[str] | None:
        """Account `size` bytes of audio; the words so far when a new one was recognized."""
        self.heard_bytes += size
        count = self._count()
        if count > self._reported:
            self._reported = count
            return self.words[:count]
        return None

    def settle(self) -> list[str]:
        """The words of the utterance so far; the next utterance starts over."""
        words = self.words[: self._count()]
        self.heard_bytes = self._reported = 0
        return words

    def _count(self) -> int:
        seconds = self.heard_bytes / self.bytes_per_second
        return min(len(self.words), int(seconds / self.seconds_per_word + 1e-9))
