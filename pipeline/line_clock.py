"""The caller's line heard on Vocals' own clock: a gap with no frames is silence.

Some far ends send no audio at all while they are quiet: Asterisk's AudioSocket without
`transmit_silence` (captured on 22.10.1), trunks that suppress silence. Counting time only by
the frames that arrive, the VAD would then never hear the caller stop speaking and the agent
would never answer. `LineClock` hands every real frame on, and once no frame has arrived for
`GAP_S` it hands on silence frames for the time since the last one, then one per 20 ms while
the line stays quiet, through the same path (VAD and recognizer), as if the far end had sent
them. The leg, its recording and its tap see only what really arrived.

A late wake-up of its own (the event loop stalled) is no evidence of a quiet line: the frames
of that moment may be waiting behind the stall, so it lets them in (one frame's time) before
it decides; only once, so a loop that is late all the time still hears its silences.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from media.codec import silence
from media.formats import FRAME_MS, AudioFormat
from pipeline.metrics import QUIET_LINE_SECONDS

_FRAME_S = FRAME_MS / 1000
# No frame for this long means the line is quiet: above a live stream's jitter (frames come
# every 20 ms; Asterisk's over a LAN within a few ms), no longer than the shortest
# end-of-speech silence (100 ms), so noticing costs the answer nothing: the gap counts from
# the last frame.
GAP_S = 0.1
# Waking this much later than asked means the loop itself stalled, not that the line went
# quiet: two frames' time, well above a timer's ordinary wake-up jitter.
LATE_S = 0.04


class LineClock:
    """Feeds `hear` the leg's frames, and silence where the far end sent none.

    The engine passes each inbound frame to `frame` and runs `run` for the call's length.
    `filled_ms` is how much silence was heard in gaps.
    """

    def __init__(
        self,
        fmt: AudioFormat,
        hear: Callable[[bytes], Awaitable[None]],
        *,
        gap_s: float = GAP_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._hear = hear
        self._silence = silence(fmt, fmt.frame_bytes)
        self._gap_s = gap_s
        self._clock = clock
        now = clock()
        self._last_frame_at = now  # when the last real frame arrived
        self._heard_until = now  # how far the audio heard so far reaches, on this clock
        self._busy = False  # a real frame is being heard (the recognizer may hold it up)
        self.filled_ms = 0

    async def frame(self, frame: bytes) -> None:
        """Hear a frame the far end sent."""
        now = self._clock()
        self._last_frame_at = now
        # A burst after a delay carries audio past now: the next gap counts from its end.
        self._heard_until = max(self._heard_until + _FRAME_S, now)
        self._busy = True
        try:
            await self._hear(frame)
        finally:
            self._busy = False

    async def run(self) -> None:
        """Hear silence in the gaps, until cancelled."""
        self._last_frame_at = self._heard_until = self._clock()
        delay = self._gap_s
        deferred = False  # a late wake-up let waiting frames in first; the next one decides
        while True:
            asked = self._clock() + delay
            await asyncio.sleep(delay)
            now = self._clock()
            quiet_for = now - self._last_frame_at
            if self._busy or quiet_for < self._gap_s:
                delay, deferred = max(_FRAME_S, self._gap_s - quiet_for), False
            elif now - asked > LATE_S and not deferred:
                delay, deferred = _FRAME_S, True
            else:
                await self._fill(now)
                delay, deferred = _FRAME_S, False

    async def _fill(self, now: float) -> None:
        """Silence from where the heard audio ends up to `now`, unless a frame comes first."""
        last = self._last_frame_at
        while self._heard_until + _FRAME_S <= now and self._last_frame_at == last:
            self._heard_until += _FRAME_S
            self.filled_ms += FRAME_MS
            QUIET_LINE_SECONDS.inc(_FRAME_S)
            await self._hear(self._silence)
