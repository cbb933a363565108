"""Provider failures: retried once where safe, then the fallback, then a spoken apology;
logged with their context; the call is never dropped silently."""

from __future__ import annotations

from structlog.testing import capture_logs

from pipeline.agent import DEFAULT_APOLOGY
from pipeline.records import CallOutcome, CallResult
from pipeline.states import CallState
from providers.base import ProviderKind
from tests.fakes.fake_providers import FakeLLM, FakeSTT, FakeTTS, Fault, permanent, transient
from tests.pipeline.harness import Call, make_call, until


def failures(result: CallResult) -> list[dict[str, str]]:
    return [e.detail for e in result.events if e.kind == "provider.failed"]


async def one_turn(call: Call, *, prewarm: bool = True) -> None:
    await call.start(prewarm=prewarm)
    call.speak(500)
    await until(lambda: len(call.pipeline.history) >= 2, what="reply")
    await until(lambda: call.pipeline.state is CallState.LISTENING, what="reply played")


async def test_llm_error_before_any_token_is_retried_once() -> None:
    llm = FakeLLM(replies=["Second try works."], faults={0: Fault(transient())})
    call = make_call(stt=FakeSTT(script=["hi"]), llm=llm)
    with capture_logs() as logs:
        await one_turn(call)
    result = await call.end()
    assert len(llm.requests) == 2
    assert call.tts.requests == ["Second try works."]
    (failure,) = failures(result)
    assert failure["retried"] == "true" and failure["provider_kind"] == "llm"
    (log,) = [e for e in logs if e["event"] == "provider_failed"]
    assert log["call_id"] == call.pipeline.call.call_id
    assert log["tenant_id"] == "tenant-test"
    assert (log["provider_kind"], log["vendor"], log["retried"]) == ("llm", "fake", True)
    assert "injected transient failure" in log["error"]


async def test_llm_permanent_error_goes_to_the_fallback() -> None:
    llm = FakeLLM(fail_always=Fault(permanent()))
    backup = FakeLLM(replies=["The backup answers."], vendor="backup")
    call = make_call(stt=FakeSTT(script=["hi"]), llm=llm, llm_fallback=backup)
    await one_turn(call)
    result = await call.end()
    assert len(llm.requests) == 1  # not retried: the error said retrying cannot help
    assert call.tts.requests == ["The backup answers."]
    (failure,) = failures(result)
    assert (failure["retried"], failure["fallback"]) == ("false", "true")
    used = {(u.kind, u.vendor): u for u in result.provider_usage}
    assert used[(ProviderKind.LLM, "backup")].fallback
    assert used[(ProviderKind.LLM, "backup")].usage.requests == 1


async def test_every_llm_failing_is_answered_with_the_cached_apology() -> None:
    llm = FakeLLM(fail_always=Fault(transient()))
    backup = FakeLLM(fail_always=Fault(permanent()), vendor="backup")
    call = make_call(stt=FakeSTT(script=["hi"]), llm=llm, llm_fallback=backup)
    await one_turn(call)
    assert call.tts.requests == []  # the apology came from the cache
    assert call.leg.agent_ms > 0
    result = await call.end()
    assert result.transcript[-1].text == DEFAULT_APOLOGY
    assert result.turns[0].failed
    assert len(failures(result)) == 3  # primary, its retry, the fallback
    assert result.outcome is CallOutcome.CALLER_HUNG_UP


async def test_llm_timeout_counts_as_a_failure() -> None:
    llm = FakeLLM(faults={0: Fault(hang=True)}, replies=["After the timeout."])
    call = make_call(stt=FakeSTT(script=["hi"]), llm=llm)
    await one_turn(call)
    result = await call.end()
    (failure,) = failures(result)
    assert "ProviderTimeout" in failure["error"] and failure["retried"] == "true"
    assert call.tts.requests == ["After the timeout."]


async def test_llm_failing_mid_reply_is_not_retried_and_apologizes() -> None:
    llm = FakeLLM(
        replies=[["First sentence. ", "Second sen", "tence."]],
        faults={0: Fault(transient(), after_items=2)},
        chunk_chars=100,
    )
    call = make_call(stt=FakeSTT(script=["hi"]), llm=llm)
    await one_turn(call)
    result = await call.end()
    assert len(llm.requests) == 1  # the caller already heard part of it
    assert call.tts.requests == ["First sentence."]
    assert result.transcript[-1].text == f"First sentence. {DEFAULT_APOLOGY}"
    assert failures(result)[0]["retried"] == "false"


