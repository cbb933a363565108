"""Atomic writes of generated config files, keeping the previous version beside them.

A reload must never read a half-written file, and a failed reload must be able to put
back exactly what was there: each file is written to a temporary file in the same
directory, flushed to disk, renamed over the target, and the directory entry flushed.
The version it replaced is kept as `<name>.prev` (for operators) and in memory (for the
rollback), together with the `.prev` it replaced, so a rollback leaves both as they were.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import msgspec

PREVIOUS_SUFFIX: Final = ".prev"
# The PJSIP file holds trunk passwords: readable by owner and group (Asterisk), no one else.
DEFAULT_FILE_MODE: Final = 0o640


class FileState(msgspec.Struct, frozen=True):
    """A file's content before a write (`None`: it did not exist), and its `.prev`."""

    path: str
    content: bytes | None
    previous: bytes | None


class Backup(msgspec.Struct, frozen=True):
    """What `replace_files` changed; `restore` puts it back."""

    files: tuple[FileState, ...]


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = DEFAULT_FILE_MODE) -> None:
    """Replace `path` with `data` so readers see either the old or the new file, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fchmod(temp.fileno(), mode)
            os.fsync(temp.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    _fsync_directory(path.parent)


def _put(path: Path, content: bytes | None, mode: int) -> None:
    if content is None:
        _remove(path)
    else:
        write_atomic(path, content, mode)


def previous_path(path: Path) -> Path:
    """Where the version replaced by the last write of `path` is kept."""
    return path.with_name(path.name + PREVIOUS_SUFFIX)


def replace_files(
    directory: Path, files: Mapping[str, str], mode: int = DEFAULT_FILE_MODE
) -> Backup:
    """Write every changed file atomically, moving its old content to `.prev`.

    Unchanged files are left alone (their mtime too, so Asterisk skips re-parsing them).
    """
    states: list[FileState] = []
    try:
        for name, text in files.items():
            path = directory / name
            data = text.encode("ascii")
            current = _read(path)
            if current == data:
                continue
            prev_path = previous_path(path)
            states.append(FileState(str(path), current, _read(prev_path)))
            if current is not None:
                write_atomic(prev_path, current, mode)
            write_atomic(path, data, mode)
    except BaseException:
        restore(Backup(tuple(states)), mode)
        raise
    return Backup(tuple(states))


def restore(backup: Backup, mode: int = DEFAULT_FILE_MODE) -> None:
    """Put every file of `backup` and its `.prev` back as they were before the write."""
    for state in reversed(backup.files):
        path = Path(state.path)
        _put(path, state.content, mode)
        _put(previous_path(path), state.previous, mode)
