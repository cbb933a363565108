"""The local models every worker loads, by the name providers open sessions with.

A new local model adds its `Handler` here (as an import path, so the serving process never
imports the model's libraries just to name it).
"""

from __future__ import annotations

HANDLERS: dict[str, str] = {
    "pocketsphinx": "providers.stt.pocketsphinx_worker:PocketsphinxHandler",
    "faster-whisper": "providers.stt.faster_whisper_worker:WhisperHandler",
    "piper": "providers.tts.piper_worker:PiperHandler",
    "silero": "providers.vad.silero_worker:SileroHandler",
}
