"""Post-call analysis by the offline scripted dialogue: only what its flow really knows.

The flow recognises intents and captures slots by its patterns, so it can say which topics
the caller raised, in order, and give the captured slots as data; it cannot read free-text
success criteria, so the success evaluation is marked unavailable with the reason.
"""

from __future__ import annotations

from typing import Final

from pipeline.analysis import Analysis, AnalysisRequest, checked_data
from providers.llm.scripted import ScriptedLLM

UNAVAILABLE_SUCCESS: Final = (
    "the offline scripted dialogue cannot judge success criteria: choose a language model "
    "for this agent's analysis to evaluate them"
)


def scripted_analysis(llm: ScriptedLLM, request: AnalysisRequest) -> Analysis:
    """What the flow understood of each caller utterance, as a summary and slots."""
    topics: list[str] = []
    slots: dict[str, str] = {}
    caller_turns = not_understood = 0
    for entry in request.transcript:
        text = str(entry.get("text", "")).strip()
        if entry.get("role") != "caller" or not text:
            continue
        caller_turns += 1
        intent, captured = llm.understand(text)
        if intent is None:
            not_understood += 1
        elif intent not in topics:
            topics.append(intent)
        slots.update(captured)
    agent_turns = sum(1 for e in request.transcript if e.get("role") == "agent")
    summary = f"{caller_turns} caller and {agent_turns} agent utterances. "
    summary += (
        f"Topics the scripted dialogue recognised, in order: {', '.join(topics)}."
        if topics
        else "The scripted dialogue recognised no topic."
    )
    if not_understood:
        summary += f" Utterances it did not understand: {not_understood}."
    if slots:
        summary += " Details given: " + ", ".join(f"{k} {v}" for k, v in sorted(slots.items()))
        summary += "."
    result = Analysis(status="done", vendor=llm.vendor, model=llm.config.model, summary=summary)
    if request.success_criteria.strip():
        result.unavailable.append("success")
        result.unavailable_reason = UNAVAILABLE_SUCCESS
    if request.schema is not None:
        properties = request.schema.get("properties")
        names = set(properties) if isinstance(properties, dict) else set()
        data = {k: v for k, v in slots.items() if k in names}
        result.data, result.data_error = checked_data(request.schema, data)
    return result
