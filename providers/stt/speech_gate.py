"""Pass on only the voiced parts of a continuous audio stream (plus a little context).

The pipeline streams every inbound frame to the STT, including the long silences while the
agent talks. A local recognizer needs none of that: decoding silence costs as much CPU as
decoding speech, and the final re-decode would grow with it. The gate keeps speech, the
`preroll_ms` before it (soft onsets) and up to `hangover_ms` after each voiced frame (soft
endings, pauses between words), at webrtcvad's cost of a few µs per 20 ms frame.
"""

from __future__ import annotations

from collections import deque

import webrtcvad

FRAME_MS = 20
# The most permissive webrtcvad mode short of 0: the gate must never cut speech off; the
# pipeline's own VAD decides what is a turn.
_AGGRESSIVENESS = 1


class SpeechGate:
    """Feed PCM16 of any chunk size with `push`; voiced audio is appended to `out`."""

    def __init__(self, sample_rate: int, *, preroll_ms: int = 300, hangover_ms: int = 600) -> None:
        self._rate = sample_rate
        self._frame_bytes = sample_rate * FRAME_MS // 1000 * 2
        self._vad = webrtcvad.Vad(_AGGRESSIVENESS)
        self._preroll: deque[bytes] = deque(maxlen=max(1, preroll_ms // FRAME_MS))
        self._hangover_frames = max(1, hangover_ms // FRAME_MS)
        self._carry = bytearray()
        self._quiet_frames = self._hangover_frames
        self.passed_bytes = 0

    @property
    def open(self) -> bool:
        """Whether audio is being passed on now (speech, or within the hangover after it)."""
        return self._quiet_frames < self._hangover_frames

    def push(self, pcm: bytes, out: bytearray) -> None:
        """Classify `pcm` frame by frame and append what should be decoded to `out`."""
        self._carry += pcm
        size = self._frame_bytes
        whole = len(self._carry) - len(self._carry) % size
        view = memoryview(self._carry)
        for start in range(0, whole, size):
            frame = bytes(view[start : start + size])
            if self._vad.is_speech(frame, self._rate):
                if not self.open:
                    for earlier in self._preroll:
                        self._pass(earlier, out)
                    self._preroll.clear()
                self._quiet_frames = 0
                self._pass(frame, out)
            elif self.open:
                self._quiet_frames += 1
                self._pass(frame, out)
            else:
                self._preroll.append(frame)
        view.release()
        del self._carry[:whole]

    def _pass(self, frame: bytes, out: bytearray) -> None:
        out += frame
        self.passed_bytes += len(frame)
