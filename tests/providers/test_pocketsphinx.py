"""PocketSphinx on real telephone audio: piper speech through µ-law 8 kHz, upsampled to 16 kHz."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from bench.providers_audio import telephone_speech
from providers.base import ProviderConfig, ProviderError, Transcript
from providers.local import shared
from providers.registry import InvalidOptions, ProviderConfigError, build
from providers.stt.expected_speech import agent_phrases
from providers.stt.pocketsphinx import TELEPHONE_CMNINIT, PocketsphinxOptions, PocketsphinxSTT
from vocals.demo import SYSTEM_PROMPT, WELCOME

pytestmark = pytest.mark.slow

FRAME = 640  # 20 ms at 16 kHz
SILENCE = bytes(FRAME * 15)


async def recognizer(**options: object) -> PocketsphinxSTT:
    """A connected recognizer, searching the agent's own model when it has phrases."""
    stt = build("stt", ProviderConfig(vendor="pocketsphinx", options=options))
    assert isinstance(stt, PocketsphinxSTT)
    await stt.connect()
    await stt.prepare()
    return stt


async def model_of(stt: PocketsphinxSTT) -> str:
    """The model the recognizer searches ("" while the agent's is being built)."""
    assert stt.session is not None
    return (await stt.session.call("model"))[0].text


async def speak(stt: PocketsphinxSTT, pcm: bytes) -> None:
    """Send audio in 20 ms frames, as the pipeline does, then end the utterance."""
    for start in range(0, len(pcm), FRAME):
        await stt.send_audio(pcm[start : start + FRAME])
    await stt.end_utterance()


async def until_final(results: AsyncIterator[Transcript]) -> tuple[list[Transcript], Transcript]:
    partials: list[Transcript] = []
    async with asyncio.timeout(30):
        async for result in results:
            if result.is_final:
                return partials, result
            partials.append(result)
    raise AssertionError("no final transcript")


async def test_recognizes_telephone_speech_with_partials() -> None:
    stt = await recognizer()
    results = stt.transcripts()
    audio = SILENCE + telephone_speech("I would like to book an appointment for tomorrow.", 0.3)
    await speak(stt, audio + SILENCE)
    partials, final = await until_final(results)
    words = set(final.text.split())
    assert {"book", "appointment", "tomorrow"} <= words, final.text
    assert partials, "no partial hypothesis while streaming"
    assert all(not p.is_final and p.text for p in partials)
    assert stt.usage.audio_seconds == pytest.approx(len(audio + SILENCE) / 32000, abs=0.01)

    # The decoder carries on with the next utterance of the same call.
    await speak(stt, telephone_speech("What are your opening hours?", 0.3) + SILENCE)
    _, second = await until_final(results)
    assert {"opening", "hours"} <= set(second.text.split()), second.text
    await stt.close()
    assert [r async for r in results] == []


async def test_streaming_final_without_redecode() -> None:
    stt = await recognizer(redecode_first=0, partials=False)
    results = stt.transcripts()
    await speak(stt, telephone_speech("Thank you very much, goodbye.", 0.3) + SILENCE)
    partials, final = await until_final(results)
    assert partials == []
    assert "goodbye" in final.text.split(), final.text
    await stt.close()


async def test_first_utterance_redecoded_on_request() -> None:
    stt = await recognizer(redecode_first=1)
    results = stt.transcripts()
    await speak(stt, telephone_speech("What are your opening hours?", 0.3) + SILENCE)
    _, final = await until_final(results)
    assert {"opening", "hours"} <= set(final.text.split()), final.text
    await stt.close()


async def test_the_agents_phrases_are_heard_word_for_word() -> None:
    """The demo agent's caller, whom the general model alone hears as "in my book an
    appointment" and "no thank you that's all the bag"."""
    phrases = agent_phrases(ProviderConfig(vendor="scripted"), SYSTEM_PROMPT, WELCOME)
    stt = await recognizer(phrases=phrases)
    results = stt.transcripts()
    heard = []
    for sentence in (
        "Can I book an appointment for tomorrow morning?",
        "No thanks, that's all. Goodbye.",
    ):
        await speak(stt, telephone_speech(sentence, 0.3) + SILENCE)
        heard.append((await until_final(results))[1].text)
    assert heard == [
        "can i book an appointment for tomorrow morning",
        "no thanks that's all goodbye",
    ]
    # Words the agent does not expect are still in the vocabulary.
    await speak(stt, telephone_speech("I need to cancel my appointment.", 0.3) + SILENCE)
    _, final = await until_final(results)
    assert {"need", "appointment"} <= set(final.text.split()), final.text
    await stt.close()


