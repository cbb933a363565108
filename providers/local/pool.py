"""Worker processes for CPU-bound local models, so no model runs on the event loop's interpreter.

A `LocalPool` starts `size` workers (`python -m providers.local.worker`, fresh interpreters
that inherit neither the server's sockets nor its event loop); each loads every handler's
models once and stays warm. A provider opens a `LocalSession`, pinned to the worker with the
fewest sessions of its model because sessions hold state (a recognizer's decoder), and
exchanges length-prefixed msgpack frames with it over the worker's stdin and stdout, read by
asyncio without blocking the loop. A worker that dies fails only its own sessions, with a
`ProviderError`, and the pool starts a new one in its place.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import structlog

from providers.base import ProviderError
from providers.local.handlers import HANDLERS
from providers.local.protocol import (
    CACHE_DIR_ENV,
    READY_ID,
    FrameError,
    Reply,
    Request,
    decode_reply,
    encode,
    read_body,
)

log = structlog.get_logger(__name__)

# A worker imports onnxruntime and loads the recognizer and the voice: about 2 s on an idle
# core; ten times that allows for a machine busy with calls.
START_TIMEOUT_S = 30.0
# A stopped worker finishes the request in hand (at most a sentence's synthesis) and exits.
STOP_TIMEOUT_S = 5.0
# Between attempts to replace a worker that failed to start, so a broken model file does not
# turn into a busy loop of interpreter start-ups.
RESTART_BACKOFF_S = 1.0

_REPO_ROOT = str(Path(__file__).resolve().parents[2])


class WorkerStats(msgspec.Struct, frozen=True):
    """One worker's load: sessions pinned to it (in all and per model), requests waiting or
    running, CPU used."""

    slot: int
    pid: int | None
    alive: bool
    sessions: int
    models: dict[str, int]
    queued: int
    cpu_seconds: float
    restarts: int


class PoolStats(msgspec.Struct, frozen=True):
    """The pool's workers, for overload metrics."""

    workers: list[WorkerStats]

    @property
    def queued(self) -> int:
        return sum(w.queued for w in self.workers)

    @property
    def busy(self) -> int:
        return sum(1 for w in self.workers if w.queued)

    @property
    def cpu_seconds(self) -> float:
        return sum(w.cpu_seconds for w in self.workers)


