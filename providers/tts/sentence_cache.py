"""Process-wide memory of a local voice's synthesized texts, shared by every call.

A scripted or templated agent says the same sentences on every call; synthesizing them again
is most of a local voice's cost. Entries are keyed by everything that shapes the audio (voice
model, its options, the text) and the least recently used go first once the cache holds
`max_bytes` of audio.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

# A sentence is some 150 kB at 22.05 kHz (3.5 s): this keeps a few hundred, plenty for the
# replies of several agents, at a bounded cost to the serving process's memory.
MAX_BYTES = 48 * 1024 * 1024


class SentenceCache:
    """LRU of synthesized audio (a list of PCM chunks per key), bounded by total bytes."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._entries: OrderedDict[Hashable, tuple[bytes, ...]] = OrderedDict()
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
