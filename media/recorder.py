"""Two-party call recording: caller left, agent right, written to disk while the call runs.

`StereoRecorder` is a `LegTap`. Per frame it only appends the wire bytes to the right track
(no decoding, no I/O); about once a second it decodes what is settled, interleaves the two
tracks and hands the block to an executor that appends it to an `IncrementalWav`. The WAV
header is rewritten after every append, so a process killed mid-call leaves a playable file
missing at most the last second or two.

Tracks are laid on one timeline by arrival time: a frame that arrives later than the end of
its track (by more than `GAP_SLACK_S`) is placed where it belongs, the gap filled with silence.
That is what makes the agent track silent between replies (a paced leg sends nothing then)
and what cuts it at a barge-in (cleared audio is never transmitted, so never tapped).
"""

from __future__ import annotations

import contextlib
import logging
import time
import wave
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import BinaryIO, Final

import numpy as np

from media.codec import decode_to_pcm, silence
from media.formats import AudioFormat

log = logging.getLogger(__name__)

CHANNELS: Final = 2  # caller left, agent right
SAMPLE_WIDTH: Final = 2  # PCM16
# Blocks are handed to the writer this often: bounds what a crash loses, and one append per
# second per call is negligible disk work.
FLUSH_EVERY_S: Final = 1.0
# Audio younger than this is not written yet: a frame delayed by network or loop jitter still
# lands in its place instead of after silence already on disk.
SETTLE_S: Final = 0.2
# A frame arriving this much later than its track's end starts after a gap of silence; less is
# jitter, and the frame simply follows the previous one.
GAP_SLACK_S: Final = 0.1


class IncrementalWav:
    """A PCM16 WAV file that is valid after every `append` (blocking; run it off the loop)."""

    def __init__(self, path: Path, sample_rate: int, channels: int = CHANNELS) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: BinaryIO = path.open("wb")
        # Open for the whole call (closed in `close`), so no context manager.
        self._wav = wave.open(self._file, "wb")  # noqa: SIM115
        self._wav.setnchannels(channels)
        self._wav.setsampwidth(SAMPLE_WIDTH)
        self._wav.setframerate(sample_rate)
        self._wav.writeframes(b"")  # the header, so even an empty recording is a valid file
        self._file.flush()

    def append(self, pcm: bytes) -> None:
        """Append interleaved PCM16 samples; `wave` patches the header's sizes as it writes."""
        self._wav.writeframes(pcm)
        self._file.flush()

    def close(self) -> None:
        self._wav.close()
        self._file.close()


class _Track:
    """One direction's wire bytes from absolute sample `base` to `end`."""

    def __init__(self, fmt: AudioFormat) -> None:
        self.fmt = fmt
        self.data = bytearray()
        self.base = 0
        self.end = 0

    def add(self, frame: bytes, at: int) -> None:
        """Append a frame whose first sample belongs at `at`, after silence if it is late."""
        gap = at - self.end
        if gap > int(GAP_SLACK_S * self.fmt.sample_rate):
            self.pad_to(at)
        self.data += frame
        self.end += len(frame) // self.fmt.bytes_per_sample

    def pad_to(self, sample: int) -> None:
        if sample > self.end:
            self.data += silence(self.fmt, (sample - self.end) * self.fmt.bytes_per_sample)
            self.end = sample

    def take(self, upto: int) -> bytes:
        """PCM16 of samples [base, upto) (the track must reach `upto`)."""
        n = (upto - self.base) * self.fmt.bytes_per_sample
        chunk = bytes(self.data[:n])
        del self.data[:n]
        self.base = upto
        return decode_to_pcm(chunk, self.fmt)


class StereoRecorder:
    """Records a leg's two directions into `path` (a stereo WAV at the leg's sample rate).

    `executor` runs the file writes; give every recorder the same single-thread executor so
    one file's blocks are written in order. `close()` returns the future of the last write.
    """

    def __init__(
        self,
        fmt: AudioFormat,
        path: Path,
        executor: Executor,
        *,
        clock: Callable[[], float] = time.monotonic,
        flush_every_s: float = FLUSH_EVERY_S,
    ) -> None:
        self.path = path
        self.format = fmt
        self._executor = executor
        self._clock = clock
        self._flush_every_s = flush_every_s
        self._rate = fmt.sample_rate
        self._caller = _Track(fmt)
        self._agent = _Track(fmt)
        self._start = clock()
        self._next_flush = self._start + flush_every_s
        self._closed = False
        self.failed: BaseException | None = None
        self._wav: IncrementalWav | None = None
        self._last: Future[None] = executor.submit(self._open)

    # -- LegTap ---------------------------------------------------------------------------

    def inbound(self, frame: bytes) -> None:
        self._add(self._caller, frame)

    def outbound(self, frame: bytes) -> None:
        self._add(self._agent, frame)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def written_s(self) -> float:
        """Seconds of audio handed to the writer so far."""
        return self._caller.base / self._rate

    def close(self) -> Future[None]:
        """Write what is left (both tracks to the longer one's end) and close the file."""
        if not self._closed:
            self._closed = True
            end = max(self._caller.end, self._agent.end)
            self._write_upto(end)
            self._last = self._executor.submit(self._close_file)
        return self._last

    # -- internals ------------------------------------------------------------------------

    def _add(self, track: _Track, frame: bytes) -> None:
        if self._closed:
            return
        now = self._clock()
        samples = len(frame) // self.format.bytes_per_sample
        track.add(frame, int((now - self._start) * self._rate) - samples)
        if now >= self._next_flush:
            self._next_flush = now + self._flush_every_s
            self._write_upto(int((now - self._start - SETTLE_S) * self._rate))

    def _write_upto(self, sample: int) -> None:
        caller, agent = self._caller, self._agent
        if sample <= caller.base:
            return
        caller.pad_to(sample)
        agent.pad_to(sample)
        left = np.frombuffer(caller.take(sample), dtype="<i2")
        right = np.frombuffer(agent.take(sample), dtype="<i2")
        block = np.empty((len(left), CHANNELS), dtype="<i2")
        block[:, 0] = left
        block[:, 1] = right
        if self.failed is None:
            self._last = self._executor.submit(self._append, block.tobytes())

    def _open(self) -> None:
        try:
            self._wav = IncrementalWav(self.path, self._rate)
        except OSError as exc:
            self._fail(exc)

    def _append(self, pcm: bytes) -> None:
        if self._wav is None:
            return
        try:
            self._wav.append(pcm)
        except OSError as exc:
            self._fail(exc)

    def _close_file(self) -> None:
        if self._wav is None:
            return
        try:
            self._wav.close()
        except OSError as exc:
            self._fail(exc)
        self._wav = None

    def _fail(self, exc: OSError) -> None:
        # Recording stops; the call goes on. The caller of `close()` sees `failed`.
        if self.failed is None:
            log.error("recording %s failed: %s", self.path, exc)
        self.failed = exc
        if self._wav is not None:
            with contextlib.suppress(OSError):
                self._wav.close()
            self._wav = None
