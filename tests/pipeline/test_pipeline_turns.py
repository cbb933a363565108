"""A caller turn through the whole engine: order, pipelining, markers, DTMF, the record."""

from __future__ import annotations

import itertools

from pipeline.markers import Marker
from pipeline.records import CallOutcome
from pipeline.states import CallState
from providers.base import ProviderKind
from tests.fakes.fake_providers import FakeLLM, FakeSTT, FakeTTS
from tests.pipeline.harness import make_call, until

THREE_SENTENCES = "First sentence is here. Second sentence follows now. Third and the last one."
SENTENCES = ["First sentence is here.", "Second sentence follows now.", "Third and the last one."]


def runs(levels: list[int], tolerance: int = 400) -> list[tuple[int, int]]:
    """(level, frames) runs of similar peak levels."""
    out: list[tuple[int, int]] = []
    for _, group in itertools.groupby(levels, key=lambda v: round(v / tolerance)):
        frames = list(group)
        out.append((frames[0], len(frames)))
    return out


async def test_sentences_are_synthesized_ahead_and_played_in_order() -> None:
    tts = FakeTTS(first_audio_s=0.15, amplitude=6000, amplitude_step=3000)
    call = make_call(
        stt=FakeSTT(script=["tell me three things"]),
        llm=FakeLLM(replies=[THREE_SENTENCES], token_interval_s=0.005),
        tts=tts,
    )
    await call.start()
    call.speak(600)
    await until(lambda: len(call.pipeline.history) == 2, wait_s=10, what="reply heard")
    assert tts.requests == SENTENCES
    # Sentence 2 and 3 were synthesized while sentence 1 (about 1 s of audio) played.
    play_ms = tts.duration_ms(SENTENCES[0])
    assert tts.started_at[1] - tts.started_at[0] < play_ms / 1000 / 2
    assert tts.started_at[2] - tts.started_at[0] < play_ms / 1000 / 2
    # Audio went out in sentence order, each sentence whole.
    played = [(level, frames) for level, frames in runs(call.leg.levels()) if frames > 2]
    assert [round(level / 3000) * 3000 for level, _ in played] == [6000, 9000, 12000]
    for (_, frames), sentence in zip(played, SENTENCES, strict=True):
        assert abs(frames * 20 - tts.duration_ms(sentence)) <= 60
    assert len(call.leg.marks_set) == 3  # one per sentence
    assert call.pipeline.history[1].content == " ".join(SENTENCES)
    await call.end()


async def test_end_call_marker_split_across_chunks_hangs_up_after_the_sentence() -> None:
    llm = FakeLLM(replies=[["Thank you for calling", ". Goodbye", "! [END_", "CALL] extra"]])
    call = make_call(stt=FakeSTT(script=["that is all, bye"]), llm=llm)
    await call.start()
    call.speak(600)
    result = await call.result()
    assert result.outcome is CallOutcome.AGENT_ENDED
    assert call.tts.requests == ["Thank you for calling.", "Goodbye!"]
    assert not any("[" in r or "END" in r for r in call.tts.requests)
    expected_ms = sum(call.tts.duration_ms(t) for t in call.tts.requests)
    assert call.leg.agent_ms >= expected_ms - 60  # the goodbye was played out, not cut
    assert call.leg.hung_up_at is not None
    assert call.leg.agent_frames()[-1][0] <= call.leg.hung_up_at
    assert result.transcript[-1].text == "Thank you for calling. Goodbye!"
    assert any(e.kind == "end_call" for e in result.events)


async def test_llm_gets_history_system_prompt_and_call_control_instructions() -> None:
    llm = FakeLLM(replies=["Sure thing.", "You are welcome."])
    call = make_call(stt=FakeSTT(script=["first question", "thanks"]), llm=llm)
    await call.start()
    call.speak(500)
    await until(lambda: len(call.pipeline.history) == 2, what="first reply")
    call.speak(500)
    await until(lambda: len(call.pipeline.history) == 4, what="second reply")
    assert [(m.role, m.content) for m in llm.requests[1]] == [
        ("user", "first question"),
        ("assistant", "Sure thing."),
        ("user", "thanks"),
    ]
    prompt = llm.system_prompts[0]
    assert prompt.startswith("You are a helpful test agent.")
    assert Marker.END_CALL.value in prompt
    assert Marker.VOICEMAIL.value in prompt
    await call.end()


async def test_dtmf_reaches_the_llm_as_text() -> None:
    llm = FakeLLM(replies=["You chose option one."])
    call = make_call(llm=llm)
    await call.start()
    for digit in "12#":
        call.leg.press(digit)
    await until(lambda: len(llm.requests) == 1, what="dtmf turn")
    assert llm.requests[0][-1].content == "(The caller pressed the keys: 1 2 #)"
    result = await call.end()
    assert result.transcript[0].dtmf


