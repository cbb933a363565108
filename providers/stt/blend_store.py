"""Agents' blended language models, built in the background and kept on disk.

Building an agent's blend takes some 2.7 s of CPU (`full_blend`); done in the lane that serves
every recognizer of a worker, it held up the openings of all calls behind it, and on a busy
machine their connect timeout ran out: at 16 calls arriving together, every call failed
("speech recognition unavailable"). So a blend is built on a thread of its own while the
agent's first calls search the general model (they switch at their next utterance), once per
machine rather than once per worker: the first worker to need it builds it under a file lock
and writes it to the cache folder the pool was given, and the others (and the next start of
the server) load the file in milliseconds.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import structlog

from providers.stt.full_blend import full_blend
from providers.stt.trie_lm import read_trigram_model, write_trigram_model

log = structlog.get_logger(__name__)

# Part of every cached file's name: bump it when the blend's arithmetic or the file's layout
# changes, so no server loads a model built by older code.
BLEND_VERSION = 1
# Blends kept in the cache folder, the most recently used: each is some 27 MB, and every edit
# of an agent's prompt makes a new one, so the folder stays under about 1 GB.
MAX_CACHED_BLENDS = 40


class BlendStore:
    """Where each agent's blend is, or is being built: `path(name)` once it is ready."""

    def __init__(self, general: Path, cache_dir: Path | None) -> None:
        self._general = general
        # Ties each file to this general model and this code's version, so a changed model or
        # code never loads a stale one.
        stat = general.stat()
        self._stamp = f"v{BLEND_VERSION}-{stat.st_size}-{int(stat.st_mtime)}"
        # Without a cache folder (a bench, a test) blends live as long as the worker.
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        if cache_dir is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="vocals-lm-")
            cache_dir = Path(self._scratch.name)
        self._dir = cache_dir
        self._lock = threading.Lock()
        self._building: dict[str, threading.Thread] = {}
        self._failed: set[str] = set()

    def file_name(self, key: str) -> str:
        """The file of the blend `key` names (its phrases and weight)."""
        return f"{key}-{self._stamp}.lm.bin"

    def path(self, key: str) -> Path | None:
        """The blend's file when it is built (here or by another worker), else None."""
        path = self._dir / self.file_name(key)
        return path if path.exists() else None

    def used(self, path: Path) -> None:
        """Mark the blend at `path` as just loaded, so the cache keeps it longest."""
        with contextlib.suppress(OSError):  # evicted meanwhile: it is loaded all the same
            os.utime(path)

    def build(self, key: str, corpus: list[list[str]], weight: float) -> None:
        """Start building blend `key` on a thread unless it is built, building or failed."""
        with self._lock:
            if key in self._building or key in self._failed or self.path(key) is not None:
                return
            thread = threading.Thread(
                target=self._build, args=(key, corpus, weight), name=f"blend-{key}", daemon=True
            )
            self._building[key] = thread
        thread.start()

    def failed(self, key: str) -> bool:
        """Whether building `key` failed here (its calls keep the general model)."""
        with self._lock:
            return key in self._failed

    def _build(self, key: str, corpus: list[list[str]], weight: float) -> None:
        target = self._dir / self.file_name(key)
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            with _locked(target.with_suffix(".lock")):
                if not target.exists():  # another worker may have built it while we waited
                    blend = full_blend(corpus, read_trigram_model(self._general), weight)
                    _write_atomically(target, lambda path: write_trigram_model(blend, path))
                    del blend
                    return_freed_memory()
                    evict_least_used(self._dir, MAX_CACHED_BLENDS)
        except Exception as exc:  # the agent's calls keep the general model
            log.error("agent language model not built", model=key, error=str(exc))
            with self._lock:
                self._failed.add(key)
        finally:
            with self._lock:
                self._building.pop(key, None)


def return_freed_memory() -> None:
    """Give the heap's free pages back to the system. A blend's arrays (some 500 MB at the
    peak) are freed when it is written, but glibc keeps such blocks for reuse: the worker then
    stayed 500 MB larger than the 110 MB the blend's model and search need."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc only
    if trim is not None:
        trim(0)


def evict_least_used(folder: Path, keep: int) -> None:
    """Delete all but the `keep` most recently used blends (a worker holds what it loaded)."""
    files = sorted(folder.glob("*.lm.bin"), key=lambda path: path.stat().st_mtime, reverse=True)
    for path in files[keep:]:
        path.unlink(missing_ok=True)
        path.with_suffix(".lock").unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` across processes (released if the process dies)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file renamed into place: no reader sees half a model."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".building-", suffix=".partial")
    os.close(fd)
    partial = Path(name)
    try:
        write(partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
