"""Browsers calling agents through `web_calls/` (its protocol: 16 kHz PCM both ways over one
WebSocket, JSON control messages), for simulated callers.

Per call, as the embeddable script does: a token (from `mint`, the site backend's part), the
socket opened from the token's origin, `start` with the token, then a 20 ms chunk of
microphone audio every 20 ms. The page's AudioWorklet is modelled too: agent audio is played
at real time from a buffer that starts playing once `PREBUFFER_FRAMES` are queued (or a mark
ends a shorter utterance), `clear` empties it, a mark is echoed once the audio before it has
played. `on_frame_received` gets each frame at its play-out time: what the caller hears.

Audio at the `SimulatedCall` interface stays slin 8 kHz like every other simulated caller;
it is resampled to and from the wire's 16 kHz here.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final

import msgspec
import numpy as np
import soxr
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Origin

from vocals.simulator.caller import (
    FRAME_BYTES,
    SILENCE_FRAME,
    AudioSource,
    OnFrameReceived,
    QueueSource,
    SimulatedCall,
)

FRAME_S: Final = 0.020
PUMP_MAX_LAG_FRAMES: Final = 3
# The page's worklet holds 60 ms before it starts playing (web-call-worklet.js).
PREBUFFER_FRAMES: Final = 3
CONNECT_TIMEOUT_S: Final = 15.0
_encode = msgspec.json.Encoder().encode

# A token for one call and the socket to use it on: (socket_url, token).
Mint = Callable[[], Awaitable[tuple[str, str]]]


class _Page:
    """One call's socket, the page's play-out buffer and its resamplers."""

    def __init__(self, call: SimulatedCall, ws: ClientConnection) -> None:
        self.call = call
        self.ws = ws
        self.playout: deque[bytes | str] = deque()  # 20 ms of slin 8 kHz, or a mark name
        self.frames_queued = 0
        self.playing = False
        self.closed = False
        self.up = soxr.ResampleStream(8000, 16000, 1, dtype="int16")
        self.down = soxr.ResampleStream(16000, 8000, 1, dtype="int16")
        self.pending_in = bytearray()
        self.outbox: asyncio.Queue[bytes | str | None] = asyncio.Queue()
        self.writer: asyncio.Task[None] | None = None


class WebCallSimulator:
    """Places browser calls into a Vocals server: `mint` gets each call's token, `origin` is
    the page's origin the tokens allow."""

    def __init__(self, mint: Mint, origin: str) -> None:
        self._mint = mint
        self._origin = origin
        self.pump_reanchors = 0
        self._pages: dict[str, _Page] = {}
        self._pump: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._pump = asyncio.create_task(self._media_pump())

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
        for page in list(self._pages.values()):
            await self._close(page, "simulator")
        for task in list(self._tasks):
            task.cancel()

    def live_calls(self) -> int:
        return len(self._pages)

    def place_call(
        self,
        did: str,
        audio_source: AudioSource | None = None,
        on_frame_received: OnFrameReceived | None = None,
        *,
        send_silence: bool = True,
    ) -> SimulatedCall:
        """Like `AsteriskSimulator.place_call`, from a browser (`did` only names the call)."""
        source = audio_source if audio_source is not None else QueueSource()
        call = SimulatedCall(
            f"web-{uuid.uuid4().hex}",
            did,
            source,
            on_frame_received,
            self._hangup,
            send_silence=send_silence,
        )
        call.encapsulation = "web"
        task = asyncio.create_task(self._connect(call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return call

    async def _connect(self, call: SimulatedCall) -> None:
        try:
            socket_url, token = await self._mint()
            ws = await websockets.connect(
                socket_url,
                origin=Origin(self._origin),
                max_size=2**20,
                compression=None,
                open_timeout=CONNECT_TIMEOUT_S,
            )
        except (OSError, websockets.WebSocketException, TimeoutError):
            call.ended_by = "server"
            call.ended.set()
            return
        page = _Page(call, ws)
        try:
            await ws.send(_encode({"type": "start", "token": token}).decode())
        except websockets.WebSocketException:
            await self._close(page, "server")
            return
        self._pages[call.channel_id] = page
        page.writer = asyncio.create_task(self._write(page))
        await self._receive(page)

    async def _receive(self, page: _Page) -> None:
        try:
            async for data in page.ws:
                if isinstance(data, bytes):
                    self._queue_audio(page, data)
                    continue
                message = msgspec.json.decode(data)
                kind = message.get("type")
                if kind == "started":
                    page.call.answered.set()
                    page.call.media_up.set()
                elif kind == "clear":
                    marks = [m for m in page.playout if isinstance(m, str)]
                    page.playout.clear()
                    page.frames_queued = 0
                    page.playing = False
                    for name in marks:
                        self._send(page, _encode({"type": "mark", "name": name}).decode())
                elif kind == "mark":
                    page.playout.append(str(message["name"]))
        except (websockets.WebSocketException, msgspec.DecodeError, ValueError):
            pass
        await self._close(page, "server")

    def _queue_audio(self, page: _Page, pcm16k: bytes) -> None:
        samples = page.down.resample_chunk(np.frombuffer(pcm16k, "<i2"))
        page.pending_in += samples.astype("<i2").tobytes()
        while len(page.pending_in) >= FRAME_BYTES:
            page.playout.append(bytes(page.pending_in[:FRAME_BYTES]))
            del page.pending_in[:FRAME_BYTES]
            page.frames_queued += 1

    async def _hangup(self, call: SimulatedCall) -> None:
        page = self._pages.get(call.channel_id)
        if page is None:
            return
        call.ended_by = "caller"
        self._send(page, _encode({"type": "hangup"}).decode())
        await self._close(page, "caller")

    async def _close(self, page: _Page, by: str) -> None:
        if page.closed:
            return
        page.closed = True
        self._pages.pop(page.call.channel_id, None)
        page.outbox.put_nowait(None)
        if page.writer is not None and page.writer is not asyncio.current_task():
            await asyncio.wait([page.writer], timeout=1.0)
        await page.ws.close()
        if not page.call.ended.is_set():
            page.call.ended_by = page.call.ended_by or by
            page.call.ended.set()

    async def _media_pump(self) -> None:
        """Every 20 ms per call: one microphone chunk out, one frame of the page's buffer
        played."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += FRAME_S
            delay = next_at - loop.time()
            if delay < -PUMP_MAX_LAG_FRAMES * FRAME_S:
                self.pump_reanchors += 1
                next_at = loop.time()
            elif delay > 0:
                await asyncio.sleep(delay)
            now = loop.time()
            for page in list(self._pages.values()):
                call = page.call
                if not call.media_up.is_set():
                    continue
                self._play(page, now)
                frame = call.source.next_frame()
                if frame is None:
                    if not call.send_silence:
                        continue
                    frame = SILENCE_FRAME
                call.frames_sent += 1
                wire = page.up.resample_chunk(np.frombuffer(frame, "<i2"))
                self._send(page, wire.astype("<i2").tobytes())

    def _play(self, page: _Page, now: float) -> None:
        playout = page.playout
        if not page.playing:
            ends_utterance = any(isinstance(m, str) for m in playout)
            if page.frames_queued < PREBUFFER_FRAMES and not ends_utterance:
                return
            page.playing = True
        while playout and isinstance(playout[0], str):
            self._echo(page, playout.popleft())
        if playout:
            frame = playout.popleft()
            assert isinstance(frame, bytes)
            page.frames_queued -= 1
            page.call.frame_received(frame, now)
        while playout and isinstance(playout[0], str):
            self._echo(page, playout.popleft())
        if not playout:
            page.playing = False

    def _echo(self, page: _Page, name: object) -> None:
        self._send(page, _encode({"type": "mark", "name": name}).decode())

    def _send(self, page: _Page, data: bytes | str) -> None:
        if not page.closed:
            page.outbox.put_nowait(data)

    async def _write(self, page: _Page) -> None:
        try:
            while (data := await page.outbox.get()) is not None:
                await page.ws.send(data)
        except websockets.WebSocketException:
            await self._close(page, "server")
