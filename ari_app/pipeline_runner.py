"""`Conversations` over the pipeline: one `CallPipeline` per answered call.

How an agent's settings and provider instances are built (config cache, key decryption,
registry) is given as `prepare`, so this module stays about running the call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Final

import structlog

from ari_app.call import Call, Direction
from ari_app.tasks import cancel_and_wait
from media.formats import AudioFormat
from media.leg import MarkReached, MediaLeg, MediaLegClosed
from pipeline.agent import AgentSettings
from pipeline.beep import EventFeed, wait_for_beep
from pipeline.call_control import CallControl
from pipeline.dtmf_tools import DtmfPort
from pipeline.engine import CallInfo, CallPipeline, CallProviders
from pipeline.records import (
    CallEvent,
    CallOutcome,
    CallResult,
    ProviderUsageRecord,
    TranscriptEntry,
)
from pipeline.sink import CallSink, MemorySink
from pipeline.speech_cache import SPEECH_CACHE, SpeechCache
from pipeline.states import Timeouts
from pipeline.tool_set import combined
from pipeline.transfer_tool import TransferTool
from pipeline.wire_audio import WireEncoder
from providers.base import TTSProvider

log = structlog.get_logger(__name__)

Prepare = Callable[[Call], Awaitable[tuple[AgentSettings, CallProviders]]]
SinkFactory = Callable[[Call], CallSink]

# A voicemail message is short; a box that has not played it by then is not listening.
VOICEMAIL_PLAY_MAX_S: Final = 120.0
VOICEMAIL_MARK: Final = "voicemail-message-played"


class PipelineConversations:
    """Runs the agent's pipeline on a call's leg; a cancelled call stops the pipeline and
    still waits for its record."""

    def __init__(
        self,
        prepare: Prepare,
        *,
        sink_for: SinkFactory | None = None,
        tts_for_voicemail: Callable[[Call], Awaitable[TTSProvider]] | None = None,
        speech_cache: SpeechCache = SPEECH_CACHE,
        timeouts: Timeouts | None = None,
    ) -> None:
        self._prepare = prepare
        self._sink_for = sink_for or (lambda call: MemorySink())
        self._tts_for_voicemail = tts_for_voicemail
        self._cache = speech_cache
        self._timeouts = timeouts

    async def converse(
        self,
        call: Call,
        leg: MediaLeg,
        control: CallControl | None = None,
        dtmf: DtmfPort | None = None,
    ) -> CallResult:
        agent, providers = await self._prepare(call)
        transfer = None
        if control is not None and agent.transfer.enabled:
            transfer = TransferTool(agent.transfer, control)
            providers = dataclasses.replace(providers, tools=combined(transfer, providers.tools))
        pipeline = CallPipeline(
            call=CallInfo(
                call_id=str(call.id),
                tenant_id=str(call.tenant_id),
                direction="outbound" if call.direction is Direction.OUTBOUND else "inbound",
            ),
            agent=agent,
            providers=providers,
            leg=leg,
            sink=self._sink_for(call),
            speech_cache=self._cache,
            timeouts=self._timeouts,
            dtmf=dtmf,
        )
        if transfer is not None:
            transfer.bind(pipeline)
        task = asyncio.create_task(pipeline.run())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            pipeline.stop()
            await task
            raise

    async def leave_voicemail(self, call: Call, leg: MediaLeg, message: str) -> CallResult:
        """Speak `message` into the mailbox once its greeting is over (the beep, or quiet),
        the message synthesized meanwhile. The result's transcript holds the message when it
        went out (`interrupted`: the box hung up before it had played)."""
        if self._tts_for_voicemail is None:
            raise RuntimeError("no TTS configured for voicemail messages")
        timeouts = self._timeouts or Timeouts()
        tts = await self._tts_for_voicemail(call)
        started = time.monotonic()
        spoken: list[TranscriptEntry] = []
        feed = EventFeed(leg.events())
        speech = asyncio.create_task(_synthesize(tts, message, leg.format))

        def elapsed_ms() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            verdict = await wait_for_beep(
                feed,
                leg.format,
                max_wait_s=timeouts.voicemail_beep_s,
                quiet_s=timeouts.voicemail_quiet_s,
            )
            log.info("voicemail greeting over", call_id=str(call.id), heard=verdict)
            if verdict != "closed":
                await leg.send(await speech)
                leg.mark(VOICEMAIL_MARK)
                spoken.append(TranscriptEntry("agent", message, elapsed_ms(), interrupted=True))
                async with asyncio.timeout(VOICEMAIL_PLAY_MAX_S):
                    while (event := await feed.next()) is not None:
                        if isinstance(event, MarkReached) and event.name == VOICEMAIL_MARK:
                            spoken[0] = TranscriptEntry("agent", message, elapsed_ms())
                            break
        except MediaLegClosed:
            log.info("voicemail box hung up during the message", call_id=str(call.id))
        finally:
            # Its failure, if any, was raised above where it mattered.
            await asyncio.gather(cancel_and_wait(speech), return_exceptions=True)
            await feed.close()
        return CallResult(
            call_id=str(call.id),
            tenant_id=str(call.tenant_id),
            outcome=CallOutcome.VOICEMAIL,
            duration_ms=elapsed_ms(),
            transcript=spoken,
            turns=[],
            provider_usage=[
                ProviderUsageRecord(
                    kind=tts.kind,
                    vendor=tts.vendor,
                    fallback=False,
                    usage=tts.usage,
                    model=tts.config.model,
                )
            ],
            events=[CallEvent("voicemail", 0, {"detected_by": "amd"})],
        )


async def _synthesize(tts: TTSProvider, text: str, fmt: AudioFormat) -> bytes:
    """`text` as wire audio of `fmt`, whole (a voicemail message is short)."""
    await tts.connect()
    try:
        encoder = WireEncoder(fmt)
        parts = [encoder.feed(chunk) async for chunk in tts.synthesize(text)]
        return b"".join([*parts, encoder.finish()])
    finally:
        await tts.close()
