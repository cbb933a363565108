"""A page's side of a web call, in Python: speaks `web_calls.protocol` over a real socket as
the embeddable script does (start with the token, 16 kHz PCM in real-time 20 ms chunks, marks
echoed once the audio before them has played, everything queued dropped on `clear`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

FRAME_S = 0.02
BYTES_PER_S = 32000
FRAME_BYTES = 640
OPEN_TIMEOUT_S = 30.0


@dataclass
class PageCall:
    """What the page saw: control messages in order, agent audio with its arrival times."""

    socket: ClientConnection
    messages: list[dict[str, Any]] = field(default_factory=list)
    audio: list[tuple[float, bytes]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _play_until: float = 0.0
    _marks: dict[str, asyncio.TimerHandle] = field(default_factory=dict)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    @property
    def call_id(self) -> str:
        return str(self.of_type("started")[0]["call_id"])

    def audio_bytes(self, since: float = 0.0) -> int:
        return sum(len(pcm) for at, pcm in self.audio if at >= since)

    async def wait_for(self, predicate: Any, timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

    async def speak(self, pcm: bytes) -> None:
        """Send `pcm` as a microphone would: 20 ms at a time, in real time."""
        start = time.monotonic()
        for i, offset in enumerate(range(0, len(pcm), FRAME_BYTES)):
            await self.socket.send(pcm[offset : offset + FRAME_BYTES])
            delay = start + (i + 1) * FRAME_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def silence(self, seconds: float) -> None:
        await self.speak(bytes(int(seconds * BYTES_PER_S) // 2 * 2))

    async def send_text(self, **message: Any) -> None:
        await self.socket.send(msgspec.json.encode(message).decode())

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for data in self.socket:
                now = time.monotonic()
                if isinstance(data, bytes):
                    self.audio.append((now, data))
                    self._play_until = max(self._play_until, now) + len(data) / BYTES_PER_S
                else:
                    message = msgspec.json.decode(data)
                    self.messages.append(message)
                    if message["type"] == "mark":
                        name, delay = message["name"], max(0.0, self._play_until - now)
                        self._marks[name] = loop.call_later(delay, self._echo, name)
                    elif message["type"] == "clear":  # what was queued is dropped: say so
                        self._play_until = now
                        for name, timer in list(self._marks.items()):
                            timer.cancel()
                            self._echo(name)
                self.changed.set()
        except ConnectionClosed:
            pass
        finally:
            if self.socket.close_code is not None:
                self.close_code = self.socket.close_code
                self.close_reason = self.socket.close_reason or ""
            self.closed.set()
            self.changed.set()

    def _echo(self, name: str) -> None:
        self._marks.pop(name, None)
        asyncio.get_running_loop().create_task(self._send_mark(name))

    async def _send_mark(self, name: str) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self.send_text(type="mark", name=name)


@asynccontextmanager
async def page_call(
    socket_url: str, token: str | None, origin: str | None
) -> AsyncIterator[PageCall]:
    """A socket opened from `origin` that sends `start` with `token` (None: sends nothing)."""
    async with websockets.connect(
        socket_url,
        origin=None if origin is None else Origin(origin),
        open_timeout=OPEN_TIMEOUT_S,
        max_size=None,
    ) as socket:
        call = PageCall(socket)
        reader = asyncio.create_task(call._read())
        if token is not None:
            await call.send_text(type="start", token=token)
        try:
            yield call
        finally:
            await socket.close()
            await reader


async def refusal(socket_url: str, token: str, origin: str | None) -> tuple[int | None, str]:
    """The close code and reason a socket starting with `token` from `origin` gets."""
    async with page_call(socket_url, token, origin) as call:
        await asyncio.wait_for(call.closed.wait(), OPEN_TIMEOUT_S)
        assert not call.of_type("started"), "the call started"
        return call.close_code, call.close_reason