def model_files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("*.lm.bin"))


async def test_an_agents_model_is_built_once_per_machine_and_no_call_waits_for_it(
    tmp_path: Path,
) -> None:
    """The first call of an agent starts at once on the general model (building the blend,
    seconds of CPU, held up every call of the worker and timed them out at 16 calls); an
    utterance during which the blend is built is heard again with it when it ends (the general
    model heard "i i would like to know your opening hours played"), and the other worker
    loads the file the first wrote."""
    await shared.stop()
    await shared.start(2, cache_dir=tmp_path)
    phrases = agent_phrases(ProviderConfig(vendor="scripted"), SYSTEM_PROMPT, WELCOME)
    first = build("stt", ProviderConfig(vendor="pocketsphinx", options={"phrases": phrases}))
    assert isinstance(first, PocketsphinxSTT)
    await first.connect()
    assert await model_of(first) == ""  # connected before the blend exists
    results = first.transcripts()
    speech = telephone_speech("Hi, I would like to know your opening hours please.", 0.3)
    for start in range(0, len(speech + SILENCE), FRAME):
        await first.send_audio((speech + SILENCE)[start : start + FRAME])
    async with asyncio.timeout(60):
        while not model_files(tmp_path):  # noqa: ASYNC110 (built in another process)
            await asyncio.sleep(0.05)
    await first.end_utterance()
    heard = (await until_final(results))[1].text
    assert heard == "i would like to know your opening hours please"
    blend = await model_of(first)
    assert blend.startswith("agent-")
    (built,) = model_files(tmp_path)
    assert built.startswith(f"{blend}-")

    second = await recognizer(phrases=phrases)
    stats = shared.stats()
    assert stats is not None and [w.models for w in stats.workers] == [{"pocketsphinx": 1}] * 2
    assert await model_of(second) == blend  # loaded from the file, not built again
    assert model_files(tmp_path) == [built]
    results = second.transcripts()
    await speak(second, telephone_speech("No thanks, that's all. Goodbye.", 0.3) + SILENCE)
    assert (await until_final(results))[1].text == "no thanks that's all goodbye"
    await first.close()
    await second.close()
    await shared.stop()


async def test_the_blend_hears_words_the_agent_does_not_expect() -> None:
    """ "cancel" is in none of the demo agent's phrases, and not among the general model's
    5000 likeliest words: a blend keeping only those heard "i need to can full my
    appointment"."""
    phrases = agent_phrases(ProviderConfig(vendor="scripted"), SYSTEM_PROMPT, WELCOME)
    assert not any("cancel" in phrase.lower() for phrase in phrases)
    stt = await recognizer(phrases=phrases)
    results = stt.transcripts()
    await speak(stt, telephone_speech("I need to cancel my appointment.", 0.3) + SILENCE)
    _, final = await until_final(results)
    assert final.text == "i need to cancel my appointment"
    await stt.close()


async def test_the_blend_hears_unexpected_sentences_as_the_general_model_does() -> None:
    """Sentences in none of the demo agent's phrases, which the general model alone hears
    word for word; a blend keeping only its 20 000 likeliest words and some of their pairs
    heard "what time be you close today" and "could you say then again please"."""
    phrases = agent_phrases(ProviderConfig(vendor="scripted"), SYSTEM_PROMPT, WELCOME)
    sentences = ("What time do you close today?", "Could you say that again, please?")
    heard: dict[str, list[str]] = {}
    for name, options in (("general", {}), ("blend", {"phrases": phrases})):
        stt = await recognizer(**options)
        results = stt.transcripts()
        heard[name] = []
        for sentence in sentences:
            await speak(stt, telephone_speech(sentence, 0.3) + SILENCE)
            heard[name].append((await until_final(results))[1].text)
        await stt.close()
    assert heard["general"] == ["what time do you close today", "could you say that again please"]
    assert heard["blend"] == heard["general"]


