"""Atomic writes keep the previous version and restore puts everything back."""

from __future__ import annotations

import stat
from pathlib import Path

from provisioning.writer import previous_path, replace_files, restore, write_atomic


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def test_write_atomic_replaces_whole_file_with_mode_and_no_temp_left(tmp_path: Path) -> None:
    target = tmp_path / "a.conf"
    target.write_text("old\n")
    write_atomic(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.conf"]


def test_replace_keeps_prev_and_restore_returns_both_files_and_prev(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("a1\n")
    (tmp_path / "a.conf.prev").write_text("a0\n")
    before = _snapshot(tmp_path)
    backup = replace_files(tmp_path, {"a.conf": "a2\n", "b.conf": "b1\n"})
    assert (tmp_path / "a.conf").read_text() == "a2\n"
    assert previous_path(tmp_path / "a.conf").read_text() == "a1\n"
    assert (tmp_path / "b.conf").read_text() == "b1\n"
    assert not (tmp_path / "b.conf.prev").exists()
    restore(backup)
    assert _snapshot(tmp_path) == before


def test_unchanged_file_is_not_rewritten(tmp_path: Path) -> None:
    target = tmp_path / "a.conf"
    target.write_text("same\n")
    mtime = target.stat().st_mtime_ns
    backup = replace_files(tmp_path, {"a.conf": "same\n"})
    assert backup.files == ()
    assert target.stat().st_mtime_ns == mtime
    assert not previous_path(target).exists()


def test_failed_write_leaves_earlier_files_restored(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("a1\n")
    before = _snapshot(tmp_path)
    try:
        replace_files(tmp_path, {"a.conf": "a2\n", "b.conf": "non-ascii \u00e9"})
    except UnicodeEncodeError:
        pass
    else:
        raise AssertionError("non-ASCII text must not be written")
    assert _snapshot(tmp_path) == before
