"""An agent's own recognizer model, built before its first caller speaks.

An offline recognizer given an agent's phrases searches a language model blended for that
agent, built on its first use (seconds of CPU) and kept on disk (`providers.stt.blend_store`);
a call that comes meanwhile is heard with the general model until it is there. A browser
call's token is minted a second or more before the call starts (`WebCallWarmer`), so the
build starts then. Cloud recognizers, and an offline one without the agent's phrases
(Whisper takes none), have nothing to build and are not connected for it.
"""

from __future__ import annotations

import asyncio

from pipeline.agent import AgentSettings
from providers import registry
from providers.base import ProviderKind, STTProvider

# A build takes a few seconds of CPU; one still going after this holds a warm-up slot no
# longer (the call hears the general model until it ends).
PREPARE_TIMEOUT_S = 60.0


async def prepare_recognizer(settings: AgentSettings) -> None:
    """Have the agent's offline recognizer build its model for the agent, if it has one."""
    offline = registry.get(ProviderKind.STT, settings.stt.vendor).offline
    if not offline or not settings.stt.options.get("phrases"):
        return
    stt = registry.build(ProviderKind.STT, settings.stt)
    assert isinstance(stt, STTProvider)
    await stt.connect()
    try:
        async with asyncio.timeout(PREPARE_TIMEOUT_S):
            await stt.prepare()
    finally:
        await stt.close()
