"""What the browser tests find in the database before they start: an agent (made through the
API, as an admin would) and a finished call of that agent in the shape the call controller
writes (`ari_app.store_adapters.call_record`). The call is inserted through the store until the
suite can place one with a simulated caller."""

from __future__ import annotations

import uuid
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec

from ari_app.record_format import stored_turns, stored_usage
from pipeline.records import (
    CallEvent,
    CallOutcome,
    CallResult,
    ProviderUsageRecord,
    TranscriptEntry,
    TurnMetrics,
)
from providers.base import ProviderKind, ProviderUsage
from store.models import CallRecord
from store.repositories.calls import CallRepository

# Offline vendors: the agent is valid without any API key.
SEED_AGENT: dict[str, Any] = {
    "name": "Reception",
    "system_prompt": "You are the receptionist of Acme Dental. Book, move or cancel appointments.",
    "welcome_message": "Hello, Acme Dental, how can I help?",
    "language": "en-US",
    "stt": {"vendor": "pocketsphinx"},
    "llm": {"vendor": "scripted"},
    "tts": {"vendor": "piper"},
    "inbound_numbers": ["+4930123456"],
    # Analysed after each call by the scripted dialogue (offline): topics and slots, no verdict.
    "analysis": {
        "enabled": True,
        "success_criteria": "The caller's appointment is booked or moved.",
        "schema": {"type": "object", "properties": {"day": {"type": "string"}}},
    },
}

CALLER_LINES = (
    "Hi, I'd like to move my appointment to Thursday.",
    "Around ten in the morning, if possible.",
    "Yes, that's perfect, thank you.",
)
AGENT_LINES = (
    "Hello, Acme Dental, how can I help?",
    "Of course. What time on Thursday suits you?",
    "I have ten fifteen on Thursday. Shall I book it?",
    "Done: Thursday at ten fifteen. Goodbye!",
)


def create_agent(base_url: str, token: str, agent: dict[str, Any] = SEED_AGENT) -> str:
    response = httpx.post(
        f"{base_url}/api/v1/agents",
        json=agent,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["id"])


def login(base_url: str, email: str, password: str) -> str:
    response = httpx.post(
        f"{base_url}/api/v1/auth/login", json={"email": email, "password": password}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["token"])


def _turn(index: int, end_of_speech: int, stt: int, llm: int, tts: int) -> TurnMetrics:
    """One turn's timestamps (ms since answer): each stage takes the given ms."""
    stt_final = end_of_speech + stt
    first_token = stt_final + llm
    first_sentence = first_token + 40
    first_audio = first_sentence + tts
    return TurnMetrics(
        index=index,
        end_of_speech_ms=end_of_speech,
        stt_final_ms=stt_final,
        llm_first_token_ms=first_token,
        first_sentence_ms=first_sentence,
        tts_first_audio_ms=first_audio,
        first_frame_out_ms=first_audio + 20,
    )


# When the greeting's first audio left, in ms since the call's audio connected.
GREETING_OUT_MS = 400


def _conversation() -> tuple[list[TranscriptEntry], list[TurnMetrics], int]:
    """Transcript and turns of a three-turn booking call, and when it ended (ms)."""
    transcript = [TranscriptEntry("agent", AGENT_LINES[0], GREETING_OUT_MS)]
    # Turn 0 is the greeting, as the engine numbers it: no caller turn before it.
    turns = [
        TurnMetrics(
            index=0, tts_first_audio_ms=GREETING_OUT_MS - 20, first_frame_out_ms=GREETING_OUT_MS
        )
    ]
    at = 3_000
    for i, line in enumerate(CALLER_LINES):
        transcript.append(TranscriptEntry("caller", line, at))
        turn = _turn(i + 1, at + 1_800, stt=180 + 20 * i, llm=320 - 30 * i, tts=150)
        turns.append(turn)
        assert turn.first_frame_out_ms is not None
        transcript.append(TranscriptEntry("agent", AGENT_LINES[i + 1], turn.first_frame_out_ms))
        at = turn.first_frame_out_ms + 3_500
    return transcript, turns, at


def _usage(kind: ProviderKind, vendor: str, usage: ProviderUsage) -> ProviderUsageRecord:
    return ProviderUsageRecord(kind=kind, vendor=vendor, fallback=False, usage=usage)


# One second of stereo 8 kHz silence: enough for a player to load and show its length.
RECORDING_RATE = 8_000


def write_recording(recordings_dir: Path, call_id: uuid.UUID) -> str:
    """A WAV where the recording store (files under the recordings directory) would keep it;
    returns its location as the call record stores it."""
    location = f"{call_id}.wav"
    recordings_dir.mkdir(parents=True, exist_ok=True)
    with wave.open(str(recordings_dir / location), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(RECORDING_RATE)
        out.writeframes(bytes(4 * RECORDING_RATE))
    return location


def finished_call(tenant_id: uuid.UUID, agent_id: uuid.UUID, recordings_dir: Path) -> CallRecord:
    """The record the call controller writes for such a call (turns and usage in the stored
    format of `ari_app.record_format`)."""
    call_id = uuid.uuid4()
    transcript, turns, ended_ms = _conversation()
    result = CallResult(
        call_id=str(call_id),
        tenant_id=str(tenant_id),
        outcome=CallOutcome.AGENT_ENDED,
        duration_ms=ended_ms + 1_000,
        transcript=transcript,
        turns=turns,
        provider_usage=[
            _usage(ProviderKind.STT, "pocketsphinx", ProviderUsage(audio_seconds=14.2, requests=3)),
            _usage(
                ProviderKind.LLM,
                "scripted",
                ProviderUsage(input_tokens=412, output_tokens=58, requests=3),
            ),
            _usage(
                ProviderKind.TTS,
                "piper",
                ProviderUsage(audio_seconds=9.8, characters=161, requests=4),
            ),
        ],
        events=[
            CallEvent("stt.opened", 10, {"vendor": "pocketsphinx"}),
            CallEvent("end_call", ended_ms - 500, {"by": "llm"}),
            CallEvent("stt.closed", ended_ms, {"vendor": "pocketsphinx"}),
        ],
    )
    answered = datetime.now(UTC) - timedelta(minutes=5)
    return CallRecord(
        id=call_id,
        tenant_id=tenant_id,
        agent_id=agent_id,
        direction="inbound",
        transport="asterisk",
        from_number="+4915112345678",
        to_number="+4930123456",
        status="completed",
        outcome=result.outcome.value,
        started_at=answered - timedelta(seconds=2),
        answered_at=answered,
        ended_at=answered + timedelta(milliseconds=result.duration_ms),
        duration_ms=result.duration_ms,
        transcript=msgspec.to_builtins(result.transcript),
        turns=stored_turns(result),
        events=msgspec.to_builtins(result.events),
        provider_usage=stored_usage(result),
        variables={"hangup_cause": 16},
        recording_path=write_recording(recordings_dir, call_id),
    )


async def insert_call(
    pool: asyncpg.Pool, tenant_id: uuid.UUID, agent_id: uuid.UUID, recordings_dir: Path
) -> uuid.UUID:
    record = await CallRepository(pool).upsert(finished_call(tenant_id, agent_id, recordings_dir))
    return record.id
