"""A local-model worker process: `python -m providers.local.worker [handler ...]`.

Loads each handler's models once, announces itself ready, then serves requests from stdin
until stdin closes (the serving process stopped or died), answering on stdout. Each handler
serves its sessions' requests in order on its own thread, so a long synthesis does not hold
up the recognizers pinned to the same worker (the models' inference releases Python's lock
for most of its work). The models' own output (C libraries print) goes to stderr, never into
the frames.
"""

from __future__ import annotations

import importlib
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import BinaryIO

from providers.local.handler import Handler, Session
from providers.local.handlers import HANDLERS
from providers.local.protocol import CACHE_DIR_ENV, READY_ID, Reply, Request, encode, read_request

# How much lower than the server a worker runs (nice(1) steps; 10 gives it about a tenth
# of the server's share of a contended core).
WORKER_NICENESS = 10


def load_handler(path: str) -> Handler:
    module_name, _, class_name = path.partition(":")
    handler = getattr(importlib.import_module(module_name), class_name)()
    if not isinstance(handler, Handler):
        raise TypeError(f"{path} is not a Handler")
    return handler


class Worker:
    """Routes each request to the lane of the handler its session belongs to."""

    def __init__(self, handlers: dict[str, Handler], out: BinaryIO) -> None:
        self._out = out
        self._write_lock = threading.Lock()
        self._lanes = {name: _Lane(handler, self) for name, handler in handlers.items()}
        self._owners: dict[int, _Lane] = {}

    def send(self, reply: Reply) -> None:
        with self._write_lock:
            self._out.write(encode(reply))
            self._out.flush()

    def end(self, request: Request, error: str | None = None) -> None:
        cpu = time.process_time()
        if error is None:
            self.send(Reply(request.id, "done", cpu=cpu))
        else:
            self.send(Reply(request.id, "error", text=error, cpu=cpu))

    def dispatch(self, request: Request) -> None:
        """Queue `request` on its handler's lane (runs on the thread reading stdin)."""
        if request.op == "open":
            lane = self._lanes.get(str(request.args.get("handler")))
            if lane is not None:
                self._owners[request.session] = lane
        elif request.op == "close":
            lane = self._owners.pop(request.session, None)
        else:
            lane = self._owners.get(request.session)
        if lane is not None:
            lane.requests.put(request)
        elif request.op == "close":
            self.end(request)  # never opened, or its open failed: nothing to release
        elif request.op == "open":
            self.end(request, f"KeyError: no handler {request.args.get('handler')!r}")
        else:
            self.end(request, f"KeyError: no session {request.session}")

    def stop(self) -> None:
        """Let every lane finish the requests queued on it, then return."""
        for lane in self._lanes.values():
            lane.requests.put(None)
        for lane in self._lanes.values():
            lane.thread.join()


class _Lane:
    """One handler's sessions, served in request order on one thread."""

    def __init__(self, handler: Handler, worker: Worker) -> None:
        self._handler = handler
        self._worker = worker
        self._sessions: dict[int, Session] = {}
        self.requests: queue.SimpleQueue[Request | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (request := self.requests.get()) is not None:
            self._serve(request)

    def _serve(self, request: Request) -> None:
        worker = self._worker
        try:
            if request.op == "open":
                self._sessions[request.session] = self._handler.open(
                    request.args.get("options", {})
                )
            elif request.op == "close":
                session = self._sessions.pop(request.session, None)
                if session is not None:
                    session.close()
            else:
                session = self._sessions[request.session]
                for item in session.handle(request.op, request.data, request.args):
                    worker.send(Reply(request.id, "item", data=item.data, text=item.text))
        except Exception as exc:  # one session's failure is reported to it, the worker goes on
            worker.end(request, f"{type(exc).__name__}: {exc}")
            return
        worker.end(request)


def main(names: list[str]) -> None:
    # Below the serving process's priority: on a full machine the event loop that paces every
    # call's audio gets the core first, and a reply waits a little instead.
    os.nice(WORKER_NICENESS)
    # The serving process stops its workers by closing their stdin; a Ctrl-C at the terminal
    # reaches the whole process group and must not kill them under a draining server.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    handlers = {name: load_handler(HANDLERS[name]) for name in names or HANDLERS}
    cache_dir = os.environ.get(CACHE_DIR_ENV)
    for handler in handlers.values():
        handler.cache_dir = Path(cache_dir) if cache_dir else None
        handler.load()
    worker = Worker(handlers, out)
    worker.send(Reply(READY_ID, "done", text=str(os.getpid()), cpu=time.process_time()))
    stdin = sys.stdin.buffer
    while (request := read_request(stdin)) is not None:
        worker.dispatch(request)
    worker.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