class _Worker:
    """One worker process and the requests in flight to it."""

    def __init__(
        self, slot: int, handlers: list[str], on_exit: Any, cache_dir: Path | None
    ) -> None:
        self.slot = slot
        self._handlers = handlers
        self._cache_dir = cache_dir
        self._on_exit = on_exit
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Queue[Reply | None]] = {}
        self._ids = itertools.count(READY_ID + 1)
        self.alive = False
        # Sessions pinned here, per handler: each model is balanced on its own (see `open`).
        self.handler_sessions: collections.Counter[str] = collections.Counter()
        self.cpu_seconds = 0.0

    @property
    def sessions(self) -> int:
        return self.handler_sessions.total()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def queued(self) -> int:
        return len(self._pending)

    async def start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_REPO_ROOT, env.get("PYTHONPATH")]))
        if self._cache_dir is not None:
            env[CACHE_DIR_ENV] = str(self._cache_dir)
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "providers.local.worker",
            *self._handlers,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        assert self._process.stdout is not None
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                body = await read_body(self._process.stdout)
            ready = decode_reply(body) if body is not None else None
            if ready is None or ready.id != READY_ID:
                raise FrameError("no ready announcement")
        except (TimeoutError, FrameError) as exc:
            await self.kill()
            raise ProviderError(f"local worker failed to start: {exc}", retryable=True) from exc
        self.cpu_seconds = ready.cpu
        self.alive = True
        self._reader = asyncio.create_task(self._read(), name=f"local-worker-{self.slot}")

    async def _read(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        try:
            while (body := await read_body(process.stdout)) is not None:
                reply = decode_reply(body)
                if reply.kind == "item":
                    queue = self._pending.get(reply.id)
                else:
                    queue = self._pending.pop(reply.id, None)
                    self.cpu_seconds = reply.cpu
                if queue is not None:
                    queue.put_nowait(reply)
        except FrameError as exc:
            log.error("local worker sent garbage", pid=process.pid, error=str(exc))
        except asyncio.CancelledError:
            # The loop is shutting down without `stop()`: take the worker down with it.
            self._fail_pending()
            process.kill()
            raise
        self._fail_pending()
        await self.kill()
        self._on_exit(self, process.returncode)

    def _fail_pending(self) -> None:
        self.alive = False
        for queue in self._pending.values():
            queue.put_nowait(None)
        self._pending.clear()

    async def request(
        self, session: int, op: str, data: bytes, args: dict[str, Any]
    ) -> AsyncIterator[Reply]:
        """The items of one request; raises `ProviderError` on its error or the worker's death."""
        process = self._process
        if not self.alive or process is None or process.stdin is None:
            raise ProviderError(f"local worker {self.pid} died", retryable=False)
        rid = next(self._ids)
        queue: asyncio.Queue[Reply | None] = asyncio.Queue()
        self._pending[rid] = queue
        try:
            process.stdin.write(encode(Request(rid, session, op, data, args)))
            await process.stdin.drain()
            while True:
                reply = await queue.get()
                if reply is None:
                    raise ProviderError(f"local worker {self.pid} died", retryable=False)
                if reply.kind == "error":
                    raise ProviderError(reply.text, retryable=False)
                if reply.kind == "done":
                    return
                yield reply
        except (ConnectionError, RuntimeError) as exc:
            raise ProviderError(f"local worker {self.pid} died: {exc}", retryable=False) from exc
        finally:
            # A consumer that stopped early: the rest of this request's replies are dropped.
            self._pending.pop(rid, None)

    async def stop(self) -> None:
        """Close stdin (the worker's signal to exit) and wait; kill it if it does not go."""
        process = self._process
        if process is None:
            return
        self.alive = False
        if process.stdin is not None:
            process.stdin.close()
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await process.wait()
        except TimeoutError:
            await self.kill()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def kill(self) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


class LocalSession:
    """One provider instance's state on one worker; used from one task at a time."""

    _ids = itertools.count(1)

    def __init__(self, worker: _Worker, handler: str) -> None:
        self.id = next(self._ids)
        self.handler = handler
        self._worker = worker
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The worker process holding this session."""
        return self._worker.pid

    def stream(self, op: str, data: bytes = b"", /, **args: Any) -> AsyncIterator[Reply]:
        """The items of operation `op` as the worker produces them."""
        if self._closed:
            raise ProviderError(f"{self.handler}: session closed", retryable=False)
        return self._worker.request(self.id, op, data, args)

    async def call(self, op: str, data: bytes = b"", /, **args: Any) -> list[Reply]:
        """All items of operation `op`."""
        return [reply async for reply in self.stream(op, data, **args)]

    async def close(self) -> None:
        """Release the session's state in its worker (nothing to do if the worker died)."""
        if self._closed:
            return
        try:
            if self._worker.alive:
                await self.call("close")
        except ProviderError:
            pass  # the worker died meanwhile: the state went with it
        finally:
            self._closed = True
            self._worker.handler_sessions[self.handler] -= 1


class LocalPool:
    """`size` warm workers, each with every handler of `handlers` loaded; their handlers keep
    what they derive from their models in `cache_dir` (None: nowhere, see `Handler`)."""

    def __init__(
        self, size: int, handlers: list[str] | None = None, cache_dir: Path | None = None
    ) -> None:
        if size < 1:
            raise ValueError("a local pool needs at least one worker")
        self._handlers = list(HANDLERS) if handlers is None else handlers
        self._cache_dir = cache_dir
        self._workers = [self._new_worker(slot) for slot in range(size)]
        self._restarts = [0] * size
        self._restarting: set[asyncio.Task[None]] = set()
        self._replaced = asyncio.Event()
        self._stopping = False
        self.loop = asyncio.get_running_loop()

    def _new_worker(self, slot: int) -> _Worker:
        return _Worker(slot, self._handlers, self._exited, self._cache_dir)

    @property
    def size(self) -> int:
        return len(self._workers)

    async def start(self) -> None:
        try:
            await asyncio.gather(*(worker.start() for worker in self._workers))
        except BaseException:
            await self.stop()
            raise
        log.info("local workers ready", workers=self.size, pids=[w.pid for w in self._workers])

    async def open(self, handler: str, **options: Any) -> LocalSession:
        """A session of `handler` on the live worker with the fewest sessions of `handler`.

        Balanced per model, not by sessions in all: a call opens a recognizer, then a voice,
        and counting both together pinned every call's recognizer to one worker and every
        voice to the other, so one core decoded for all calls while the other idled.
        """
        if handler not in self._handlers:
            raise ProviderError(f"no local model {handler!r} in the pool", retryable=False)
        worker = await self._least_loaded(handler)
        session = LocalSession(worker, handler)
        worker.handler_sessions[handler] += 1
        try:
            await session.call("open", handler=handler, options=options)
        except BaseException:
            session._closed = True
            worker.handler_sessions[handler] -= 1
            raise
        return session

    async def _least_loaded(self, handler: str) -> _Worker:
        async with asyncio.timeout(START_TIMEOUT_S):
            while True:
                if self._stopping:
                    raise ProviderError("local workers are stopping", retryable=False)
                live = [w for w in self._workers if w.alive]
                if live:
                    return min(
                        live, key=lambda w: (w.handler_sessions[handler], w.sessions, w.queued)
                    )
                self._replaced.clear()
                await self._replaced.wait()

    def stats(self) -> PoolStats:
        return PoolStats(
            [
                WorkerStats(
                    slot=w.slot,
                    pid=w.pid,
                    alive=w.alive,
                    sessions=w.sessions,
                    models={name: n for name, n in w.handler_sessions.items() if n},
                    queued=w.queued,
                    cpu_seconds=w.cpu_seconds,
                    restarts=self._restarts[w.slot],
                )
                for w in self._workers
            ]
        )

    def _exited(self, worker: _Worker, returncode: int | None) -> None:
        if self._stopping or self._workers[worker.slot] is not worker:
            return
        log.warning("local worker died", pid=worker.pid, code=returncode, sessions=worker.sessions)
        task = asyncio.create_task(self._replace(worker.slot), name="local-worker-restart")
        self._restarting.add(task)
        task.add_done_callback(self._restarting.discard)

    async def _replace(self, slot: int) -> None:
        while not self._stopping:
            worker = self._new_worker(slot)
            try:
                await worker.start()
            except ProviderError as exc:
                log.error("local worker restart failed", error=str(exc))
                await asyncio.sleep(RESTART_BACKOFF_S)
                continue
            self._workers[slot] = worker
            self._restarts[slot] += 1
            self._replaced.set()
            if self._stopping:
                await worker.stop()
            return

    async def stop(self) -> None:
        """Stop every worker (they exit when their stdin closes) and any restart under way."""
        self._stopping = True
        self._replaced.set()
        for task in list(self._restarting):
            task.cancel()
        await asyncio.gather(*self._restarting, return_exceptions=True)
        await asyncio.gather(*(worker.stop() for worker in self._workers))
