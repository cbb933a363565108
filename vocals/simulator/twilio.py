"""Twilio's side of inbound Media Streams calls (PROTOCOLS.md §7), for simulated callers.

Per call, as Twilio does: `POST <public url>/twilio/voice` with the call's form, signed with
the tenant's auth token (`X-Twilio-Signature`); the TwiML answer's `<Connect><Stream>` names
the WebSocket and a `<Parameter>` to pass back; over the WebSocket `connected`, `start` (the
parameters under `customParameters`), then a `media` message (µ-law 8 kHz, 20 ms) every
20 ms while the call lasts, and `stop` when the caller hangs up.

Twilio buffers what the server sends and plays it at real time: the simulated phone hears a
20 ms frame per tick from that buffer (`on_frame_received` gets the play-out time, so a late
server shows up as a gap only when the buffer ran dry); `clear` empties the buffer; a `mark`
is echoed back once everything before it has played.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from typing import Any, Final

import httpx
import msgspec
import websockets
from websockets.asyncio.client import ClientConnection

from media.g711 import ulaw_decode, ulaw_encode
from twilio_adapter.signature import compute_signature
from vocals.simulator.caller import (
    FRAME_BYTES,
    SILENCE_FRAME,
    AudioSource,
    OnFrameReceived,
    QueueSource,
    SimulatedCall,
)

FRAME_S: Final = 0.020
VOICE_PATH: Final = "/twilio/voice"
PUMP_MAX_LAG_FRAMES: Final = 3
_encode = msgspec.json.Encoder().encode


class TwilioRefused(Exception):
    """The voice webhook did not answer with a stream (rejected, 403, not TwiML)."""


class _Outbound(msgspec.Struct):
    event: str
    media: dict[str, str] | None = None
    mark: dict[str, str] | None = None


_decode_outbound = msgspec.json.Decoder(_Outbound)


def _sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


class _Stream:
    """One call's WebSocket, Twilio's play-out buffer and media clock."""

    def __init__(self, call: SimulatedCall, ws: ClientConnection, stream_sid: str) -> None:
        self.call = call
        self.ws = ws
        self.stream_sid = stream_sid
        self.playout: deque[bytes | str] = deque()  # 20 ms of slin 8 kHz, or a mark name
        self.sequence = 3  # connected=1, start=2
        self.chunk = 0
        self.closed = False
        # Messages leave in order through one writer per stream (a task per message would
        # cost more than the message at hundreds of calls).
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.writer: asyncio.Task[None] | None = None

    def media_message(self, pcm: bytes) -> str:
        self.sequence += 1
        self.chunk += 1
        payload = base64.b64encode(ulaw_encode(pcm)).decode()
        return (
            '{"event":"media","sequenceNumber":"' + str(self.sequence) + '","media":{"track":'
            '"inbound","chunk":"' + str(self.chunk) + '","timestamp":"' + str(self.chunk * 20)
            + '","payload":"' + payload + '"},"streamSid":"' + self.stream_sid + '"}'
        )  # fmt: skip


class TwilioSimulator:
    """Places calls into a Vocals server's Twilio endpoints as Twilio would.

    `public_url` is the server's VOCALS_PUBLIC_URL (webhooks and signatures use it);
    `account_sid`/`auth_token` are the tenant's Twilio account as stored in Vocals.
    """

    def __init__(self, public_url: str, account_sid: str, auth_token: str) -> None:
        self.public_url = public_url.rstrip("/")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.pump_reanchors = 0
        self._streams: dict[str, _Stream] = {}
        self._http: httpx.AsyncClient | None = None
        self._pump: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self._http = httpx.AsyncClient(timeout=10)
        self._pump = asyncio.create_task(self._media_pump())

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
        for stream in list(self._streams.values()):
            await self._close(stream, "simulator")
        for task in list(self._tasks):
            task.cancel()
        if self._http is not None:
            await self._http.aclose()

    def live_calls(self) -> int:
        """Streams still open."""
        return len(self._streams)

    async def __aenter__(self) -> TwilioSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def place_call(
        self,
        did: str,
        audio_source: AudioSource | None = None,
        on_frame_received: OnFrameReceived | None = None,
        *,
        caller_number: str = "+15550100000",
        send_silence: bool = True,
    ) -> SimulatedCall:
        """Like `AsteriskSimulator.place_call`, over Twilio: the call is set up in the
        background (`media_up` once the stream started; `ended` if the webhook refuses)."""
        call_sid = _sid("CA")
        source = audio_source if audio_source is not None else QueueSource()
        call = SimulatedCall(
            call_sid, did, source, on_frame_received, self._hangup, send_silence=send_silence
        )
        call.encapsulation = "twilio"
        task = asyncio.create_task(self._connect(call, caller_number))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return call

    async def voice_webhook(self, form: dict[str, str]) -> tuple[str, dict[str, str]]:
        """POST the signed voice webhook; the stream URL and its parameters from the TwiML."""
        assert self._http is not None, "start() first"
        url = self.public_url + VOICE_PATH
        signature = compute_signature(self.auth_token, url, form.items())
        response = await self._http.post(url, data=form, headers={"X-Twilio-Signature": signature})
        if response.status_code != 200:
            raise TwilioRefused(f"voice webhook answered {response.status_code}")
        try:
            root = ET.fromstring(response.text)
        except ET.ParseError as exc:
            raise TwilioRefused(f"voice webhook answered no TwiML: {exc}") from exc
        stream = root.find("./Connect/Stream")
        if stream is None or not stream.get("url"):
            raise TwilioRefused(f"no <Connect><Stream> in {response.text[:200]!r}")
        parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        return stream.get("url", ""), parameters

    async def _connect(self, call: SimulatedCall, caller_number: str) -> None:
        form = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call.channel_id,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "From": caller_number,
            "To": call.did,
        }
        try:
            stream_url, parameters = await self.voice_webhook(form)
            ws = await websockets.connect(stream_url, max_size=2**20, compression=None)
        except (TwilioRefused, httpx.HTTPError, OSError, websockets.WebSocketException):
            call.ended_by = "server"
            call.ended.set()
            return
        stream_sid = _sid("MZ")
        stream = _Stream(call, ws, stream_sid)
        start = {
            "event": "start",
            "sequenceNumber": "2",
            "start": {
                "accountSid": self.account_sid,
                "streamSid": stream_sid,
                "callSid": call.channel_id,
                "tracks": ["inbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": parameters,
            },
            "streamSid": stream_sid,
        }
        connected = {"event": "connected", "protocol": "Call", "version": "1.0.0"}
        try:
            await ws.send(_encode(connected).decode())
            await ws.send(_encode(start).decode())
        except websockets.WebSocketException:
            await self._close(stream, "server")
            return
        self._streams[call.channel_id] = stream
        stream.writer = asyncio.create_task(self._write(stream))
        call.answered.set()
        call.media_up.set()
        await self._receive(stream)

    async def _receive(self, stream: _Stream) -> None:
        try:
            async for text in stream.ws:
                message = _decode_outbound.decode(text)
                if message.event == "media" and message.media is not None:
                    pcm = ulaw_decode(base64.b64decode(message.media["payload"]))
                    for i in range(0, len(pcm), FRAME_BYTES):
                        stream.playout.append(pcm[i : i + FRAME_BYTES])
                elif message.event == "clear":
                    stream.playout = deque(m for m in stream.playout if isinstance(m, str))
                elif message.event == "mark" and message.mark is not None:
                    stream.playout.append(message.mark["name"])
        except (websockets.WebSocketException, msgspec.DecodeError, ValueError):
            pass
        await self._close(stream, "server")

    async def _hangup(self, call: SimulatedCall) -> None:
        stream = self._streams.get(call.channel_id)
        if stream is None:
            return
        call.ended_by = "caller"
        stop = {
            "event": "stop",
            "sequenceNumber": str(stream.sequence + 1),
            "streamSid": stream.stream_sid,
            "stop": {"callSid": call.channel_id, "accountSid": self.account_sid},
        }
        self._send(stream, _encode(stop).decode())
        await self._close(stream, "caller")

    async def _close(self, stream: _Stream, by: str) -> None:
        if stream.closed:
            return
        stream.closed = True
        self._streams.pop(stream.call.channel_id, None)
        stream.outbox.put_nowait(None)
        if stream.writer is not None and stream.writer is not asyncio.current_task():
            await asyncio.wait([stream.writer], timeout=1.0)
        await stream.ws.close()
        if not stream.call.ended.is_set():
            stream.call.ended_by = stream.call.ended_by or by
            stream.call.ended.set()

    async def _media_pump(self) -> None:
        """Every 20 ms per call: one caller frame out, one frame of Twilio's buffer played."""
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
            for stream in list(self._streams.values()):
                self._play(stream, now)
                call = stream.call
                frame = call.source.next_frame()
                if frame is None:
                    if not call.send_silence:
                        continue
                    frame = SILENCE_FRAME
                call.frames_sent += 1
                self._send(stream, stream.media_message(frame))

    def _play(self, stream: _Stream, now: float) -> None:
        playout = stream.playout
        while playout and isinstance(playout[0], str):
            self._send(stream, self._mark_message(stream, playout.popleft()))
        if playout:
            frame = playout.popleft()
            assert isinstance(frame, bytes)
            stream.call.frame_received(frame, now)
        while playout and isinstance(playout[0], str):
            self._send(stream, self._mark_message(stream, playout.popleft()))

    def _mark_message(self, stream: _Stream, name: object) -> str:
        stream.sequence += 1
        message = {
            "event": "mark",
            "sequenceNumber": str(stream.sequence),
            "streamSid": stream.stream_sid,
            "mark": {"name": name},
        }
        return _encode(message).decode()

    def _send(self, stream: _Stream, text: str) -> None:
        if not stream.closed:
            stream.outbox.put_nowait(text)

    async def _write(self, stream: _Stream) -> None:
        try:
            while (text := await stream.outbox.get()) is not None:
                await stream.ws.send(text)
        except websockets.WebSocketException:
            await self._close(stream, "server")
