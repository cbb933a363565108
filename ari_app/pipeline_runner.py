"""`Conversations` over the pipeline: one `CallPipeline` per answered call.

How an agent's settings and provider instances are built (config cache, key decryption,
registry) is given as `prepare`, so this module stays about running the call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

import structlog

from ari_app.call import Call
from media.leg import MarkReached, MediaLeg, MediaLegClosed
from pipeline.agent import AgentSettings
from pipeline.engine import CallInfo, CallPipeline, CallProviders
from pipeline.records import CallResult
from pipeline.sink import CallSink, MemorySink
from pipeline.speech_cache import SPEECH_CACHE, SpeechCache
from pipeline.states import Timeouts
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

    async def converse(self, call: Call, leg: MediaLeg) -> CallResult:
        agent, providers = await self._prepare(call)
        pipeline = CallPipeline(
            call=CallInfo(call_id=str(call.id), tenant_id=str(call.tenant_id)),
            agent=agent,
            providers=providers,
            leg=leg,
            sink=self._sink_for(call),
            speech_cache=self._cache,
            timeouts=self._timeouts,
        )
        task = asyncio.create_task(pipeline.run())
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            pipeline.stop()
            await task
            raise

    async def leave_voicemail(self, call: Call, leg: MediaLeg, message: str) -> None:
        if self._tts_for_voicemail is None:
            raise RuntimeError("no TTS configured for voicemail messages")
        tts = await self._tts_for_voicemail(call)
        await tts.connect()
        try:
            encoder = WireEncoder(leg.format)
            async for chunk in tts.synthesize(message):
                await leg.send(encoder.feed(chunk))
            await leg.send(encoder.finish())
            leg.mark(VOICEMAIL_MARK)
            async with asyncio.timeout(VOICEMAIL_PLAY_MAX_S):
                async for event in leg.events():
                    if isinstance(event, MarkReached) and event.name == VOICEMAIL_MARK:
                        return
        except MediaLegClosed:
            log.info("voicemail box hung up during the message", call_id=str(call.id))
        finally:
            await tts.close()
