"""A fake Deepgram live transcription server on 127.0.0.1: WebSocket `/v1/listen` and
`GET /v1/projects`.

Speaks the documented protocol: `Authorization: Token <key>` checked at the handshake (401
JSON `{"err_code": "INVALID_AUTH", ...}` otherwise, 429 when scripted); audio arrives as
binary frames in the `encoding`/`sample_rate` of the query string; the server answers
`Results` messages (`channel.alternatives[0].transcript`, `is_final`, `speech_final`,
`from_finalize`, `start`, `duration`), takes `KeepAlive`, `Finalize` and `CloseStream` text
messages, and on `CloseStream` sends `Metadata` and closes with 1000. The "recognizer" is a
script: a word of `transcript` per `seconds_per_word` of audio heard, whatever the audio (so a
line full of noise still gives the script's words and then a gap). With `vad_events=true` a
`SpeechStarted` (`channel: [0, 1]`, `timestamp`) precedes an utterance's first words; with
`utterance_end_ms`, once that much audio passed after the last word, the words are settled
(`is_final`) and `UtteranceEnd` (`channel: [0, 1]`, `last_word_end`, stream seconds) follows.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.cloud_common import Failure, LocalServer, Received, failure_response

FAKE_DEEPGRAM_KEY = "dg-fake-key"


@dataclass
class FakeDeepgram:
    """Server state: set `transcript`, queue handshake `failures`, or `drop_after_bytes`."""

    api_key: str = FAKE_DEEPGRAM_KEY
    transcript: str = "I need to reschedule my appointment"
    seconds_per_word: float = 0.2
    # Only the first utterance has words; the audio after it is noise the recognizer ignores.
    script_once: bool = False
    failures: list[Failure] = field(default_factory=list)
    # Cut the TCP connection (no close frame) once this much audio arrived.
    drop_after_bytes: int | None = None
    # Close with this (code, reason) once `drop_after_bytes` arrived, as Deepgram does on
    # errors (1008 DATA-0000 unreadable audio, 1011 NET-0001 no audio for 10 s).
    close_with: tuple[int, str] | None = None
    sessions: list[Received] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)
    control: list[str] = field(default_factory=list)
    base_url: str = ""
    _server: LocalServer | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/v1/listen", self._listen)
        app.router.add_get("/v1/projects", self._projects)
        self._server = LocalServer(app)
        port = await self._server.start()
        self.base_url = f"ws://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") == f"Token {self.api_key}":
            return None
        body = {
            "err_code": "INVALID_AUTH",
            "err_msg": "Invalid credentials.",
            "request_id": str(uuid.uuid4()),
        }
        return failure_response(Failure(401), body)

    async def _projects(self, request: web.Request) -> web.Response:
        self.sessions.append(Received(request.path, dict(request.headers)))
        refused = self._refused(request)
        if refused is not None:
            return refused
        return web.json_response({"projects": [{"project_id": "p1", "name": "Fake"}]})

    async def _listen(self, request: web.Request) -> web.StreamResponse:
        self.sessions.append(Received(request.path, dict(request.headers), dict(request.query)))
        refused = self._refused(request)
        if refused is not None:
            return refused
        if self.failures:
            body = {
                "err_code": "TOO_MANY_REQUESTS",
                "err_msg": "Too many requests.",
                "request_id": str(uuid.uuid4()),
            }
            return failure_response(self.failures.pop(0), body)
        encoding = request.query.get("encoding", "linear16")
        rate = int(request.query.get("sample_rate", "16000"))
        bytes_per_second = rate * (1 if encoding in ("mulaw", "alaw") else 2)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        utterance_end_ms = request.query.get("utterance_end_ms")
        session = _Session(
            self,
            ws,
            bytes_per_second,
            vad_events=request.query.get("vad_events") == "true",
            utterance_end_s=int(utterance_end_ms) / 1000 if utterance_end_ms else None,
        )
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                self.audio += message.data
                if self.drop_after_bytes is not None and len(self.audio) >= self.drop_after_bytes:
                    if self.close_with is not None:
                        code, reason = self.close_with
                        await ws.close(code=code, message=reason.encode())
                        break
                    assert request.transport is not None
                    request.transport.close()
                    break
                await session.heard(len(message.data))
            elif message.type == WSMsgType.TEXT:
                kind = json.loads(message.data).get("type")
                self.control.append(kind)
                if kind == "Finalize":
                    await session.finalize()
                elif kind == "CloseStream":
                    await session.metadata()
                    await ws.close()
        return ws


class _Session:
    """One stream: audio heard so far and the words already settled."""

    def __init__(
        self,
        fake: FakeDeepgram,
        ws: web.WebSocketResponse,
        bytes_per_second: int,
        *,
        vad_events: bool,
        utterance_end_s: float | None,
    ) -> None:
        self.fake = fake
        self.ws = ws
        self.bytes_per_second = bytes_per_second
        self.vad_events = vad_events
        self.utterance_end_s = utterance_end_s
        self.words = fake.transcript.split()
        self.stream_bytes = 0  # the whole stream, for Deepgram's stream-relative timestamps
        self.utterance_start_bytes = 0
        self.heard_bytes = 0
        self.settled_words = 0
        self.settled_bytes = 0
        self.reported_words = 0
        self.utterance_ended = False

    def _stream_seconds(self, size: int) -> float:
        return size / self.bytes_per_second

    def _words_heard(self) -> int:
        seconds = self.heard_bytes / self.bytes_per_second
        return min(len(self.words), int(seconds / self.fake.seconds_per_word))

    async def heard(self, size: int) -> None:
        self.heard_bytes += size
        self.stream_bytes += size
        count = self._words_heard()
        if count > self.reported_words and count > self.settled_words:
            if self.vad_events and not self.reported_words:
                start = self._stream_seconds(self.utterance_start_bytes)
                await self.ws.send_json(
                    {"type": "SpeechStarted", "channel": [0, 1], "timestamp": start}
                )
            self.reported_words = count
            await self._results(self.words[self.settled_words : count], is_final=False)
        await self._maybe_utterance_end(count)

    async def _maybe_utterance_end(self, count: int) -> None:
        if self.utterance_end_s is None or self.utterance_ended:
            return
        if not self.words or count < len(self.words):
            return  # UtteranceEnd follows words only
        last_word_end = len(self.words) * self.fake.seconds_per_word
        if self.heard_bytes / self.bytes_per_second < last_word_end + self.utterance_end_s:
            return
        self.utterance_ended = True
        if count > self.settled_words:
            await self._results(self.words[self.settled_words : count], is_final=True)
            self.settled_words = count
        await self.ws.send_json(
            {
                "type": "UtteranceEnd",
                "channel": [0, 1],
                "last_word_end": self._stream_seconds(self.utterance_start_bytes) + last_word_end,
            }
        )

    async def finalize(self) -> None:
        count = self._words_heard()
        await self._results(self.words[self.settled_words : count], is_final=True, finalize=True)
        # The next utterance is the same script again (or nothing).
        if self.fake.script_once:
            self.words = []
        self.heard_bytes = self.settled_bytes = 0
        self.settled_words = self.reported_words = 0
        self.utterance_start_bytes = self.stream_bytes
        self.utterance_ended = False

    async def metadata(self) -> None:
        await self.ws.send_json(
            {
                "type": "Metadata",
                "transaction_key": "deprecated",
                "request_id": str(uuid.uuid4()),
                "sha256": "0" * 64,
                "created": "2026-11-23T20:00:00.000Z",
                "duration": self.heard_bytes / self.bytes_per_second,
                "channels": 1,
            }
        )

    async def _results(self, words: list[str], *, is_final: bool, finalize: bool = False) -> None:
        seconds = self.heard_bytes / self.bytes_per_second
        message: dict[str, Any] = {
            "type": "Results",
            "channel_index": [0, 1],
            "duration": seconds,
            "start": 0.0,
            "is_final": is_final,
            "speech_final": False,
            "channel": {
                "alternatives": [
                    {
                        "transcript": " ".join(words),
                        "confidence": 0.98 if words else 0.0,
                        "words": [
                            {"word": w, "start": 0.0, "end": 0.0, "confidence": 0.98} for w in words
                        ],
                    }
                ]
            },
            "metadata": {"request_id": "fake", "model_info": {"name": "general-nova-3"}},
            "from_finalize": finalize,
        }
        await self.ws.send_json(message)
