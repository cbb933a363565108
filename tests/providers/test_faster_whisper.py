"""The local Whisper recognizer (the offline default), on real telephone speech in the
real worker pool: what the demo's own caller says is heard word for word, where PocketSphinx
heard "i what are your opening hours"."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import numpy as np
import pytest

from bench.providers_audio import telephone_speech
from providers.base import ProviderConfig, Transcript
from providers.registry import InvalidOptions, ProviderConfigError, build
from providers.stt.faster_whisper import FasterWhisperSTT
from providers.stt.faster_whisper_worker import PIECE_S

pytestmark = pytest.mark.slow

FRAME = 640  # 20 ms at 16 kHz
SILENCE = bytes(FRAME * 15)


async def recognizer() -> FasterWhisperSTT:
    stt = build("stt", ProviderConfig(vendor="faster-whisper"))
    assert isinstance(stt, FasterWhisperSTT)
    await stt.connect()
    return stt


async def speak(stt: FasterWhisperSTT, pcm: bytes) -> None:
    """Send audio in 20 ms frames, as the pipeline does, then end the utterance."""
    for start in range(0, len(pcm), FRAME):
        await stt.send_audio(pcm[start : start + FRAME])
    await stt.end_utterance()


async def final(results: AsyncIterator[Transcript]) -> str:
    async with asyncio.timeout(30):
        async for result in results:
            assert result.is_final, "Whisper gives no partials"
            return result.text
    raise AssertionError("no final transcript")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


async def test_the_demo_callers_sentences_are_heard_word_for_word() -> None:
    stt = await recognizer()
    results = stt.transcripts()
    heard = []
    for sentence in (
        "Hi, I would like to know your opening hours please.",
        "Can I book an appointment for tomorrow morning?",
        "Where exactly are you located?",
    ):
        await speak(stt, SILENCE + telephone_speech(sentence, 0.3) + SILENCE)
        heard.append(words(await final(results)))
    assert heard == [
        ["hi", "i", "would", "like", "to", "know", "your", "opening", "hours", "please"],
        ["can", "i", "book", "an", "appointment", "for", "tomorrow", "morning"],
        ["where", "exactly", "are", "you", "located"],
    ]
    assert stt.usage.requests == 3
    await stt.close()
    assert [r async for r in results] == []


async def test_line_noise_without_words_is_heard_as_nothing() -> None:
    """Noise loud enough to pass the speech gate: Whisper's no-speech test keeps it from
    being heard as "Thank you." and answered."""
    stt = await recognizer()
    results = stt.transcripts()
    noise = np.random.default_rng(3).normal(0, 3000, 16000).astype(np.int16).tobytes()
    await speak(stt, SILENCE + noise + SILENCE)
    assert stt.decoded_seconds > 0.5, "the noise never reached the recognizer"
    assert await final(results) == ""
    # An utterance ended with nothing said is nothing too.
    await stt.end_utterance()
    assert await final(results) == ""
    await stt.close()


async def test_a_monologue_longer_than_whispers_window_is_heard_whole() -> None:
    sentences = [
        "I would like to book an appointment for tomorrow morning.",
        "My sister wants a haircut on Saturday afternoon as well.",
        "Could you also tell me where I can park near the salon?",
    ]
    speech = b"".join(telephone_speech(s, 0.3) for s in sentences)
    repeats = int(PIECE_S * 32000 // len(speech)) + 2
    stt = await recognizer()
    results = stt.transcripts()
    await speak(stt, speech * repeats + SILENCE)
    assert stt.decoded_seconds > PIECE_S + 1
    heard = words(await final(results))
    assert heard[:5] == ["i", "would", "like", "to", "book"], heard
    assert heard.count("appointment") >= repeats - 1, heard
    assert "salon" in heard[-6:], heard
    await stt.close()


def test_options_and_languages_it_does_not_have_are_refused() -> None:
    with pytest.raises(InvalidOptions):
        build("stt", ProviderConfig(vendor="faster-whisper", options={"beam": 5}))
    with pytest.raises(ProviderConfigError, match="only English"):
        build("stt", ProviderConfig(vendor="faster-whisper", language="de-DE"))
