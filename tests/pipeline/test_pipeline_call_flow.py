"""Voicemail, IVR menus and call screeners, the cached welcome, the duration limit and
hangups."""

from __future__ import annotations

import asyncio

from pipeline.agent import VoicemailAction, VoicemailPolicy
from pipeline.dtmf_tools import CallTool
from pipeline.records import CallOutcome
from pipeline.speech_cache import SpeechCache
from pipeline.states import CallState
from tests.fakes.fake_providers import FakeLLM, FakeSTT, FakeTTS
from tests.pipeline.harness import agent_settings, make_call, until

GREETING = "Hi, you have reached Anna. Please leave a message after the tone."
MESSAGE = "This is the clinic calling about your appointment tomorrow."


async def test_voicemail_greeting_in_the_transcript_hangs_up() -> None:
    llm = FakeLLM()
    call = make_call(stt=FakeSTT(script=[GREETING]), llm=llm, direction="outbound")
    await call.start()
    call.speak(1500)
    result = await call.result()
    assert result.outcome is CallOutcome.VOICEMAIL
    assert result.voicemail_detected_by == "transcript"
    assert llm.requests == []
    assert call.leg.hung_up_at is not None
    assert call.leg.agent_ms == 0


async def test_voicemail_leave_message_policy_speaks_the_message_then_hangs_up() -> None:
    agent = agent_settings(
        voicemail=VoicemailPolicy(action=VoicemailAction.LEAVE_MESSAGE, message=MESSAGE)
    )
    call = make_call(agent=agent, stt=FakeSTT(script=[GREETING]), direction="outbound")
    await call.start()
    call.speak(1500)
    result = await call.result()
    assert result.outcome is CallOutcome.VOICEMAIL
    assert result.transcript[-1].text == MESSAGE
    assert call.tts.requests == []  # pre-warmed
    assert abs(call.leg.agent_ms - call.tts.duration_ms(MESSAGE)) <= 60
    assert call.leg.hung_up_at is not None
    assert call.leg.agent_frames()[-1][0] <= call.leg.hung_up_at


MENU = "Thank you for calling Acme. For sales, press 1. For support, press 2."
SCREENER = "Please say your name and why you are calling."


async def test_an_ivr_menu_ends_the_outbound_call_unanswered() -> None:
    llm = FakeLLM()
    call = make_call(stt=FakeSTT(script=[MENU]), llm=llm, direction="outbound")
    await call.start()
    call.speak(1500)
    result = await call.result()
    assert result.outcome is CallOutcome.IVR
    assert [e.detail for e in result.events if e.kind == "answered_by"] == [{"system": "ivr"}]
    assert llm.requests == []
    assert call.leg.hung_up_at is not None


async def test_an_agent_that_can_press_keys_stays_with_the_menu() -> None:
    llm = FakeLLM(replies=["Let me find the right option."])
    agent = agent_settings(call_tools=[CallTool.SEND_DTMF])
    call = make_call(agent=agent, stt=FakeSTT(script=[MENU]), llm=llm, direction="outbound")
    await call.start()
    call.speak(1500)
    await until(lambda: len(llm.requests) == 1, what="the model heard the menu")
    result = await call.end()
    assert result.outcome is CallOutcome.IVR  # no person ever came on the line


async def test_a_screener_is_answered_and_the_outcome_says_who_was_there() -> None:
    replies = ["This is the clinic calling about your appointment.", "Hello Anna."]
    screened_only = make_call(
        stt=FakeSTT(script=[SCREENER]), llm=FakeLLM(replies=replies), direction="outbound"
    )
    await screened_only.start()
    screened_only.speak(1500)
    await until(lambda: screened_only.leg.agent_ms > 0, what="the agent answered the screener")
    assert (await screened_only.end()).outcome is CallOutcome.CALL_SCREENING

    llm = FakeLLM(replies=replies)
    stt = FakeSTT(script=[SCREENER, "Hi, this is Anna, sorry about that."])
    picked_up = make_call(stt=stt, llm=llm, direction="outbound")
    await picked_up.start()
    picked_up.speak(1500)
    await until(lambda: len(llm.requests) == 1, what="the agent answered the screener")
    await until(lambda: picked_up.pipeline.state is CallState.LISTENING, what="its answer")
    picked_up.speak(1200)
    await until(lambda: len(llm.requests) == 2, what="the agent answered the person")
    assert (await picked_up.end()).outcome is CallOutcome.CALLER_HUNG_UP


