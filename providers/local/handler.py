"""The worker-side half of a local model: what a new local model implements to run in the pool.

A `Handler` is created once per worker process and loads its models in `load()`, before the
worker announces itself ready; each call's provider then opens a `Session` on one worker (its
state, such as a recognizer's decoder, lives there) and sends it operations. Everything here
runs in the worker, never in the serving process.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec


class Item(msgspec.Struct, frozen=True):
    """One piece of an operation's output: audio or other bytes, and/or text."""

    data: bytes = b""
    text: str = ""


class Session(ABC):
    """One provider instance's state in a worker (e.g. one call's recognizer stream)."""

    @abstractmethod
    def handle(self, op: str, data: bytes, args: dict[str, Any]) -> Iterator[Item]:
        """Run operation `op`; each yielded item reaches the provider as soon as it exists."""

    def close(self) -> None:  # noqa: B027 (optional hook with a no-op default)
        """Release the session's state. Default: nothing to release."""


class Handler(ABC):
    """A local model in a worker: loaded once, shared by every session on that worker."""

    # A folder kept across restarts and shared by the workers, for what a handler derives
    # from its models (an agent's language model); None: nowhere (a bench, a test). Set
    # before `load()`.
    cache_dir: Path | None = None

    @abstractmethod
    def load(self) -> None:
        """Load the models (runs once, when the worker starts)."""

    @abstractmethod
    def open(self, options: dict[str, Any]) -> Session:
        """A session with the provider's options; raise `ValueError` for options it refuses."""
