"""Fallback chains and per-provider deadlines, with small scripted providers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from providers.base import (
    AudioChunk,
    LLMEvent,
    LLMProvider,
    Message,
    ProviderConfig,
    ProviderError,
    ProviderKind,
    ProviderTimeout,
    STTProvider,
    TextDelta,
    ToolCall,
    ToolSpec,
    Transcript,
    TTSProvider,
)
from providers.builtin import load_all
from providers.fallback import Failover, FallbackLLM, FallbackSTT, FallbackTTS, build_chain
from providers.llm.scripted import ScriptedLLM
from providers.registry import UnknownVendor
from providers.timeouts import TimedLLM, TimedSTT, TimedTTS, Timeouts, with_timeouts

HISTORY = [Message("user", "hi")]

load_all()


class ScriptLLM(LLMProvider):
    """Says `words`, after `delay`; fails with `error` after `fail_after` words."""

    def __init__(
        self,
        vendor: str,
        words: Sequence[str] = ("ok",),
        *,
        error: ProviderError | None = None,
        fail_after: int = 0,
        delay: float = 0.0,
        connect_delay: float = 0.0,
    ) -> None:
        super().__init__(ProviderConfig(vendor=vendor))
        self.vendor = vendor
        self.words, self.error, self.fail_after = list(words), error, fail_after
        self.delay, self.connect_delay = delay, connect_delay
        self.calls = 0
        self.closed_streams = 0

    async def connect(self) -> None:
        await asyncio.sleep(self.connect_delay)

    async def stream(self, messages: Sequence[Message], system_prompt: str) -> AsyncIterator[str]:
        self.calls += 1
        try:
            await asyncio.sleep(self.delay)
            for index, word in enumerate(self.words):
                if self.error is not None and index == self.fail_after:
                    raise self.error
                yield word
            if self.error is not None and self.fail_after >= len(self.words):
                raise self.error
        finally:
            self.closed_streams += 1


class ScriptTTS(TTSProvider):
    def __init__(self, vendor: str, *, error: ProviderError | None = None) -> None:
        super().__init__(ProviderConfig(vendor=vendor))
        self.vendor, self.error = vendor, error

    async def synthesize(self, text: str) -> AsyncIterator[AudioChunk]:
        if self.error is not None:
            raise self.error
        yield AudioChunk(text.encode(), 8000)


class ScriptSTT(STTProvider):
    """Echoes each `send_audio` payload as a final transcript; can be told to break."""

    def __init__(self, vendor: str, *, refuse_connect: bool = False) -> None:
        super().__init__(ProviderConfig(vendor=vendor))
        self.vendor, self.refuse_connect = vendor, refuse_connect
        self.queue: asyncio.Queue[Transcript | ProviderError | None] = asyncio.Queue()
        self.broken = False
        self.closed = False

    async def connect(self) -> None:
        if self.refuse_connect:
            raise ProviderError(f"{self.vendor}: refused", retryable=False, status=401)

    async def close(self) -> None:
        self.closed = True
        self.queue.put_nowait(None)

    async def send_audio(self, pcm: bytes) -> None:
        if self.broken:
            raise ProviderError(f"{self.vendor}: socket closed", retryable=True)
        self.queue.put_nowait(Transcript(f"{self.vendor}:{pcm.decode()}", is_final=True))

    async def end_utterance(self) -> None:
        if self.broken:
            raise ProviderError(f"{self.vendor}: socket closed", retryable=True)

    async def transcripts(self) -> AsyncIterator[Transcript]:
        while (item := await self.queue.get()) is not None:
            if isinstance(item, ProviderError):
                raise item
            yield item


async def collect(stream: AsyncIterator[str]) -> list[str]:
    return [item async for item in stream]


async def test_llm_falls_back_before_output_and_records_who_served() -> None:
    events: list[Failover] = []
    primary = ScriptLLM("a", error=ProviderError("a: HTTP 503", retryable=True, status=503))
    secondary = ScriptLLM("b", ["hello", " there"])
    chain = FallbackLLM([primary, secondary], on_failover=events.append)
    assert await collect(chain.stream(HISTORY, "")) == ["hello", " there"]
    assert chain.served_by == "b"
    assert events == [Failover(ProviderKind.LLM, "a", "b", "a: HTTP 503", retryable=True)]
    # A transient failure does not retire the primary: the next reply tries it first.
    primary.error = None
    assert await collect(chain.stream(HISTORY, "")) == ["ok"]
    assert chain.served_by == "a"


async def test_llm_refused_key_retires_the_member_for_the_call() -> None:
    refused = ProviderError("a: credential refused", retryable=False, status=401)
    primary, secondary = ScriptLLM("a", error=refused), ScriptLLM("b")
    chain = FallbackLLM([primary, secondary])
    await collect(chain.stream(HISTORY, ""))
    await collect(chain.stream(HISTORY, ""))
    assert (primary.calls, secondary.calls) == (1, 2)


async def test_llm_failure_after_output_propagates() -> None:
    error = ProviderError("a: stream broken", retryable=True)
    primary = ScriptLLM("a", ["one", "two"], error=error, fail_after=1)
    secondary = ScriptLLM("b")
    chain = FallbackLLM([primary, secondary])
    received: list[str] = []

    async def drain() -> None:
        async for word in chain.stream(HISTORY, ""):
            received.append(word)

    with pytest.raises(ProviderError, match="stream broken"):
        await drain()
    assert received == ["one"]
    assert secondary.calls == 0


async def test_llm_all_failing_raises_the_last_error() -> None:
    chain = FallbackLLM(
        [
            ScriptLLM("a", error=ProviderError("a down", retryable=True)),
            ScriptLLM("b", error=ProviderError("b down", retryable=True)),
        ]
    )
    with pytest.raises(ProviderError, match="b down"):
        await collect(chain.stream(HISTORY, ""))


async def test_abandoned_chain_stream_closes_the_member_stream() -> None:
    member = ScriptLLM("a", ["one", "two", "three"])
    stream = FallbackLLM([member]).stream(HISTORY, "")
    assert await anext(stream) == "one"
    await stream.aclose()  # type: ignore[attr-defined]
    assert member.closed_streams == 1


async def test_timeout_then_fallback() -> None:
    slow = with_timeouts(ScriptLLM("slow", delay=5.0), Timeouts(first_result=0.1))
    fast = with_timeouts(ScriptLLM("fast", ["hi"]), Timeouts(first_result=0.1))
    assert isinstance(slow, TimedLLM)
    events: list[Failover] = []
    chain = FallbackLLM([slow, fast], on_failover=events.append)
    async with asyncio.timeout(2):
        assert await collect(chain.stream(HISTORY, "")) == ["hi"]
    assert chain.served_by == "fast"
    assert "no result within 0.1 s" in events[0].error


async def test_first_result_deadline_does_not_limit_later_results() -> None:
    class Slowing(ScriptLLM):
        async def stream(
            self, messages: Sequence[Message], system_prompt: str
        ) -> AsyncIterator[str]:
            yield "first"
            await asyncio.sleep(0.3)
            yield "second"

    timed = with_timeouts(Slowing("s"), Timeouts(first_result=0.1))
    assert await collect(timed.stream(HISTORY, "")) == ["first", "second"]


async def test_connect_deadline() -> None:
    timed = with_timeouts(ScriptLLM("s", connect_delay=5.0), Timeouts(connect=0.1))
    with pytest.raises(ProviderTimeout, match=r"llm s: no connection within 0\.1 s"):
        await timed.connect()


async def test_timed_wrappers_share_vendor_and_usage() -> None:
    inner = ScriptTTS("t")
    timed = with_timeouts(inner, Timeouts())
    assert isinstance(timed, TimedTTS)
    assert timed.vendor == "t" and timed.usage is inner.usage
    assert [c.pcm async for c in timed.synthesize("x")] == [b"x"]
    assert isinstance(with_timeouts(ScriptSTT("s"), Timeouts()), TimedSTT)


async def test_tts_fallback_per_sentence() -> None:
    chain = FallbackTTS([ScriptTTS("a", error=ProviderTimeout("a: slow")), ScriptTTS("b")])
    assert [c.pcm async for c in chain.synthesize("hello")] == [b"hello"]
    assert chain.served_by == "b"


async def test_stt_connects_the_first_that_works() -> None:
    events: list[Failover] = []
    chain = FallbackSTT([ScriptSTT("a", refuse_connect=True), ScriptSTT("b")], events.append)
    await chain.connect()
    assert chain.served_by == "b"
    assert events[0].failed_vendor == "a" and not events[0].retryable


async def test_stt_switches_mid_call() -> None:
    primary, secondary = ScriptSTT("a"), ScriptSTT("b")
    events: list[Failover] = []
    chain = FallbackSTT([primary, secondary], events.append)
    await chain.connect()
    results = chain.transcripts()
    await chain.send_audio(b"1")
    assert (await anext(results)).text == "a:1"
    primary.broken = True
    await chain.send_audio(b"2")
    async with asyncio.timeout(1):
        assert (await anext(results)).text == "b:2"
    assert chain.served_by == "b" and primary.closed
    assert [e.next_vendor for e in events] == ["b"]
    await chain.close()
    assert [t async for t in results] == []


async def test_stt_error_on_the_transcript_stream_switches_too() -> None:
    primary, secondary = ScriptSTT("a"), ScriptSTT("b")
    chain = FallbackSTT([primary, secondary])
    await chain.connect()
    results = chain.transcripts()
    primary.queue.put_nowait(ProviderError("a: server closed", retryable=True))
    await chain.send_audio(b"3")  # reaches a, whose stream then fails
    reading = asyncio.ensure_future(anext(results))
    await asyncio.sleep(0.05)
    await chain.send_audio(b"4")
    async with asyncio.timeout(1):
        assert (await reading).text == "b:4"
    assert chain.active is secondary
    await chain.close()


async def test_build_chain_from_agent_configs() -> None:
    configs = [
        ProviderConfig(vendor="openai_compatible", options={"base_url": "http://127.0.0.1:9/v1"}),
        ProviderConfig(vendor="scripted"),
    ]
    chain = build_chain("llm", configs, timeouts=Timeouts(first_result=2.0))
    assert isinstance(chain, FallbackLLM)
    reply = "".join(await collect(chain.stream(HISTORY, "")))
    assert reply == "Hello! How can I help you today?"
    assert chain.served_by == "scripted"
    await chain.close()
    single = build_chain("llm", configs[1:])
    assert isinstance(single, ScriptedLLM)


def test_build_chain_validates_every_config_first() -> None:
    configs = [ProviderConfig(vendor="scripted"), ProviderConfig(vendor="nope")]
    with pytest.raises(UnknownVendor):
        build_chain("llm", configs)


class ToolLLM(ScriptLLM):
    """Answers every request with one call of the first tool it is offered."""

    def __init__(self, vendor: str) -> None:
        super().__init__(vendor)
        self.offered: list[list[str]] = []

    async def generate(
        self, messages: Sequence[Message], system_prompt: str, tools: Sequence[ToolSpec] = ()
    ) -> AsyncIterator[LLMEvent]:
        self.offered.append([tool.name for tool in tools])
        yield TextDelta("Checking. ")
        yield ToolCall(id="c1", name=tools[0].name, arguments="{}")


async def test_wrappers_keep_the_tools_offered_and_the_calls_made() -> None:
    spec = ToolSpec("free_slots", "Free slots.", {"type": "object", "properties": {}})
    broken = ScriptLLM("down", error=ProviderError("down", retryable=False))
    tooled = ToolLLM("up")
    chain = FallbackLLM([with_timeouts(broken, Timeouts()), with_timeouts(tooled, Timeouts())])
    events = [event async for event in chain.generate(HISTORY, "", [spec])]
    assert events == [TextDelta("Checking. "), ToolCall(id="c1", name="free_slots", arguments="{}")]
    assert tooled.offered == [["free_slots"]]
