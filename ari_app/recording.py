"""Call recordings: where they are kept (`RecordingStore`) and one call's recording from the
moment its leg is up to the compressed file named in its record (`CallRecordings`).

While a call runs its audio goes to a stereo WAV in the spool directory (valid on disk at every
moment, see `media.recorder`). At the end it is encoded to FLAC off the event loop and handed
to the store; if encoding fails the WAV itself is stored. The store is the only thing that
knows where files live, so S3-compatible storage is one more `RecordingStore`.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Final, Protocol, runtime_checkable

import soundfile  # type: ignore[import-untyped]
import structlog

from media.leg import MediaLeg
from media.recorder import StereoRecorder

log = structlog.get_logger(__name__)

# Read and write the stored file in pieces this big: a one-hour call never sits in memory.
CHUNK_BYTES: Final = 64 * 1024
ENCODE_BLOCK_FRAMES: Final = 64 * 1024
# The agents table's default retention: what applies when a call's agent is gone.
DEFAULT_RETENTION_DAYS: Final = 30
MEDIA_TYPES: Final = {".flac": "audio/flac", ".wav": "audio/wav", ".ogg": "audio/ogg"}


class RecordingNotFound(Exception):
    """The store has no file at this location."""


@runtime_checkable  # the API's dependency injection checks the type of what it is given
class RecordingStore(Protocol):
    """Where finished recordings live. Locations are opaque strings stored in the call record."""

    async def save(self, source: Path, key: str) -> str:
        """Take the finished local file `source` (moved, not copied) under `key`; returns the
        location to store in the call record."""

    async def size(self, location: str) -> int:
        """Size in bytes; `RecordingNotFound` when the file is gone."""

    def read(self, location: str, start: int, length: int) -> AsyncIterator[bytes]:
        """`length` bytes from `start`, in chunks (`RecordingNotFound` when gone)."""

    async def delete(self, location: str) -> bool:
        """Remove the file; False when it was already gone."""


def media_type(location: str) -> str:
    """The HTTP content type of a stored recording, from its extension."""
    return MEDIA_TYPES.get(PurePosixPath(location).suffix, "application/octet-stream")


class LocalRecordingStore:
    """Recordings as files under one directory; locations are paths relative to it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, location: str) -> Path:
        """The file of `location`; `RecordingNotFound` for one that would leave the root."""
        relative = PurePosixPath(location)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise RecordingNotFound(location)
        return self.root.joinpath(*relative.parts)

    async def save(self, source: Path, key: str) -> str:
        target = self.path_of(key)

        def move() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(source, target)

        await asyncio.to_thread(move)
        return key

    async def size(self, location: str) -> int:
        try:
            return (await asyncio.to_thread(self.path_of(location).stat)).st_size
        except FileNotFoundError as exc:
            raise RecordingNotFound(location) from exc

    async def read(self, location: str, start: int, length: int) -> AsyncIterator[bytes]:
        path = self.path_of(location)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError as exc:
            raise RecordingNotFound(location) from exc
        try:
            await asyncio.to_thread(handle.seek, start)
            remaining = length
            while remaining > 0:
                chunk = await asyncio.to_thread(handle.read, min(CHUNK_BYTES, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)

    async def delete(self, location: str) -> bool:
        path = self.path_of(location)
        try:
            await asyncio.to_thread(path.unlink)
        except FileNotFoundError:
            return False
        return True


def encode_flac(wav: Path, flac: Path) -> None:
    """Encode a finished WAV to FLAC (lossless, about half the size), block by block."""
    with (
        soundfile.SoundFile(wav) as source,
        soundfile.SoundFile(
            flac,
            "w",
            samplerate=source.samplerate,
            channels=source.channels,
            format="FLAC",
            subtype="PCM_16",
        ) as target,
    ):
        for block in source.blocks(blocksize=ENCODE_BLOCK_FRAMES, dtype="int16"):
            target.write(block)


@dataclass
class ActiveRecording:
    """A call being recorded."""

    tenant_id: uuid.UUID
    call_id: uuid.UUID
    leg: MediaLeg
    recorder: StereoRecorder


class CallRecordings:
    """Starts and finishes call recordings; one disk-writer thread serves every call."""

    def __init__(self, store: RecordingStore, spool_dir: Path) -> None:
        self.store = store
        self.spool_dir = spool_dir
        # One worker: blocks of one file are written in the order they were produced.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recording-writer")

    def start(self, tenant_id: uuid.UUID, call_id: uuid.UUID, leg: MediaLeg) -> ActiveRecording:
        """Record `leg` from now on; `RuntimeError` when the leg offers no tap."""
        spool = self.spool_dir / str(tenant_id) / f"{call_id}.wav"
        recorder = StereoRecorder(leg.format, spool, self._writer)
        if not leg.set_tap(recorder):
            recorder.close()
            raise RuntimeError(f"{type(leg).__name__} cannot be recorded")
        return ActiveRecording(tenant_id, call_id, leg, recorder)

    async def finish(self, recording: ActiveRecording) -> str | None:
        """Stop recording, compress, store; returns the location (None when it failed)."""
        recording.leg.set_tap(None)
        recorder = recording.recorder
        await asyncio.wrap_future(recorder.close())
        if recorder.failed is not None:
            return None
        return await self.store_spooled(recorder.path, recording.tenant_id, recording.call_id)

    async def store_spooled(self, wav: Path, tenant_id: uuid.UUID, call_id: uuid.UUID) -> str:
        """Compress a finished spooled WAV and hand it to the store; returns its location."""
        key = f"{tenant_id}/{call_id}"
        flac = wav.with_suffix(".flac")
        try:
            await asyncio.to_thread(encode_flac, wav, flac)
        except (OSError, RuntimeError, soundfile.LibsndfileError) as exc:
            log.warning("FLAC encoding failed, keeping the WAV", path=str(wav), error=str(exc))
            with contextlib.suppress(OSError):
                await asyncio.to_thread(flac.unlink, missing_ok=True)
            return await self.store.save(wav, f"{key}.wav")
        location = await self.store.save(flac, f"{key}.flac")
        await asyncio.to_thread(wav.unlink, missing_ok=True)
        return location

    async def close(self) -> None:
        """Finish pending writes and stop the writer thread (at process shutdown)."""
        await asyncio.to_thread(self._writer.shutdown, wait=True)
