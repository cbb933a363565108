"""Agents' fixed utterances (welcome, apology, voicemail message) synthesized ahead of calls.

At start-up the greetings of agents that answer numbers are synthesized (`Telephony`); a
browser call's agent may have no number, or be an unsaved draft, so its greeting is started
when the call's token is minted (`WebCallWarmer`): the page takes a second or more (script,
microphone, audio worklet, socket) before the call starts, and a cold synthesis could miss
the TTS's first-audio timeout. The same warm-up has the agent's offline recognizer build its
model for the agent then (`vocals.recognizer_warmup`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable

import structlog

from ari_app.agent_loader import StoreAgentLoader
from media.formats import AudioFormat
from pipeline.agent import AgentSettings
from pipeline.speech_cache import prewarm_agent
from providers import registry
from providers.base import ProviderKind, TTSProvider
from store.models import Agent
from vocals.recognizer_warmup import prepare_recognizer
from web_calls.protocol import WIRE_FORMAT

log = structlog.get_logger(__name__)

# Warm-ups running at once for minted tokens: a site minting one per visitor asks for the same
# greeting again and again (found in the cache at once); this only bounds a burst of drafts.
MAX_WEB_WARMUPS = 8


async def prewarm_greetings(settings: AgentSettings, formats: Iterable[AudioFormat]) -> None:
    """Synthesize the agent's fixed utterances with its own voice into the process's speech
    cache, encoded for each of `formats`."""
    tts = registry.build(ProviderKind.TTS, settings.tts)
    assert isinstance(tts, TTSProvider)
    await tts.connect()
    try:
        for fmt in formats:
            await prewarm_agent(settings, tts, fmt)
    finally:
        await tts.close()


class WebCallWarmer:
    """Starts synthesizing a browser call's greetings when its token is minted (see module)."""

    def __init__(self, loader: StoreAgentLoader) -> None:
        self._loader = loader
        self._running: dict[tuple[uuid.UUID, str], asyncio.Task[None]] = {}

    def __call__(self, agent: Agent) -> None:
        """Warm `agent` (as stored, or a draft) in the background; never raises."""
        key = (agent.id, agent.welcome_message)
        if key in self._running or len(self._running) >= MAX_WEB_WARMUPS:
            return
        task = asyncio.get_running_loop().create_task(self._warm(agent), name="web-call-warmup")
        self._running[key] = task
        task.add_done_callback(lambda _: self._running.pop(key, None))

    async def _warm(self, agent: Agent) -> None:
        try:
            settings = await self._loader.settings_of(agent)
            await prewarm_greetings(settings, (WIRE_FORMAT,))
            await prepare_recognizer(settings)
        except Exception as exc:
            log.warning("web call prewarm failed", agent_id=str(agent.id), error=str(exc))

    async def stop(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
