"""Process-wide memory of a local voice's synthesized texts, shared by every call.

A scripted or templated agent says the same sentences on every call; synthesizing them again
is most of a local voice's cost. Entries are keyed by everything that shapes the audio (voice
model, its options, the text) and the least recently used go first once the cache holds
`max_bytes` of audio. Calls that want a text while another call synthesizes it wait for that
synthesis instead of starting their own (many calls start together and say the same greeting
and first replies).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable

# A sentence is some 150 kB at 22.05 kHz (3.5 s): this keeps a few hundred, plenty for the
# replies of several agents, at a bounded cost to the serving process's memory.
MAX_BYTES = 48 * 1024 * 1024


class SentenceCache:
    """LRU of synthesized audio (a list of PCM chunks per key), bounded by total bytes."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._entries: OrderedDict[Hashable, tuple[bytes, ...]] = OrderedDict()
        self._pending: dict[Hashable, asyncio.Future[tuple[bytes, ...] | None]] = {}
        self._bytes = 0
        self._max_bytes = max_bytes

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable) -> tuple[bytes, ...] | None:
        chunks = self._entries.get(key)
        if chunks is not None:
            self._entries.move_to_end(key)
        return chunks

    def put(self, key: Hashable, chunks: tuple[bytes, ...]) -> None:
        size = sum(len(c) for c in chunks)
        if size > self._max_bytes:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= sum(len(c) for c in old)
        self._entries[key] = chunks
        self._bytes += size
        while self._bytes > self._max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= sum(len(c) for c in evicted)

    def pending(self, key: Hashable) -> asyncio.Future[tuple[bytes, ...] | None] | None:
        """The synthesis of `key` under way: its audio, or None if it did not complete."""
        return self._pending.get(key)

    def begin(self, key: Hashable) -> asyncio.Future[tuple[bytes, ...] | None]:
        """Announce a synthesis of `key`; end it with `finish`."""
        future: asyncio.Future[tuple[bytes, ...] | None]
        future = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        return future

    def finish(
        self,
        key: Hashable,
        future: asyncio.Future[tuple[bytes, ...] | None],
        chunks: tuple[bytes, ...] | None,
    ) -> None:
        """End the synthesis `begin` announced: keep its audio, or None when it broke off."""
        if self._pending.get(key) is future:
            del self._pending[key]
        if not future.done():
            future.set_result(chunks)
        if chunks is not None:
            self.put(key, chunks)
