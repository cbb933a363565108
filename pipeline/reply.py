"""An LLM reply as the caller hears it: sentences to speak and the marker that ends it."""

from __future__ import annotations

from pipeline.markers import Marker, MarkerFilter
from pipeline.sentences import SentenceSplitter


class ReplyParser:
    """Feed LLM deltas; get sentences ready for TTS. Stop reading once `done`.

    `[VOICEMAIL]` ends the reply at once and nothing more is spoken. `[END_CALL]` ends it
    after the sentence it closes; when nothing was said before it ("[END_CALL] Goodbye!"),
    after the next sentence, so the agent never hangs up without a word.
    """

    def __init__(self) -> None:
        self._markers = MarkerFilter()
        self._splitter = SentenceSplitter()
        self._said = 0
        self.marker: Marker | None = None
        self.done = False

    def push(self, delta: str) -> list[str]:
        """Sentences completed by `delta` (none once `done`)."""
        if self.done:
            return []
        out: list[str] = []
        before_marker = 0  # sentences of this delta that precede [END_CALL]
        for piece in self._markers.push(delta):
            if piece is Marker.VOICEMAIL:
                self.marker = Marker.VOICEMAIL
                self.done = True
                return []
            if piece is Marker.END_CALL:
                self.marker = Marker.END_CALL
                out += self._splitter.flush()
                before_marker = len(out)
            else:
                out += self._splitter.push(piece)
            if self.marker is Marker.END_CALL and self._said + len(out) > 0:
                del out[1 if self._said == 0 and not before_marker else len(out) :]
                self.done = True
                break
        self._said += len(out)
        return out

    def flush(self) -> list[str]:
        """The model paused (to run a tool): what it said so far, to be spoken now."""
        if self.done:
            return []
        out = self._splitter.push(self._markers.flush()) + self._splitter.flush()
        self._said += len(out)
        return out

    def finish(self) -> list[str]:
        """End of the stream: the last sentence(s)."""
        if self.done:
            return []
        self.done = True
        return self._splitter.push(self._markers.flush()) + self._splitter.flush()
