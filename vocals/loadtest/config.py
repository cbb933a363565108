"""What a load test runs: steps of concurrent calls, the transport, the providers (the
load-test ones with their latencies, or the offline defaults)."""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec

from providers.loadtest import DEFAULT_REPLY

Transport = Literal["audiosocket", "rtp", "twilio", "web"]
BargeIn = Literal["very_low", "low", "medium", "high", "very_high"]
# "loadtest": fixed-latency providers that cost no CPU (the server's own capacity);
# "offline": the offline defaults (Whisper tiny.en, scripted, Piper), the models' cost included.
Providers = Literal["loadtest", "offline"]

# Bounds that keep every run finite whatever the flags say.
MAX_CALLS: Final = 5000
MAX_STEP_SECONDS: Final = 600
MAX_RAMP_SECONDS: Final = 120


class ProviderLatencies(msgspec.Struct, frozen=True, kw_only=True):
    """The load-test providers' settings given to the agent (see providers/loadtest.py)."""

    stt_delay_ms: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 300
    first_token_ms: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 200
    token_interval_ms: Annotated[int, msgspec.Meta(ge=0, le=1_000)] = 20
    ttfb_ms: Annotated[int, msgspec.Meta(ge=0, le=10_000)] = 100
    seconds_per_sentence: Annotated[float, msgspec.Meta(gt=0, le=30)] = 1.5
    reply: str = DEFAULT_REPLY

    def first_sentence_ms(self) -> int:
        """From the LLM request to the first sentence being certain: the splitter knows a
        sentence ended once the token after its terminator arrives (or the reply ends)."""
        words = self.reply.split()
        first_end = next(
            (i for i, w in enumerate(words) if w.rstrip("\"')").endswith((".", "!", "?"))),
            len(words) - 1,
        )
        tokens_waited = min(first_end + 1, len(words) - 1)
        return self.first_token_ms + tokens_waited * self.token_interval_ms

    def reply_sentences(self) -> int:
        words = self.reply.split()
        return max(1, sum(1 for w in words if w.rstrip("\"')").endswith((".", "!", "?"))))

    def configured_response_ms(self, end_of_speech_ms: int) -> int:
        """What the caller would wait with a server that adds nothing: end-of-speech silence,
        STT final, LLM up to the first sentence, TTS first audio."""
        return end_of_speech_ms + self.stt_delay_ms + self.first_sentence_ms() + self.ttfb_ms


class LoadTestConfig(msgspec.Struct, frozen=True, kw_only=True):
    """One `vocals loadtest` run."""

    steps: tuple[int, ...] = (5,)
    seconds: Annotated[float, msgspec.Meta(gt=0, le=MAX_STEP_SECONDS)] = 20.0
    ramp_seconds: Annotated[float, msgspec.Meta(ge=0, le=MAX_RAMP_SECONDS)] = 5.0
    transport: Transport = "audiosocket"
    end_of_speech_ms: Annotated[int, msgspec.Meta(ge=100, le=5000)] = 500
    # Every Nth caller turn interrupts the agent's reply (0: never).
    barge_in_every: Annotated[int, msgspec.Meta(ge=0)] = 3
    # The agent's barge-in sensitivity. "high" stops the agent at the VAD's speech onset, so
    # the barge-in time measures the server; "medium" first waits 700 ms of speech (or a
    # partial transcript, which the load-test STT does not give).
    barge_in: BargeIn = "high"
    latencies: ProviderLatencies = msgspec.field(default_factory=ProviderLatencies)
    did: str = "+15550199000"
    providers: Providers = "loadtest"

    def configured_response_ms(self) -> int:
        """What a caller would wait with a server that adds nothing: with the offline models
        that is the end-of-speech silence alone, their own time counts as the server's."""
        if self.providers == "offline":
            return self.end_of_speech_ms
        return self.latencies.configured_response_ms(self.end_of_speech_ms)

    def __post_init__(self) -> None:
        if not self.steps or any(not 1 <= n <= MAX_CALLS for n in self.steps):
            raise ValueError(f"every step's call count must be between 1 and {MAX_CALLS}")
