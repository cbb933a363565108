"""All offline defaults together: a caller's piper speech over µ-law is recognized by
Whisper tiny.en, answered by the scripted flow, spoken by piper, and the call ends itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bench.providers_audio import telephone_speech
from providers.base import Message, ProviderConfig, Transcript
from providers.builtin import load_all
from providers.llm.scripted import END_CALL, ScriptedLLM
from providers.registry import build, catalog
from providers.stt.faster_whisper import FasterWhisperSTT
from providers.tts.piper import PiperTTS

pytestmark = pytest.mark.slow

FRAME = 640
CALLER_LINES = [
    "What are your opening hours?",
    "I would like to book an appointment for tomorrow.",
    "Tomorrow morning please.",
    "Thank you very much, goodbye.",
]


def test_load_all_registers_the_offline_defaults() -> None:
    load_all()
    offline = {(info.kind, info.vendor) for info in catalog() if info.offline}
    assert {
        ("stt", "faster-whisper"),
        ("stt", "pocketsphinx"),
        ("tts", "piper"),
        ("llm", "scripted"),
    } <= offline
    assert ("llm", "openai_compatible") in {(i.kind, i.vendor) for i in catalog()}


async def test_offline_call_reaches_end_call() -> None:
    stt = build("stt", ProviderConfig(vendor="faster-whisper"))
    llm = build("llm", ProviderConfig(vendor="scripted"))
    tts = build("tts", ProviderConfig(vendor="piper"))
    assert isinstance(stt, FasterWhisperSTT)
    assert isinstance(llm, ScriptedLLM)
    assert isinstance(tts, PiperTTS)
    await asyncio.gather(stt.connect(), tts.connect())
    results = stt.transcripts()
    history: list[Message] = []
    replies = []
    for line in CALLER_LINES:
        audio = bytes(FRAME * 10) + telephone_speech(line, 0.3) + bytes(FRAME * 20)
        for start in range(0, len(audio), FRAME):
            await stt.send_audio(audio[start : start + FRAME])
        await stt.end_utterance()
        async with asyncio.timeout(30):
            heard = [t async for t in _until_final(results)][-1]
        history.append(Message("user", heard.text))
        reply = "".join([d async for d in llm.stream(history, "")])
        history.append(Message("assistant", reply))
        replies.append(reply)
        spoken = reply.replace(END_CALL, "").strip()
        audio_out = b"".join([c.pcm async for c in tts.synthesize(spoken)])
        assert len(audio_out) / 2 / tts.sample_rate > 1.0
    await stt.close()
    assert replies[0].startswith("We're open nine in the morning"), history
    assert replies[1].startswith("Sure, tomorrow works."), history
    assert replies[2].startswith("Perfect, you're booked for tomorrow morning."), history
    assert replies[3].endswith(END_CALL), history
    assert all(END_CALL not in r for r in replies[:3])


async def _until_final(results: AsyncIterator[Transcript]) -> AsyncIterator[Transcript]:
    async for result in results:
        yield result
        if result.is_final:
            return