async def test_inbound_callers_are_never_taken_for_voicemail_by_their_words() -> None:
    llm = FakeLLM(replies=["Of course, who is the message for?"])
    stt = FakeSTT(script=["I would like to leave a message"])
    call = make_call(stt=stt, llm=llm, direction="inbound")
    await call.start()
    call.speak(800)
    await until(lambda: len(llm.requests) == 1, what="answered")
    result = await call.end()
    assert result.outcome is CallOutcome.CALLER_HUNG_UP


async def test_voicemail_marker_from_the_llm() -> None:
    llm = FakeLLM(replies=[["Hello th", "ere [VOI", "CEMAIL]"]])
    call = make_call(stt=FakeSTT(script=["beep"]), llm=llm)
    await call.start()
    call.speak(500)
    result = await call.result()
    assert result.outcome is CallOutcome.VOICEMAIL
    assert result.voicemail_detected_by == "llm"
    assert call.tts.requests == []


async def test_prewarmed_welcome_leaves_within_300_ms_of_the_leg_coming_up() -> None:
    welcome = "Thanks for calling the test line, how can I help you?"
    call = make_call(agent=agent_settings(welcome_message=welcome))
    await call.start()
    await until(lambda: call.leg.agent_ms > 0, what="welcome")
    first_frame = call.leg.agent_frames()[0][0]
    assert first_frame - call.started < 0.3
    assert call.tts.requests == []  # played from the process-wide cache
    await until(lambda: call.pipeline.state is CallState.LISTENING, what="welcome played")
    result = await call.end()
    assert result.turns[0].index == 0
    assert result.turns[0].first_frame_out_ms is not None
    assert result.turns[0].first_frame_out_ms < 300
    assert result.transcript[0].text == welcome


async def test_cold_cache_welcome_is_synthesized() -> None:
    welcome = "Hello there."
    call = make_call(agent=agent_settings(welcome_message=welcome))
    await call.start(prewarm=False)
    await until(lambda: call.pipeline.state is CallState.LISTENING, what="welcome played")
    assert call.tts.requests[0] == welcome
    assert call.leg.agent_ms >= call.tts.duration_ms(welcome) - 60
    await call.end()


async def test_speech_cache_synthesizes_each_text_once() -> None:
    cache = SpeechCache()
    tts = FakeTTS(first_audio_s=0.05)
    a, b = await asyncio.gather(
        cache.get_or_synthesize(tts, "Hello."), cache.get_or_synthesize(tts, "Hello.")
    )
    assert a is b
    assert tts.requests == ["Hello."]
    assert cache.get(FakeTTS(voice="other"), "Hello.") is None  # keyed by voice too


async def test_max_call_duration_ends_the_call() -> None:
    call = make_call(agent=agent_settings(max_call_duration_s=1))
    await call.start()
    result = await call.result(wait_s=5)
    assert result.outcome is CallOutcome.MAX_DURATION
    assert 1000 <= result.duration_ms < 2500
    assert call.leg.hung_up_at is not None


async def test_caller_hangup_mid_reply_keeps_what_was_heard() -> None:
    llm = FakeLLM(replies=["This reply is long enough to be cut off by a hangup. And more."])
    call = make_call(stt=FakeSTT(script=["hi"]), llm=llm)
    await call.start()
    call.speak(500)
    await until(lambda: call.leg.agent_ms >= 600, what="agent talking")
    result = await call.end()
    assert result.outcome is CallOutcome.CALLER_HUNG_UP
    last = result.transcript[-1]
    assert last.role == "agent" and last.interrupted
    assert last.text.split()[:2] == ["This", "reply"]
    assert call.llm.closes == 1 and call.tts.closes == 1 and call.stt.closes == 1


def test_providers_are_built_per_call_from_the_agent() -> None:
    from pipeline.engine import CallProviders
    from providers.base import Provider, ProviderConfig, ProviderKind

    agent = agent_settings(llm_fallback=ProviderConfig(vendor="backup"))
    built: list[tuple[ProviderKind, str]] = []

    def build(kind: ProviderKind, config: ProviderConfig) -> Provider:
        built.append((kind, config.vendor))
        if kind is ProviderKind.STT:
            return FakeSTT(config)
        if kind is ProviderKind.LLM:
            return FakeLLM(config)
        return FakeTTS(config)

    providers = CallProviders.for_agent(agent, build)
    assert isinstance(providers.llm_fallback, FakeLLM)
    assert providers.stt_fallback is None
    assert built == [
        (ProviderKind.STT, "fake"),
        (ProviderKind.LLM, "fake"),
        (ProviderKind.TTS, "fake"),
        (ProviderKind.LLM, "backup"),
    ]