async def test_end_without_audio_gives_empty_final() -> None:
    stt = await recognizer()
    results = stt.transcripts()
    await stt.end_utterance()
    _, final = await until_final(results)
    assert final.text == ""
    await stt.close()


async def test_send_after_close_is_an_error() -> None:
    stt = await recognizer()
    await stt.close()
    with pytest.raises(ProviderError, match="not connected"):
        await stt.send_audio(SILENCE)


def test_cmninit_must_be_13_numbers() -> None:
    with pytest.raises(InvalidOptions, match="option 'cmninit'"):
        build("stt", ProviderConfig(vendor="pocketsphinx", options={"cmninit": "40,3,-1"}))
    config = ProviderConfig(vendor="pocketsphinx", options={"cmninit": ",".join(["1.5"] * 13)})
    assert isinstance(build("stt", config), PocketsphinxSTT)


def test_only_english() -> None:
    with pytest.raises(ProviderConfigError, match="only English"):
        build("stt", ProviderConfig(vendor="pocketsphinx", language="de-DE"))


async def test_silence_between_turns_is_not_decoded() -> None:
    stt = await recognizer()
    results = stt.transcripts()
    speech = telephone_speech("What are your opening hours?", 0.3)
    long_silence = bytes(32000 * 20)  # the agent talked for twenty seconds
    await speak(stt, long_silence + speech + SILENCE)
    _, final = await until_final(results)
    assert {"opening", "hours"} <= set(final.text.split()), final.text
    assert stt.usage.audio_seconds > 20
    assert stt.decoded_seconds < len(speech) / 32000 + 1.0
    await stt.close()


async def test_a_later_call_reuses_a_decoder_reset_to_the_telephone_line() -> None:
    """The worker hands the last call's decoder to the next one with the cepstral means
    reset to the telephone line's, so the next caller is heard as well as the first."""
    sentence = telephone_speech("What are your opening hours?", 0.3) + SILENCE
    texts = []
    for _ in range(2):
        stt = await recognizer(beam=1e-47)  # settings of this test only: its own pool entry
        results = stt.transcripts()
        await speak(stt, sentence)
        _, final = await until_final(results)
        texts.append(final.text)
        await stt.close()
    assert texts[0] == texts[1] and {"opening", "hours"} <= set(texts[0].split()), texts


async def test_a_call_closed_mid_utterance_hands_back_a_clean_decoder() -> None:
    stt = await recognizer(beam=1e-46)
    await stt.send_audio(telephone_speech("I would like", 0.3))
    await stt.close()  # mid-utterance: the decoder ends it before the next call gets it
    again = await recognizer(beam=1e-46)
    results = again.transcripts()
    await speak(again, telephone_speech("Thank you very much, goodbye.", 0.3) + SILENCE)
    _, final = await until_final(results)
    assert "goodbye" in final.text.split(), final.text
    await again.close()


async def end_of_utterance_cpu_s(speech: bytes, **options: object) -> float:
    """The worker's CPU for the final of `speech`, decoded with the provider's options."""
    pool = await shared.start()
    resolved = msgspec.to_builtins(PocketsphinxOptions(**options))  # type: ignore[arg-type]
    resolved["cmninit"] = TELEPHONE_CMNINIT
    session = await pool.open("pocketsphinx", **resolved)
    try:
        await session.call("feed", speech)
        before = pool.stats().cpu_seconds
        (final,) = await session.call("end")
        assert {"opening", "hours"} <= set(final.text.split()), final.text
        return pool.stats().cpu_seconds - before
    finally:
        await session.close()


async def test_the_final_costs_little_once_the_caller_stops() -> None:
    """No second search over the utterance by default: the reply does not wait for one."""
    speech = telephone_speech("Hi, I would like to know your opening hours please.", 0.3)
    streaming = await end_of_utterance_cpu_s(speech, beam=1e-45)
    second_pass = await end_of_utterance_cpu_s(speech, beam=1e-45, second_pass=True)
    assert streaming < second_pass / 3, (streaming, second_pass)
