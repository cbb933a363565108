"""Deepgram live streaming speech-to-text over `wss://api.deepgram.com/v1/listen`.

Telephone audio goes as is: raw µ-law at 8 kHz (`encoding=mulaw&sample_rate=8000`), binary
frames, `Authorization: Token <key>`. Deepgram answers `Results` messages (interim while the
caller speaks, `is_final` segments as its endpointing settles them, `from_finalize` after our
`Finalize`) and `Metadata`. Our own VAD decides when the caller stopped; on a line too noisy
for it to hear silence, Deepgram's `UtteranceEnd` (`utterance_end_ms`: a gap that long after
the last word, judged from word timings, so noise does not hide it) becomes an
`UtteranceEnd` event that ends the turn. Deepgram's own example asks for it together with
`vad_events` and `interim_results`, which we send; its `SpeechStarted` is ignored (our VAD
hears the onset sooner than a round trip would). Vocabulary hints are Keyterm Prompting (`keyterm`)
on Nova-3 and Keywords (`keywords`) on the older models, which ignore keyterms (Deepgram's
keyterm docs, checked 2026-12-05). We send `Finalize` when our VAD
hears the end of speech, `KeepAlive` when no audio flowed for a few seconds (Deepgram closes
an idle stream after 10 s), and `CloseStream` at hang-up. Errors close the socket with a
code and reason (e.g. 1008 DATA-0000, 1011 NET-0001) and surface as `ProviderError`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlencode

import httpx
import msgspec

from media.g711 import ulaw_encode
from providers.base import ProviderConfig, ProviderError, ProviderKind, Transcript, UtteranceEnd
from providers.cloud.http import send_with_retries
from providers.cloud.options import CloudOptions
from providers.registry import VendorInfo, parse_options, register
from providers.stt.streaming import StreamingSTT, http_base

DEEPGRAM_BASE_URL = "wss://api.deepgram.com"
_FINALIZE = msgspec.json.encode({"type": "Finalize"}).decode()
_KEEPALIVE = msgspec.json.encode({"type": "KeepAlive"}).decode()
_CLOSE_STREAM = msgspec.json.encode({"type": "CloseStream"}).decode()


class DeepgramSTTOptions(CloudOptions, kw_only=True):
    """Deepgram live transcription settings."""

    # Silence (ms) after which Deepgram settles a segment as final; our VAD's Finalize
    # usually comes first. None: Deepgram's default (10 ms).
    endpointing_ms: Annotated[int, msgspec.Meta(ge=10, le=5000)] | None = 300
    # Word gap (ms) after which Deepgram sends UtteranceEnd; None: not requested. Deepgram
    # sends interim results about once a second, so a shorter gap cannot be measured.
    utterance_end_ms: Annotated[int, msgspec.Meta(ge=1000, le=5000)] | None = 1000
    smart_format: bool = True
    # Names and words the caller is likely to say: keyterm prompting on Nova-3, keyword
    # boosting (one word each) on the older models.
    keyterms: list[str] = msgspec.field(default_factory=list)


class _Alternative(msgspec.Struct):
    transcript: str = ""
    confidence: float | None = None


class _Channel(msgspec.Struct):
    alternatives: list[_Alternative] = msgspec.field(default_factory=list)


class _Message(msgspec.Struct):
    type: str = ""
    # An object on `Results`; `[index, count]` on `UtteranceEnd` and `SpeechStarted`.
    channel: _Channel | list[int] | None = None
    last_word_end: float | None = None
    is_final: bool = False
    speech_final: bool = False
    from_finalize: bool = False
    description: str = ""
    message: str = ""


_decoder = msgspec.json.Decoder(_Message)


@register(
    VendorInfo(
        kind=ProviderKind.STT,
        vendor="deepgram",
        display_name="Deepgram",
        description="Deepgram live streaming over WebSocket, µ-law 8 kHz as the phone sends it.",
        models=["nova-3", "nova-3-medical", "nova-2-phonecall", "nova-2"],
        default_model="nova-3",
        needs_api_key=True,
        checked=date(2026, 12, 5),
        sample_rate=8000,
    ),
    options=DeepgramSTTOptions,
)
class DeepgramSTT(StreamingSTT):
    """Streaming transcription with Deepgram."""

    vendor = "deepgram"
    keepalive_interval = 4.0  # Deepgram asks for one every 3-5 s of silence

    def __init__(self, config: ProviderConfig) -> None:
        self.options = parse_options(config, DeepgramSTTOptions)
        super().__init__(config, self.options)
        self._base_url = self.options.url(DEEPGRAM_BASE_URL)
        # Final segments of the utterance in progress, so partials show all of it.
        self._settled: list[str] = []

    def ws_url(self) -> str:
        model = self.config.model or "nova-3"
        params: list[tuple[str, str]] = [
            ("model", model),
            ("language", self.config.language),
            ("encoding", "mulaw"),
            ("sample_rate", "8000"),
            ("channels", "1"),
            ("interim_results", "true"),
            ("punctuate", "true"),
            ("smart_format", str(self.options.smart_format).lower()),
        ]
        if self.options.endpointing_ms is not None:
            params.append(("endpointing", str(self.options.endpointing_ms)))
        if self.options.utterance_end_ms is not None:
            params.append(("utterance_end_ms", str(self.options.utterance_end_ms)))
            params.append(("vad_events", "true"))
        if model.startswith("nova-3"):
            params.extend(("keyterm", term) for term in self.options.keyterms)
        else:
            words = dict.fromkeys(w for term in self.options.keyterms for w in term.split())
            params.extend(("keywords", word) for word in words)
        return f"{self._base_url}/v1/listen?{urlencode(params)}"

    def ws_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.config.api_key or ''}"}

    def audio_message(self, pcm: bytes) -> bytes:
        return ulaw_encode(pcm)

    async def finalize(self) -> None:
        await self.send_message(_FINALIZE)

    def keepalive_message(self) -> str:
        return _KEEPALIVE

    def close_message(self) -> str:
        return _CLOSE_STREAM

    async def on_message(self, message: str | bytes) -> None:
        try:
            event = _decoder.decode(message)
        except msgspec.DecodeError as exc:
            raise ProviderError(f"deepgram: malformed message: {exc}", retryable=True) from exc
        if event.type == "Error":
            raise ProviderError(
                f"deepgram: {event.description or event.message or 'error'}", retryable=True
            )
        if event.type == "UtteranceEnd" and event.last_word_end is not None:
            silent_s = max(0.0, self.usage.audio_seconds - event.last_word_end)
            self._settled.clear()
            self.emit(UtteranceEnd(silent_ms=round(silent_s * 1000)))
            return
        if event.type != "Results" or not isinstance(event.channel, _Channel):
            return
        best = event.channel.alternatives[0] if event.channel.alternatives else _Alternative()
        text = best.transcript.strip()
        if event.is_final:
            if text or event.from_finalize:
                self.emit(Transcript(text, is_final=True, confidence=best.confidence))
            if text:
                self._settled.append(text)
            if event.speech_final or event.from_finalize:
                self._settled.clear()
        elif text:
            self.emit(Transcript(" ".join([*self._settled, text]), is_final=False))

    async def check_credentials(self) -> None:
        """`GET /v1/projects`: the cheapest authenticated Deepgram call."""
        url = f"{http_base(self._base_url)}/v1/projects"
        async with httpx.AsyncClient(timeout=self.options.http_timeout()) as client:
            await send_with_retries(
                self.vendor,
                client,
                lambda: client.build_request("GET", url, headers=self.ws_headers()),
                self._policy,
                what="projects",
            )
