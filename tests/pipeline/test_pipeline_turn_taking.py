"""The `smart` end-of-turn policy on a simulated call through the whole engine: a caller's
mid-thought pause does not end the turn, a finished question is answered after a short
silence, and a backchannel over the agent does not stop it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from bench.providers_audio import piper_speech
from media.resample import StreamResampler
from media.vad import BargeInSensitivity
from pipeline.agent import AgentSettings
from pipeline.states import CallState
from pipeline.turn_taking import SmartTurnSettings, TurnDetection, policy_for
from providers.base import ProviderConfig
from providers.builtin import load_all
from providers.local import shared
from providers.tts.piper import DEFAULT_SAMPLE_RATE
from providers.vad.silero import VadEngine
from tests.fakes.fake_providers import FakeLLM, FakeSTT
from tests.pipeline.harness import agent_settings, make_call, until

LONG_REPLY = (
    "Let me tell you all about our opening hours and our prices in great detail. "
    "We open at nine and close at six on weekdays, and at four on Saturdays."
)
# The target for a finished turn, from the caller's last speech to the decision.
TARGET_MS = 250
# What a busy test machine adds to it (the event loop's lag, 20 ms frames).
LOOP_SLACK_MS = 40


def smart_agent(**overrides: Any) -> AgentSettings:
    return agent_settings(
        turn_detection=TurnDetection.SMART,
        smart_turn=SmartTurnSettings(),
        end_of_speech_ms=None,
        **overrides,
    )


async def test_a_mid_sentence_pause_does_not_end_the_turn() -> None:
    # 200 ms per word: after 1 s of speech the partial is "I'd like to book for".
    stt = FakeSTT(script=["I'd like to book for next Tuesday please"], ms_per_word=200)
    llm = FakeLLM(replies=["Tuesday it is."])
    call = make_call(agent=smart_agent(), stt=stt, llm=llm)
    await call.start()
    call.speak(1000, then_silence_ms=500)  # the pause: longer than the 300 ms harness default
    call.speak(800, then_silence_ms=0)
    await until(lambda: call.leg.agent_ms > 0, wait_s=10, what="an answer")
    await until(lambda: call.pipeline.state is CallState.LISTENING, what="the answer's end")
    # The turn was answered once, whole, after the caller's second part.
    assert call.leg.agent_frames()[0][0] > call.leg.caller_frames[-1]
    assert len(llm.requests) == 1
    result = await call.end()
    assert [(e.role, e.text, e.interrupted) for e in result.transcript] == [
        ("caller", "I'd like to book for next Tuesday please", False),
        ("agent", "Tuesday it is.", False),
    ]


async def test_an_afterthought_to_a_short_statement_stays_in_the_turn() -> None:
    # After 800 ms the partial is "I need a haircut": finished words, but a short statement.
    stt = FakeSTT(script=["I need a haircut and a beard trim"], ms_per_word=200)
    llm = FakeLLM(replies=["Both, then."])
    call = make_call(agent=smart_agent(), stt=stt, llm=llm)
    await call.start()
    call.speak(800, then_silence_ms=460)  # a breath: past the 200 ms for a finished sentence
    call.speak(1000, then_silence_ms=0)
    await until(lambda: call.leg.agent_ms > 0, wait_s=10, what="an answer")
    await until(lambda: call.pipeline.state is CallState.LISTENING, what="the answer's end")
    assert len(llm.requests) == 1
    result = await call.end()
    assert [(e.role, e.text) for e in result.transcript] == [
        ("caller", "I need a haircut and a beard trim"),
        ("agent", "Both, then."),
    ]


async def test_a_finished_question_is_answered_after_a_short_silence() -> None:
    stt = FakeSTT(script=["what time do you open tomorrow"], ms_per_word=150)
    llm = FakeLLM(replies=["At nine."])
    call = make_call(agent=smart_agent(), stt=stt, llm=llm)
    await call.start()
    call.speak(1000, then_silence_ms=1500)
    await until(lambda: call.leg.agent_ms > 0, wait_s=10, what="the answer")
    await until(lambda: call.pipeline.state is CallState.LISTENING, what="the answer's end")
    result = await call.end()
    turn = result.turns[0]
    assert turn.end_of_speech_ms is not None and turn.stt_final_ms is not None
    # The recognizer's final is asked for when the turn is judged over, and comes at once.
    decided_ms = turn.stt_final_ms - turn.end_of_speech_ms
    assert decided_ms <= TARGET_MS + LOOP_SLACK_MS, decided_ms


@pytest.mark.parametrize(("vendor", "early"), [("deepgram", True), ("pocketsphinx", False)])
async def test_only_a_trusted_recognizers_finished_words_end_the_turn_early(
    vendor: str, early: bool
) -> None:
    load_all()  # registers pocketsphinx, whose words are too often wrong to answer early
    stt = FakeSTT(script=["what time do you open tomorrow"], ms_per_word=150, vendor=vendor)
    agent = smart_agent(stt=ProviderConfig(vendor=vendor))
    call = make_call(agent=agent, stt=stt, llm=FakeLLM(replies=["At nine."]))
    await call.start()
    call.speak(1000, then_silence_ms=1500)
    await until(lambda: call.leg.agent_ms > 0, wait_s=10, what="the answer")
    await until(lambda: call.pipeline.state is CallState.LISTENING, what="the answer's end")
    turn = (await call.end()).turns[0]
    assert turn.end_of_speech_ms is not None and turn.stt_final_ms is not None
    decided_ms = turn.stt_final_ms - turn.end_of_speech_ms
    if early:
        assert decided_ms <= TARGET_MS + LOOP_SLACK_MS, decided_ms
    else:  # the ordinary silence, as if no words were known
        assert decided_ms >= SmartTurnSettings().unknown_ms - LOOP_SLACK_MS, decided_ms


def test_an_untrusted_fallback_recognizer_keeps_smart_from_answering_early() -> None:
    load_all()
    agent = smart_agent(
        stt=ProviderConfig(vendor="deepgram"), stt_fallback=ProviderConfig(vendor="pocketsphinx")
    )
    policy = policy_for(agent)  # the fallback may take over mid-call, words and all
    policy.heard("what time do you open tomorrow")
    settings = SmartTurnSettings()
    assert not policy.turn_over(settings.complete_ms)
    assert policy.turn_over(settings.unknown_ms)


async def test_a_backchannel_over_the_agent_does_not_stop_it_at_medium() -> None:
    agent = smart_agent(barge_in=BargeInSensitivity.MEDIUM)
    llm = FakeLLM(replies=[LONG_REPLY])
    call = make_call(agent=agent, stt=FakeSTT(script=["tell me", "mm-hm"]), llm=llm)
    await call.start()
    call.speak(500)
    await until(lambda: call.leg.agent_ms >= 600, what="agent talking")
    call.speak(400)
    await until(lambda: call.pipeline.state is CallState.LISTENING, wait_s=15, what="reply end")
    assert call.leg.clears == []
    assert len(llm.requests) == 1
    result = await call.end()
    assert any(e.kind == "backchannel" for e in result.events)
    assert not result.turns[0].interrupted


async def test_a_slow_backchannel_longer_than_the_speech_rule_does_not_stop_the_agent() -> None:
    # 900 ms of "uh-huh" is past medium's 700 ms of speech; its words say it is a backchannel.
    agent = smart_agent(barge_in=BargeInSensitivity.MEDIUM)
    llm = FakeLLM(replies=[LONG_REPLY])
    call = make_call(agent=agent, stt=FakeSTT(script=["tell me", "uh-huh"]), llm=llm)
    await call.start()
    call.speak(500)
    await until(lambda: call.leg.agent_ms >= 600, what="agent talking")
    call.speak(900)
    await until(lambda: call.pipeline.state is CallState.LISTENING, wait_s=15, what="reply end")
    assert call.leg.clears == []
    result = await call.end()
    assert [e.detail for e in result.events if e.kind == "backchannel"] == [{"text": "uh-huh"}]
    assert not result.turns[0].interrupted


async def test_a_real_interruption_still_stops_the_agent_at_medium() -> None:
    agent = smart_agent(barge_in=BargeInSensitivity.MEDIUM)
    llm = FakeLLM(replies=[LONG_REPLY, "Sure."])
    stt = FakeSTT(script=["tell me", "wait what about saturday"])
    call = make_call(agent=agent, stt=stt, llm=llm)
    await call.start()
    call.speak(500)
    await until(lambda: call.leg.agent_ms >= 600, what="agent talking")
    call.speak(1200)
    await until(lambda: len(call.leg.clears) == 1, what="the agent stopped")
    result = await call.end()
    assert result.turns[0].interrupted


def line_speech(text: str) -> bytes:
    """Piper speech for `text` at the leg's 8 kHz (a real voice, which Silero must hear)."""
    down = StreamResampler(DEFAULT_SAMPLE_RATE, 8000)
    pcm = piper_speech(text, 0.5)
    return down.process(pcm) + down.flush()


