"""Call-control markers the LLM writes into its reply: recognized across chunks, never spoken."""

from __future__ import annotations

from enum import StrEnum


class Marker(StrEnum):
    """What the LLM can ask the call to do."""

    END_CALL = "[END_CALL]"
    VOICEMAIL = "[VOICEMAIL]"


_MARKERS = tuple(Marker)
_LONGEST = max(len(m.value) for m in _MARKERS)


class MarkerFilter:
    """Strips markers from streamed text (case-insensitive) and reports them in order.

    A chunk ending in what may be the start of a marker (``"[END_"``) holds that tail back
    until the next chunk tells whether it is one.
    """

    def __init__(self) -> None:
        self._held = ""

    def push(self, delta: str) -> list[str | Marker]:
        """Text safe to speak and the markers found, in stream order (empty text omitted)."""
        text = self._held + delta
        self._held = ""
        pieces: list[str | Marker] = []
        plain: list[str] = []
        i = 0
        while True:
            start = text.find("[", i)
            if start < 0:
                plain.append(text[i:])
                break
            plain.append(text[i:start])
            candidate = text[start : start + _LONGEST].upper()
            marker = next((m for m in _MARKERS if candidate.startswith(m.value)), None)
            if marker is not None:
                _append_text(pieces, plain)
                pieces.append(marker)
                i = start + len(marker.value)
                continue
            if any(m.value.startswith(candidate) for m in _MARKERS):
                self._held = text[start:]  # may be a marker's beginning: wait for more
                break
            plain.append("[")
            i = start + 1
        _append_text(pieces, plain)
        return pieces

    def flush(self) -> str:
        """End of stream: a held tail that never became a marker is ordinary text."""
        held, self._held = self._held, ""
        return held


def _append_text(pieces: list[str | Marker], plain: list[str]) -> None:
    joined = "".join(plain)
    plain.clear()
    if joined:
        pieces.append(joined)
