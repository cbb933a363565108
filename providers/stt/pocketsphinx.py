"""Offline speech-to-text with PocketSphinx 5 and the en-US model its wheel carries.

Decoding runs in the local worker pool (`providers.stt.worker_stt`): each call's recognizer
holds a decoder in a worker that decodes as audio arrives, giving partial hypotheses while
the caller speaks (see `providers.stt.pocketsphinx_worker`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import msgspec

from providers.base import ProviderConfig, ProviderKind
from providers.registry import VendorInfo, parse_options, register
from providers.stt.worker_stt import SAMPLE_RATE, WorkerSTT

# Initial cepstral means for telephone speech. A cold decoder starts from the model's
# "40,3,-1,0,..." (wideband microphone speech) and misrecognizes the first seconds of a call.
# Learned by `python -m bench.providers_pocketsphinx_cmn`: piper speech (joe voice) at -10 dB,
# resampled to 8 kHz, µ-law encoded and decoded, upsampled to 16 kHz with media's resampler,
# streamed through one decoder in 20 ms chunks for ten utterances; these are the live CMN
# values it converged to (c0 tracks loudness: about 49 at full scale, 31 at -20 dB; the
# others barely move). Piper's synthesis is randomized, so a rerun differs in the decimals.
TELEPHONE_CMNINIT = (
    "39.44,28.46,-33.23,34.02,-15.56,-3.75,10.05,-27.75,15.80,-4.80,1.43,12.55,-16.76"
)

# Re-decoding the utterance in one pass (cepstral mean over the utterance itself) was meant
# for a call's first utterance, before the live mean adapts. With the telephone cmninit it
# no longer pays: `python -m bench.offline_wer` gave 25.6/29.0 % WER with it against
# 23.6/31.9 % without (test set/demo caller; 18.8 against 17.4 % on the demo with the
# agent's model), within Piper's run-to-run variation, while it made the first final wait
# 0.84-1.03 s instead of 0.08-0.2 s (`python -m bench.local_loop_lag --calls 1`). Off by
# default; an agent may still ask for it.
REDECODE_FIRST = 0

# The second search runs when the caller stops speaking, so the reply waits for it: 80 ms of
# an utterance's final (median, demo caller's sentences; 5 ms without), and 27 % of the
# recognizer's CPU (`python -m bench.offline_wer`: 0.074 against 0.054 s per s of audio with
# the agent's model), for 1-2 points of word error rate (34.1/14.5 % against 36.0/15.9 %,
# test set/demo caller, the same audio). Capacity and reply time win; an agent may turn it on.
SECOND_PASS = False

# The search follows at most this many sounds (HMMs) per 10 ms frame, the likeliest, where
# PocketSphinx's own default is 30 000: about half the CPU per second of caller audio (0.09-0.16
# s against 0.17-0.32), and so twice the calls a core carries, for 6 more words wrong of the
# unexpected sentences' 258 and none of the demo caller's 36 (`python -m bench.offline_wer`).
# 3000 cost a little less but lost "opening hours please" on a browser caller that 5000 hears.
MAX_HMMS = 5000

# The agent's phrases' share of its blended language model (the general model, all of it,
# has the rest). `python -m bench.offline_wer` (its audio the same on every run): 0.5 gave
# 19.4/13.5 % WER (unexpected speech/demo caller), 0.7 21.3/10.8 %, 0.3 20.2/23.0 %; the
# general model alone 23.6/32.4 %, and the earlier blend keeping 20 000 of its words and no
# triples 31.4/20.3 %.
PHRASE_WEIGHT = 0.5

# How often `prepare()` asks whether the agent's model is built (a build takes seconds).
PREPARE_POLL_S = 0.1

_NUMBER = r"-?\d+(\.\d+)?"
_CMNINIT_PATTERN = rf"^$|^{_NUMBER}(,{_NUMBER}){{12}}$"


class PocketsphinxOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Per-agent settings of the PocketSphinx recognizer."""

    # Re-decode the final of the call's first N utterances (see REDECODE_FIRST); 0: never.
    redecode_first: Annotated[int, msgspec.Meta(ge=0)] = REDECODE_FIRST
    # Emit partial hypotheses while the caller speaks.
    partials: bool = True
    # 13 comma-separated initial cepstral means; empty: the telephone values above.
    cmninit: Annotated[str, msgspec.Meta(pattern=_CMNINIT_PATTERN)] = ""
    # Decoder beam; wider is slower and a little more accurate.
    beam: Annotated[float, msgspec.Meta(gt=0, lt=1)] = 1e-48
    # Most sounds the search follows per 10 ms frame (see MAX_HMMS).
    max_hmms: Annotated[int, msgspec.Meta(ge=500, le=100_000)] = MAX_HMMS
    # PocketSphinx's second (flat lexicon) search over each utterance when it ends; see
    # SECOND_PASS for what it costs.
    second_pass: bool = SECOND_PASS
    # What this agent's callers are expected to say (sentences, keyterms, names): the
    # recognizer blends a language model of them with its general one (empty: the general
    # model alone). The agent loader fills it from the agent's flow and prompt.
    phrases: list[str] = msgspec.field(default_factory=list)
    # The phrases' share of the blended model; the general model keeps the rest, so a caller
    # who says what the agent does not expect is still heard (see PHRASE_WEIGHT).
    phrase_weight: Annotated[float, msgspec.Meta(gt=0, lt=1)] = PHRASE_WEIGHT


@register(
    VendorInfo(
        kind=ProviderKind.STT,
        vendor="pocketsphinx",
        display_name="PocketSphinx (offline)",
        description="CMU PocketSphinx with its bundled US English model; no account, no network.",
        models=["en-us"],
        default_model="en-us",
        offline=True,
        sample_rate=SAMPLE_RATE,
        # 88-104 % word error rate on the telephone turn set (bench.turn_stt): its wrong words
        # look like finished sentences, and `smart` answering them early cut callers off.
        ends_turns_early=False,
    ),
    options=PocketsphinxOptions,
)
class PocketsphinxSTT(WorkerSTT):
    """Streaming recognition of one call's caller audio in a local worker."""

    vendor = "pocketsphinx"
    handler = "pocketsphinx"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        self.options = parse_options(config, PocketsphinxOptions)

    def session_options(self) -> dict[str, Any]:
        options: dict[str, Any] = msgspec.to_builtins(self.options)
        options["cmninit"] = self.options.cmninit or TELEPHONE_CMNINIT
        return options

    async def prepare(self) -> None:
        """Until the recognizer searches the agent's own language model. The first use of an
        agent's phrases builds it (seconds of CPU, on a thread of the worker); calls never wait
        for that, they search the general model meanwhile. Warm-up and measurements do."""
        assert self.session is not None, "connect() first"
        # Polled: the build's end happens in another process, no event of ours marks it.
        while not (await self.session.call("model"))[0].text:  # noqa: ASYNC110
            await asyncio.sleep(PREPARE_POLL_S)
