"""Speaks one agent message: sentences synthesized ahead, played in order, each one marked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from media.formats import AudioFormat
from media.leg import MediaLeg
from pipeline.failures import AllProvidersFailed, ProviderChain, StreamBroken
from pipeline.states import Timeouts
from pipeline.wire_audio import WireEncoder
from providers.base import AudioChunk, TTSProvider

# Sentences synthesized ahead of the one playing. One hides TTS latency between sentences;
# a second absorbs a slow sentence without holding audio for a whole reply that barge-in may
# throw away.
LOOKAHEAD_SENTENCES = 2

# Speech rate used to guess a sentence's length while its audio is still being synthesized
# (about 14 characters per second of telephone speech).
MS_PER_CHAR_ESTIMATE = 70


class _Failed:
    """Sentinel: every TTS provider failed for this sentence."""


_FAILED = _Failed()
_END = None


@dataclass(slots=True)
class _Item:
    text: str
    mark: str
    audio: bytes | None = None  # cached wire audio; None: synthesize `text`
    chunks: asyncio.Queue[bytes | _Failed | None] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    start_ms: int = 0  # agent audio sent before this item, in this message
    sent_ms: int = 0
    complete: bool = False
    marked: bool = False
    cut: bool = False  # its synthesis broke off: only the audio sent so far exists
    aside: bool = False  # heard by a transfer target alone, never by the caller

    def sent_words(self) -> list[str]:
        """The words of its audio the caller heard: all of them, or for a cut sentence as
        many as the audio sent would hold at the estimated speech rate; none of an aside."""
        words = [] if self.aside else self.text.split()
        if not self.cut:
            return words
        share = min(1.0, self.sent_ms / max(1, len(self.text) * MS_PER_CHAR_ESTIMATE))
        return words[: int(len(words) * share)]


class Speaker:
    """One agent message.

    The engine adds sentences with `say` (or cached audio with `say_audio`), calls `finish`
    when the reply is complete, runs `run` as a task, forwards marks with `on_mark`, and on
    barge-in asks `heard` what the caller actually heard.
    """

    def __init__(
        self,
        *,
        leg: MediaLeg,
        tts: ProviderChain[TTSProvider],
        timeouts: Timeouts,
        mark_prefix: str,
        interruptible: bool = True,
        apology: Callable[[], tuple[str, bytes] | None] | None = None,
        on_first_audio: Callable[[], None] | None = None,
        on_first_frame: Callable[[], None] | None = None,
    ) -> None:
        self.interruptible = interruptible
        self.failed = False
        self._leg = leg
        self._fmt: AudioFormat = leg.format
        self._bytes_per_ms = leg.format.sample_rate * leg.format.bytes_per_sample // 1000
        self._tts = tts
        self._timeouts = timeouts
        self._prefix = mark_prefix
        self._apology = apology
        self._on_first_audio = on_first_audio
        self._on_first_frame = on_first_frame
        self._items: list[_Item] = []
        self._playing = 0
        self._finished = False
        self._added = asyncio.Event()
        self._played = asyncio.Event()
        self._marked = asyncio.Event()
        self._sent_ms = 0

    @property
    def sent_ms(self) -> int:
        """Audio of this message handed to the leg so far."""
        return self._sent_ms

    @property
    def spoken_text(self) -> str:
        """Everything this message has sent audio for (what the caller hears if not cut);
        a sentence whose synthesis broke off counts only as far as its audio went."""
        return " ".join(w for i in self._items if i.sent_ms for w in i.sent_words())

    def say(self, text: str, *, aside: bool = False) -> None:
        """Queue a sentence; its synthesis starts now if within the look-ahead. An `aside`
        is heard by someone else than the caller (a transfer target) and is not in the text."""
        self._add(_Item(text, self._mark_name(), aside=aside))

    def say_audio(self, text: str, wire: bytes) -> None:
        """Queue already-encoded speech (cached welcome or apology)."""
        self._add(_Item(text, self._mark_name(), audio=wire))

    def finish(self) -> None:
        """No more sentences: `run` returns once everything queued was sent."""
        self._finished = True
        self._added.set()

    def on_mark(self, name: str) -> None:
        """A `MarkReached` from the leg; marks of other messages are ignored."""
        for item in self._items:
            if item.mark == name:
                item.marked = True
                self._marked.set()
        self._check_played()

    def _check_played(self) -> None:
        done = self._finished and self._playing >= len(self._items)
        if done and all(i.marked for i in self._items):
            self._played.set()

    async def wait_played(self) -> None:
        """Until the caller heard the whole message (its last mark came back)."""
        await self._played.wait()

    async def wait_heard(self) -> None:
        """Until the caller heard every sentence queued so far (more may follow)."""
        upto = len(self._items)
        while not all(item.marked for item in self._items[:upto]):
            self._marked.clear()
            await self._marked.wait()

    def heard(self, played_ms: int) -> str:
        """The text heard when `played_ms` of this message had played (words, cut to fit)."""
        words: list[str] = []
        for item in self._items:
            if not item.text or not item.sent_ms:
                continue
            if item.marked or (item.complete and item.start_ms + item.sent_ms <= played_ms):
                words.extend(item.sent_words())
                continue
            if played_ms <= item.start_ms:
                break
            total = (
                item.sent_ms
                if item.complete
                else max(item.sent_ms, len(item.text) * MS_PER_CHAR_ESTIMATE)
            )
            fraction = min(1.0, (played_ms - item.start_ms) / total)
            item_words = item.sent_words()
            words.extend(item_words[: int(len(item_words) * fraction)])
            break
        return " ".join(words)

    async def run(self) -> None:
        """Play every item in order; returns when all were sent (not yet heard)."""
        try:
            while True:
                while self._playing >= len(self._items) and not self._finished:
                    self._added.clear()
                    await self._added.wait()
                if self._playing >= len(self._items):
                    break
                item = self._items[self._playing]
                self._start_window()
                ok = await self._play(item)
                self._playing += 1
                if not ok:
                    self._abandon_rest()
                    await self._play_apology()
                    break
            self._check_played()  # nothing to wait for when no audio went out
        finally:
            for item in self._items:
                if item.task is not None and not item.task.done():
                    item.task.cancel()

    def _mark_name(self) -> str:
        return f"{self._prefix}.{len(self._items)}"

    def _add(self, item: _Item) -> None:
        if self._finished:
            raise RuntimeError("speaker finished: no more sentences")
        self._items.append(item)
        self._start_window()
        self._added.set()

    def _start_window(self) -> None:
        end = min(len(self._items), self._playing + 1 + LOOKAHEAD_SENTENCES)
        for item in self._items[self._playing : end]:
            if item.audio is None and item.task is None:
                item.task = asyncio.create_task(self._synthesize(item))

    async def _synthesize(self, item: _Item) -> None:
        encoder = WireEncoder(self._fmt)

        def synthesize(provider: TTSProvider) -> AsyncIterator[AudioChunk]:
            return provider.synthesize(item.text)

        try:
            async for chunk in self._tts.stream(
                synthesize,
                first_timeout_s=self._timeouts.tts_first_audio_s,
                idle_timeout_s=self._timeouts.tts_idle_s,
            ):
                if self._on_first_audio is not None:
                    self._on_first_audio()
                    self._on_first_audio = None
                data = encoder.feed(chunk)
                if data:
                    item.chunks.put_nowait(data)
        except AllProvidersFailed:
            item.chunks.put_nowait(_FAILED)
            return
        except StreamBroken:
            item.cut = True  # what was produced plays; the rest is lost (logged, recorded)
        tail = encoder.finish()
        if tail:
            item.chunks.put_nowait(tail)
        item.chunks.put_nowait(_END)

    async def _play(self, item: _Item) -> bool:
        item.start_ms = self._sent_ms
        if item.audio is not None:
            await self._send(item, item.audio)
        else:
            while True:
                data = await item.chunks.get()
                if data is _END:
                    break
                if isinstance(data, _Failed):
                    self.failed = True
                    return False
                await self._send(item, data)
        item.complete = True
        if item.sent_ms:
            self._leg.mark(item.mark)
        else:
            item.marked = True
        return True

    async def _send(self, item: _Item, data: bytes) -> None:
        if self._on_first_frame is not None:
            self._on_first_frame()
            self._on_first_frame = None
        ms = len(data) // self._bytes_per_ms
        item.sent_ms += ms
        self._sent_ms += ms
        await self._leg.send(data)

    def _abandon_rest(self) -> None:
        for item in self._items[self._playing :]:
            if item.task is not None:
                item.task.cancel()
            item.marked = True
        del self._items[self._playing :]

    async def _play_apology(self) -> None:
        speech = self._apology() if self._apology is not None else None
        if speech is None:
            return
        text, wire = speech
        item = _Item(text, self._mark_name(), audio=wire)
        self._items.append(item)
        await self._play(item)
        self._playing += 1
