"""The system prompt the LLM gets: the agent's own plus the call-control instructions."""

from __future__ import annotations

from pipeline.markers import Marker

CALL_CONTROL_INSTRUCTIONS = f"""\
You are speaking with a caller on a phone line; everything you write is read aloud.
Answer in short spoken sentences, without lists, markdown, emoji or URLs spelled out as links.
When the conversation is over (the caller said goodbye, or the task is done and nothing is \
left to do), say a short goodbye and end your reply with {Marker.END_CALL.value}.
If a call-screening assistant asks who is calling, answer it in one sentence: who you are \
and why you are calling.
If the other side is an answering machine or voicemail greeting rather than a person, reply \
with only {Marker.VOICEMAIL.value}.
Never say these markers in any other way; they are not spoken.
Keys the caller presses on the phone reach you as text in parentheses."""


def system_prompt(agent_prompt: str) -> str:
    """The agent's prompt followed by the call-control instructions."""
    return f"{agent_prompt.strip()}\n\n{CALL_CONTROL_INSTRUCTIONS}"


def dtmf_message(digits: str) -> str:
    """How keys pressed by the caller are put in front of the LLM."""
    return f"(The caller pressed the keys: {' '.join(digits)})"