async def test_tts_error_is_retried_then_the_fallback_speaks() -> None:
    tts = FakeTTS(faults={0: Fault(transient()), 2: Fault(permanent())})
    backup = FakeTTS(vendor="backup")
    llm = FakeLLM(replies=["One sentence here. Another sentence there."])
    call = make_call(stt=FakeSTT(script=["hi"]), llm=llm, tts=tts, tts_fallback=backup)
    await one_turn(call)
    result = await call.end()
    assert tts.requests[:2] == ["One sentence here.", "One sentence here."]
    assert backup.requests == ["Another sentence there."]
    assert result.transcript[-1].text == "One sentence here. Another sentence there."
    retried = [f["retried"] for f in failures(result)]
    assert retried == ["true", "false"]


async def test_every_tts_failing_plays_the_cached_apology() -> None:
    tts = FakeTTS(fail_always=Fault(permanent()))
    call = make_call(stt=FakeSTT(script=["hi"]), llm=FakeLLM(replies=["Hello."]), tts=tts)
    await one_turn(call)
    result = await call.end()
    assert result.transcript[-1].text == DEFAULT_APOLOGY
    assert call.leg.agent_ms > 0


async def test_repeated_llm_failures_end_the_call_with_a_reason() -> None:
    llm = FakeLLM(fail_always=Fault(permanent()))
    call = make_call(stt=FakeSTT(script=["a", "b", "c"]), llm=llm)
    await call.start()
    await until(lambda: call.pipeline.state is CallState.LISTENING, what="no greeting")
    for _ in range(3):
        call.speak(400)
        await until(lambda: call.pipeline.state is not CallState.LISTENING, what="turn")
        await until(
            lambda: call.pipeline.state in (CallState.LISTENING, CallState.ENDED), what="apology"
        )
    result = await call.result()
    assert result.outcome is CallOutcome.ERROR
    assert result.error_reason == "language model failed repeatedly"
    assert [e.text for e in result.transcript if e.role == "agent"] == [DEFAULT_APOLOGY] * 3


async def test_stt_rejected_then_fallback_stt_hears_the_caller() -> None:
    stt = FakeSTT(connect_error=permanent("bad key"))
    backup = FakeSTT(script=["hello backup"], vendor="backup")
    llm = FakeLLM(replies=["Heard you."])
    call = make_call(stt=stt, stt_fallback=backup, llm=llm)
    await one_turn(call)
    result = await call.end()
    assert llm.requests[0][-1].content == "hello backup"
    kinds = [(e.kind, e.detail.get("vendor")) for e in result.events if e.kind.startswith("stt")]
    assert kinds == [
        ("stt.rejected", "fake"),
        ("stt.opened", "backup"),
        ("stt.closed", "backup"),
    ]


async def test_stt_unavailable_apologizes_and_ends_the_call() -> None:
    call = make_call(stt=FakeSTT(connect_error=transient("down")))
    await call.start()
    result = await call.result()
    assert result.outcome is CallOutcome.ERROR
    assert result.error_reason == "speech recognition unavailable"
    assert result.transcript[-1].text == DEFAULT_APOLOGY
    assert call.leg.agent_ms > 0
    assert [e.kind for e in result.events if e.kind.startswith("stt")] == ["stt.error"] * 2


async def test_stt_stream_error_switches_to_the_fallback() -> None:
    stt = FakeSTT()
    backup = FakeSTT(script=["still here"], vendor="backup")
    llm = FakeLLM(replies=["Welcome back."])
    call = make_call(stt=stt, stt_fallback=backup, llm=llm)
    await call.start()
    await until(lambda: stt.connects == 1 and call.pipeline.state is CallState.LISTENING)
    stt.break_stream(transient("connection reset"))
    await until(lambda: backup.connects == 1, what="fallback connected")
    call.speak(500)
    await until(lambda: len(llm.requests) == 1, what="turn on the fallback")
    result = await call.end()
    kinds = [e.kind for e in result.events if e.kind.startswith("stt")]
    assert kinds[:4] == ["stt.opened", "stt.error", "stt.closed", "stt.opened"]
    assert stt.closes >= 1


async def test_tts_timeout_mid_sentence_records_only_what_was_sent() -> None:
    # The first sentence's voice stalls after its first 200 ms of audio: the caller heard a
    # syllable of it, so the record must not claim the sentence, and must say why.
    tts = FakeTTS(faults={0: Fault(hang=True, after_items=1)})
    llm = FakeLLM(replies=["This first sentence is rather long and will be cut short. Bye now."])
    call = make_call(stt=FakeSTT(script=["hi"]), llm=llm, tts=tts)
    await one_turn(call)
    result = await call.end()
    assert tts.requests[0].startswith("This first sentence")
    assert result.transcript[-1].text == "Bye now."
    assert call.pipeline.history[-1].content == "Bye now."
    (failure,) = failures(result)
    assert "ProviderTimeout" in failure["error"]
    assert result.error_reason is not None
    assert result.error_reason.startswith("text-to-speech failed 1 time(s)")
