"""The local secret key when several processes start at once on a fresh data dir (the
workers of one `vocals serve`, two services, or test workers): one key, read whole by all."""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from vocals.secret_key import secret_box
from vocals.settings import Settings

PROCESSES = 12
ROUNDS = 4
PURPOSE = "test"


def _seal_after(barrier: Barrier, data_dir: str, results: Queue[bytes | str]) -> None:
    barrier.wait()
    try:
        results.put(secret_box(Settings(data_dir=data_dir)).encrypt("probe", PURPOSE))
    except Exception as e:
        results.put(repr(e))


def _start_together(data_dir: Path) -> list[bytes | str]:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(PROCESSES)
    results: Queue[bytes | str] = context.Queue()
    processes = [
        context.Process(target=_seal_after, args=(barrier, str(data_dir), results))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    sealed = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=10)
    return sealed


def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    for round_ in range(ROUNDS):
        data_dir = tmp_path / str(round_)
        sealed = _start_together(data_dir)
        box = secret_box(Settings(data_dir=str(data_dir)))
        assert all(isinstance(s, bytes) for s in sealed), sealed
        assert [box.decrypt(s, PURPOSE) for s in sealed if isinstance(s, bytes)] == [
            "probe"
        ] * PROCESSES
        assert [p.name for p in data_dir.iterdir()] == ["secret_key"]