def traffic_noise(seconds: float) -> bytes:
    """White noise swelling and fading four times a second at 8 kHz, like passing traffic."""
    t = np.arange(int(8000 * seconds)) / 8000
    noise = np.random.default_rng(1).normal(0, 0.15, len(t)) * (0.5 + 0.5 * np.sin(8 * np.pi * t))
    return bytes((np.clip(noise, -1, 1) * 32767).astype(np.int16).tobytes())


@pytest.fixture
async def local_pool() -> AsyncIterator[None]:
    await shared.start(1)
    yield
    await shared.stop()


@pytest.mark.slow
@pytest.mark.usefixtures("local_pool")
@pytest.mark.parametrize(("vad", "stopped"), [(VadEngine.WEBRTC, True), (VadEngine.SILERO, False)])
async def test_silero_in_a_worker_hears_the_caller_and_not_the_traffic(
    vad: VadEngine, stopped: bool
) -> None:
    # High sensitivity stops the agent at the VAD's first speech: only the VAD decides.
    agent = agent_settings(barge_in=BargeInSensitivity.HIGH, vad=vad)
    llm = FakeLLM(replies=[LONG_REPLY])
    call = make_call(agent=agent, stt=FakeSTT(script=["what time do you open"]), llm=llm)
    await call.start()
    call.leg.say(line_speech("What time do you open tomorrow?"))
    await until(lambda: call.leg.agent_ms >= 600, wait_s=10, what="the answer")
    call.leg.say(traffic_noise(2.0))
    await until(lambda: call.pipeline.state is CallState.LISTENING, wait_s=15, what="reply end")
    assert bool(call.leg.clears) is stopped
    result = await call.end()
    assert result.transcript[0].text == "what time do you open"