async def test_the_sink_receives_live_state_and_the_record() -> None:
    call = make_call(
        stt=FakeSTT(script=["hello"]),
        llm=FakeLLM(replies=["Hello! How can I help?"], first_token_s=0.05),
        tts=FakeTTS(first_audio_s=0.05),
    )
    await call.start()
    call.speak(500)
    await until(lambda: len(call.pipeline.history) == 2, what="reply")
    assert call.pipeline.state is CallState.LISTENING
    result = await call.end()
    sink = call.sink
    assert sink.result == result
    assert result.outcome is CallOutcome.CALLER_HUNG_UP
    assert [(e.role, e.text) for e in result.transcript] == [
        ("caller", "hello"),
        ("agent", "Hello! How can I help?"),
    ]
    assert sink.transcript == result.transcript
    (turn,) = result.turns
    assert turn.index == 1
    stamps = [
        turn.end_of_speech_ms,
        turn.stt_final_ms,
        turn.llm_first_token_ms,
        turn.first_sentence_ms,
        turn.tts_first_audio_ms,
        turn.first_frame_out_ms,
    ]
    assert all(s is not None for s in stamps)
    assert stamps == sorted(stamps)  # type: ignore[type-var]
    assert sink.turns == result.turns
    assert {u.kind for u in result.provider_usage} == set(ProviderKind)
    llm_usage = next(u for u in result.provider_usage if u.kind is ProviderKind.LLM)
    assert llm_usage.usage.requests == 1
    assert sink.live_states and sink.live_states[-1].history[-1].content.startswith("Hello")
    kinds = [e.kind for e in result.events]
    assert kinds[0] == "stt.opened" and kinds[-1] == "stt.closed"


async def test_malformed_media_closes_the_call_with_a_reason() -> None:
    call = make_call()
    await call.start()
    await until(lambda: call.pipeline.state is CallState.LISTENING)
    call.leg._deliver(b"\x01")  # odd byte count: not slin
    result = await call.result()
    assert result.outcome is CallOutcome.ERROR
    assert result.error_reason is not None and "malformed" in result.error_reason


async def test_turn_latencies_are_exported_to_prometheus() -> None:
    from pipeline.metrics import TURN_RESPONSE_SECONDS, TURN_STAGE_SECONDS

    def count(metric: object, **labels: str) -> float:
        for family in metric.collect():  # type: ignore[attr-defined]
            for sample in family.samples:
                if sample.name.endswith("_count") and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        return 0.0

    before = count(TURN_RESPONSE_SECONDS), count(TURN_STAGE_SECONDS, stage="llm_first_token")
    call = make_call(stt=FakeSTT(script=["hi"]), llm=FakeLLM(replies=["Hello."]))
    await call.start()
    call.speak(400)
    await until(lambda: len(call.pipeline.history) == 2, what="reply")
    await call.end()
    after = count(TURN_RESPONSE_SECONDS), count(TURN_STAGE_SECONDS, stage="llm_first_token")
    assert after == (before[0] + 1, before[1] + 1)


async def test_a_slow_final_is_replaced_by_the_partial_and_not_answered_twice() -> None:
    stt = FakeSTT(script=["what are your hours"], final_latency_s=0.8)  # grace is 0.3 s
    llm = FakeLLM(replies=["We open at nine."])
    call = make_call(stt=stt, llm=llm)
    await call.start()
    call.speak(600)
    await until(lambda: len(call.pipeline.history) == 2, what="reply")
    await until(lambda: any(e.kind == "late_final" for e in call.pipeline._events))
    await until(lambda: call.pipeline.state is CallState.LISTENING, what="reply played")
    result = await call.end()
    assert len(llm.requests) == 1
    partial = llm.requests[0][-1].content
    assert "what are your hours".startswith(partial)
    assert [e.text for e in result.transcript if e.role == "caller"] == [partial]


async def test_prepare_connects_providers_before_the_leg_is_up() -> None:
    call = make_call(stt=FakeSTT(script=["hi"]), llm=FakeLLM(replies=["Hello."]))
    await call.pipeline.prepare()
    assert (call.stt.connects, call.llm.connects, call.tts.connects) == (1, 1, 1)
    await call.start()
    call.speak(400)
    await until(lambda: len(call.pipeline.history) == 2, what="reply")
    await call.end()
    assert (call.stt.connects, call.llm.connects, call.tts.connects) == (1, 1, 1)
