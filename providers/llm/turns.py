"""Conversation history reshaped for vendors that want strictly alternating turns."""

from __future__ import annotations

from collections.abc import Sequence

from providers.base import Message

# Claude (and Gemini, less strictly) want the conversation to open with a user turn; a call
# usually opens with the agent's greeting, so a stand-in user turn goes before it.
CALL_STARTED = "(The caller is on the line.)"


def alternating_turns(messages: Sequence[Message]) -> list[Message]:
    """`messages` opening with a user turn, consecutive same-role turns joined by a space."""
    turns: list[Message] = []
    for message in messages:
        if turns and turns[-1].role == message.role:
            joined = f"{turns[-1].content} {message.content}".strip()
            turns[-1] = Message(message.role, joined)
        else:
            turns.append(message)
    if not turns or turns[0].role != "user":
        turns.insert(0, Message("user", CALL_STARTED))
    return turns
