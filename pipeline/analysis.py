"""Post-call analysis: a summary of the conversation, whether it met the agent's success
criteria, and the structured data the agent's JSON schema asks for, by a language model that
reads the finished transcript.

The model answers with one JSON object; what does not parse is a failed attempt (the caller
may try again), and data that does not match the schema is kept out of the result and named
as an error beside the rest, which still counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final, Literal

import jsonschema_rs
import msgspec

from providers.base import LLMProvider, Message

# What a transcript line is called in the prompt, by the stored role.
_SPEAKERS: Final = {"caller": "Caller", "agent": "Agent"}
# A summary longer than this is cut: it is shown in lists and sent in webhooks.
MAX_SUMMARY_CHARS: Final = 2_000
MAX_REASON_CHARS: Final = 1_000
# A schema error names where the data went wrong; a few of them say enough.
MAX_DATA_ERRORS: Final = 5

SYSTEM_PROMPT: Final = (
    "You analyse a finished phone call between a voice agent and a caller. Reply with one "
    "JSON object and nothing else, with these keys: "
    '"summary": two or three sentences saying what the call was about and how it ended; '
    '"success": true or false, whether the call met the success criteria given, or null when '
    "none are given; "
    '"success_reason": one sentence saying why; '
    '"data": an object holding the information the JSON schema given asks for, taken only '
    "from what was said in the call (leave out what was not said), or null when no schema is "
    "given."
)


class AnalysisOutputError(Exception):
    """The model's answer is not the JSON object asked for: another attempt may do better."""


class AnalysisRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A finished call's transcript (as stored: `role`, `text`) and what the agent asks of it."""

    transcript: list[dict[str, Any]]
    success_criteria: str = ""
    schema: dict[str, Any] | None = None


class Analysis(msgspec.Struct, kw_only=True):
    """What an analysis found. `unavailable` names the parts the analysing model cannot do
    (the offline scripted dialogue cannot judge criteria), with `unavailable_reason`."""

    status: Literal["done", "failed"]
    vendor: str
    model: str | None = None
    summary: str | None = None
    success: bool | None = None
    success_reason: str | None = None
    data: dict[str, Any] | None = None
    # Why `data` is empty although the agent has a schema (the model's answer broke it).
    data_error: str | None = None
    unavailable: list[str] = msgspec.field(default_factory=list)
    unavailable_reason: str | None = None
    # Why the analysis failed (status "failed").
    error: str | None = None
    attempts: int = 1


class _Answer(msgspec.Struct, kw_only=True):
    summary: str
    success: bool | None = None
    success_reason: str | None = None
    data: Any = None


def transcript_text(transcript: Sequence[dict[str, Any]]) -> str:
    """`Caller: …` / `Agent: …`, one line per utterance."""
    lines = []
    for entry in transcript:
        text = str(entry.get("text", "")).strip()
        if text:
            lines.append(f"{_SPEAKERS.get(str(entry.get('role')), 'Unknown')}: {text}")
    return "\n".join(lines)


def prompt(request: AnalysisRequest) -> str:
    """The user message: the transcript, the criteria and the schema."""
    criteria = request.success_criteria.strip() or "(none given)"
    schema = "(none given)" if request.schema is None else json.dumps(request.schema, indent=1)
    return (
        f"Transcript:\n{transcript_text(request.transcript)}\n\n"
        f"Success criteria:\n{criteria}\n\n"
        f"JSON schema of the data to extract:\n{schema}"
    )


async def analyze(llm: LLMProvider, request: AnalysisRequest) -> Analysis:
    """Ask `llm` (connected) for the analysis. Raises `AnalysisOutputError` when its answer is
    not the object asked for, and the provider's own errors as they are."""
    pieces = [
        piece async for piece in llm.stream([Message("user", prompt(request))], SYSTEM_PROMPT)
    ]
    answer = _answer("".join(pieces))
    result = Analysis(
        status="done",
        vendor=llm.vendor,
        model=llm.config.model,
        summary=answer.summary.strip()[:MAX_SUMMARY_CHARS],
    )
    if request.success_criteria.strip():
        result.success = answer.success
        result.success_reason = (answer.success_reason or "").strip()[:MAX_REASON_CHARS] or None
    if request.schema is not None:
        result.data, result.data_error = checked_data(request.schema, answer.data)
    return result


def checked_data(schema: dict[str, Any], data: object) -> tuple[dict[str, Any] | None, str | None]:
    """`data` when it is an object that matches `schema`, else None and why not."""
    if not isinstance(data, dict):
        return None, "the model gave no data object"
    validator = jsonschema_rs.validator_for(schema, offline=True)
    errors = [
        f"{'/'.join(str(p) for p in e.instance_path) or '(root)'}: {e.message}"
        for _, e in zip(range(MAX_DATA_ERRORS), validator.iter_errors(data), strict=False)
    ]
    if errors:
        return None, "the data did not match the schema: " + "; ".join(errors)
    return data, None


def _answer(text: str) -> _Answer:
    """The JSON object in the model's reply (models wrap it in code fences or words)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise AnalysisOutputError("the model's answer held no JSON object")
    try:
        return msgspec.json.decode(text[start : end + 1], type=_Answer)
    except msgspec.DecodeError as exc:
        raise AnalysisOutputError(f"the model's answer is not the object asked for: {exc}") from exc
