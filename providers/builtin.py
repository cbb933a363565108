"""Import every built-in vendor module so each registers itself in `providers.registry`.

A new vendor module adds its dotted name to `VENDOR_MODULES`; a vendor that exists only under
a condition (e.g. the load-test vendor) registers with `enabled=env_flag("...")` in its module.
"""

from __future__ import annotations

import importlib

VENDOR_MODULES: tuple[str, ...] = (
    "providers.stt.pocketsphinx",
    "providers.stt.faster_whisper",
    "providers.stt.openai",
    "providers.stt.qwen",
    "providers.stt.elevenlabs",
    "providers.stt.deepgram",
    "providers.stt.fish_audio",
    "providers.stt.whisper",
    "providers.tts.piper",
    "providers.llm.scripted",
    "providers.llm.openai_compatible",
    "providers.llm.openai",
    "providers.llm.claude",
    "providers.llm.gemini",
    "providers.llm.kimi",
    "providers.tts.deepgram",
    "providers.tts.openai",
    "providers.tts.fish_audio",
    "providers.tts.resemble",
    "providers.tts.elevenlabs",
    "providers.tts.qwen",
    "providers.loadtest",
)


def load_all() -> None:
    """Register all built-in vendors (idempotent; heavy model loading waits until `connect`)."""
    for name in VENDOR_MODULES:
        importlib.import_module(name)
