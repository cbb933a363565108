"""The Twilio side of a bidirectional Media Stream (PROTOCOLS.md §7.2-7.3), in real time.

`MediaStreamCaller` connects to the `<Stream url>` like Twilio: `connected`, then `start`
(streamSid, callSid, customParameters, mediaFormat µ-law 8 kHz), then one `media` message per
20 ms of caller audio (sequenceNumber, chunk, timestamp; silence when the caller says nothing),
`dtmf` on key presses and `stop` at the end. What the server sends is played like Twilio plays
it: queued, one 20 ms frame per 20 ms; a `mark` is echoed once the audio queued before it has
played; `clear` drops unplayed audio and echoes the marks still pending.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from media.g711 import ulaw_encode

FRAME_BYTES = 160  # 20 ms of µ-law at 8 kHz
FRAME_S = 0.02
ULAW_SILENCE = b"\xff" * FRAME_BYTES


@dataclass
class StreamLog:
    """What the server did on this stream, for assertions and the benchmark."""

    media_times: list[float] = field(default_factory=list)  # arrival of each outbound message
    media_bytes: int = 0
    played_frames: int = 0
    played: bytearray = field(default_factory=bytearray)  # the µ-law the caller heard
    marks_sent_back: list[str] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)
    dropped_on_clear_ms: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    close_code: int | None = None


class MediaStreamCaller:
    """One stream; `say`/`press`/`hang_up` drive the caller, `log` tells what was heard."""

    def __init__(
        self,
        url: str,
        *,
        call_sid: str,
        account_sid: str,
        stream_sid: str,
        parameters: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
        keep_media_times: bool = True,
    ) -> None:
        self.url = url
        self.call_sid = call_sid
        self.account_sid = account_sid
        self.stream_sid = stream_sid
        self.parameters = dict(parameters)
        self.headers = dict(headers or {})
        self.keep_media_times = keep_media_times
        self.log = StreamLog()
        self.started_at = 0.0
        self.closed = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._seq = 0
        self._chunk = 0
        self._say: deque[bytes] = deque()  # µ-law frames the caller still has to say
        self._playback: deque[bytes | str] = deque()  # frames and mark names, in order
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = False

    # -- driving the caller ----------------------------------------------------------------

    def say(self, pcm: bytes) -> None:
        """Queue 8 kHz slin the caller speaks (sent as µ-law in real time)."""
        ulaw = ulaw_encode(pcm)
        for i in range(0, len(ulaw), FRAME_BYTES):
            self._say.append(ulaw[i : i + FRAME_BYTES].ljust(FRAME_BYTES, b"\xff"))

    async def press(self, digit: str) -> None:
        await self._send({"event": "dtmf", "streamSid": self.stream_sid,
                          "sequenceNumber": self._next_seq(),
                          "dtmf": {"track": "inbound_track", "digit": digit}})  # fmt: skip

    async def send_raw(self, text: str | bytes) -> None:
        """Put anything on the socket (bad-input tests)."""
        assert self._ws is not None
        await self._ws.send(text)

    async def hang_up(self) -> None:
        """The caller hung up: Twilio sends `stop` and closes the socket."""
        await self.stop()

    @property
    def speaking(self) -> bool:
        return bool(self._say)

    @property
    def heard_ms(self) -> int:
        return self.log.played_frames * 20

    @property
    def queued_ms(self) -> int:
        return sum(20 for item in self._playback if isinstance(item, bytes))

    # -- lifecycle ---------------------------------------------------------------------------

    async def connect(self, *, send_start: bool = True, open_timeout: float = 10.0) -> None:
        self._ws = await websockets.connect(
            self.url, additional_headers=self.headers, open_timeout=open_timeout,
            max_size=2**20, compression=None,
        )  # fmt: skip
        self.started_at = time.monotonic()
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        if send_start:
            await self.send_start()
        self._tasks = [
            asyncio.create_task(self._receive_loop()),
            asyncio.create_task(self._clock_loop()),
        ]

    async def send_start(self) -> None:
        await self._send({
            "event": "start", "sequenceNumber": self._next_seq(), "streamSid": self.stream_sid,
            "start": {
                "streamSid": self.stream_sid, "accountSid": self.account_sid,
                "callSid": self.call_sid, "tracks": ["inbound"],
                "customParameters": self.parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        })  # fmt: skip

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._ws is not None and not self.closed.is_set():
            try:
                await self._send({"event": "stop", "sequenceNumber": self._next_seq(),
                                  "streamSid": self.stream_sid,
                                  "stop": {"accountSid": self.account_sid,
                                           "callSid": self.call_sid}})  # fmt: skip
                await self._ws.close()
            except websockets.ConnectionClosed:
                pass
        await self.wait_closed()

    async def wait_closed(self, timeout_s: float = 10.0) -> None:
        await asyncio.wait_for(self.closed.wait(), timeout_s)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- internals ---------------------------------------------------------------------------

    def _next_seq(self) -> str:
        self._seq += 1
        return str(self._seq)

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._ws is not None
        await self._ws.send(json.dumps(message, separators=(",", ":")))

    async def _clock_loop(self) -> None:
        """Every 20 ms: send one caller frame, play one server frame, echo reached marks."""
        deadline = time.monotonic()
        try:
            while not self._stopped:
                deadline += FRAME_S
                delay = deadline - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -0.2:
                    deadline = time.monotonic()  # stalled: re-anchor, do not burst
                await self._send_caller_frame()
                await self._play_one()
        except websockets.ConnectionClosed:
            pass

    async def _send_caller_frame(self) -> None:
        frame = self._say.popleft() if self._say else ULAW_SILENCE
        self._chunk += 1
        await self._send({
            "event": "media", "sequenceNumber": self._next_seq(), "streamSid": self.stream_sid,
            "media": {"track": "inbound", "chunk": str(self._chunk),
                      "timestamp": str((self._chunk - 1) * 20),
                      "payload": base64.b64encode(frame).decode()},
        })  # fmt: skip

    async def _play_one(self) -> None:
        playback = self._playback
        await self._echo_marks()
        if playback and isinstance(frame := playback[0], bytes):
            playback.popleft()
            self.log.played += frame
            self.log.played_frames += 1
        await self._echo_marks()

    async def _echo_marks(self) -> None:
        playback = self._playback
        while playback and isinstance(playback[0], str):
            await self._send_mark(str(playback.popleft()))

    async def _send_mark(self, name: str) -> None:
        self.log.marks_sent_back.append(name)
        await self._send({"event": "mark", "sequenceNumber": self._next_seq(),
                          "streamSid": self.stream_sid, "mark": {"name": name}})  # fmt: skip

    async def _receive_loop(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                self._handle(raw)
                if self._playback and isinstance(self._playback[0], str):
                    await self._echo_marks()  # a mark with nothing queued before it
        except websockets.ConnectionClosed:
            pass
        finally:
            self.log.close_code = self._ws.close_code
            self._stopped = True
            self.closed.set()

    def _handle(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            self.log.errors.append("binary frame from server")
            return
        try:
            message = json.loads(raw)
            event = message["event"]
            if message.get("streamSid") != self.stream_sid:
                self.log.errors.append(f"{event} with streamSid {message.get('streamSid')!r}")
                return
            if event == "media":
                frame = base64.b64decode(message["media"]["payload"], validate=True)
                if self.keep_media_times:
                    self.log.media_times.append(time.monotonic())
                self.log.media_bytes += len(frame)
                for i in range(0, len(frame), FRAME_BYTES):
                    self._playback.append(frame[i : i + FRAME_BYTES])
            elif event == "mark":
                self._playback.append(str(message["mark"]["name"]))
            elif event == "clear":
                self.log.clears.append(time.monotonic())
                dropped = [i for i in self._playback if isinstance(i, bytes)]
                marks = [i for i in self._playback if isinstance(i, str)]
                self.log.dropped_on_clear_ms.append(20 * len(dropped))
                self._playback.clear()
                self._playback.extend(marks)  # echoed on the next tick, in order
            else:
                self.log.errors.append(f"unknown event {event!r}")
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            self.log.errors.append(f"bad message {raw[:80]!r}: {exc!r}")
