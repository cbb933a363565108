"""The cache of agents' language models stays bounded: the least recently used go first."""

from __future__ import annotations

import os
from pathlib import Path

from providers.stt.blend_store import evict_least_used


def test_the_least_recently_used_blends_are_evicted(tmp_path: Path) -> None:
    for age, name in enumerate(["newest", "recent", "old", "oldest"]):
        path = tmp_path / f"agent-{name}-v1-1-1.lm.bin"
        path.write_bytes(b"model")
        path.with_suffix(".lock").touch()
        os.utime(path, (1_000_000 - age, 1_000_000 - age))
    evict_least_used(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "agent-newest-v1-1-1.lm.bin",
        "agent-newest-v1-1-1.lm.lock",
        "agent-recent-v1-1-1.lm.bin",
        "agent-recent-v1-1-1.lm.lock",
    ]
