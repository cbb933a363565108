"""Piper in a local worker: voices loaded once per worker, one sentence's audio per request.

Synthesis is pulled a sentence at a time (`speak` starts a text and returns its first
sentence, `more` the next), so a provider that stops listening (barge-in) leaves no
sentences queued in the worker ahead of other calls' requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from providers.local.handler import Handler, Item, Session

# One inference thread per worker: the pool already runs one worker per core, and ONNX
# Runtime's default (a thread per core in every worker) would have them fight for the cores.
INTRA_OP_THREADS = 1

_voices: dict[Path, Any] = {}


def load_voice(model_path: Path) -> Any:
    """The `PiperVoice` for an .onnx model, loaded on first use and kept for the process."""
    voice = _voices.get(model_path)
    if voice is None:
        import onnxruntime  # type: ignore[import-untyped]
        from piper import PiperConfig, PiperVoice
        from piper.voice import ESPEAK_DATA_DIR  # type: ignore[attr-defined]

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = INTRA_OP_THREADS
        config = json.loads(Path(f"{model_path}.json").read_text(encoding="utf-8"))
        voice = PiperVoice(
            config=PiperConfig.from_dict(config),
            session=onnxruntime.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            ),
            espeak_data_dir=Path(ESPEAK_DATA_DIR),
        )
        _voices[model_path] = voice
    return voice


class PiperHandler(Handler):
    """Opens voice sessions; options are `model_path` and `PiperOptions`' synthesis fields."""

    def load(self) -> None:
        from providers.tts.piper import _VOICE_PATHS, DEFAULT_VOICE

        load_voice(_VOICE_PATHS[DEFAULT_VOICE])

    def open(self, options: dict[str, Any]) -> Session:
        from piper import SynthesisConfig

        config = SynthesisConfig(
            speaker_id=options.get("speaker_id"),
            length_scale=float(options["length_scale"]),
            volume=float(options["volume"]),
        )
        return PiperSession(load_voice(Path(options["model_path"])), config)


class PiperSession(Session):
    """One provider's voice. Ops: `speak` (args: text) and `more`; item: PCM16 of a sentence
    at the voice's rate, none when the text is spoken."""

    def __init__(self, voice: Any, config: Any) -> None:
        self._voice = voice
        self._config = config
        self._sentences: Iterator[Any] = iter(())

    def handle(self, op: str, data: bytes, args: dict[str, Any]) -> Iterator[Item]:
        if op == "speak":
            self._sentences = iter(self._voice.synthesize(str(args["text"]), self._config))
        elif op != "more":
            raise ValueError(f"unknown operation {op!r}")
        chunk = next(self._sentences, None)
        if chunk is not None:
            yield Item(data=bytes(chunk.audio_int16_bytes))
