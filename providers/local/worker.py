"""A local-model worker process: `python -m providers.local.worker [handler ...]`.

Loads each handler's models once, announces itself ready, then serves requests from stdin
one at a time until stdin closes (the serving process stopped or died), answering on
stdout. The models' own output (C libraries print) goes to stderr, never into the frames.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
from typing import BinaryIO

from providers.local.handler import Handler, Session
from providers.local.handlers import HANDLERS
from providers.local.protocol import READY_ID, Reply, Request, encode, read_request

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
    """Sessions of this process by id, and the loaded handlers that open them."""

    def __init__(self, handlers: dict[str, Handler], out: BinaryIO) -> None:
        self._handlers = handlers
        self._sessions: dict[int, Session] = {}
        self._out = out

    def send(self, reply: Reply) -> None:
        self._out.write(encode(reply))
        self._out.flush()

    def end(self, request: Request, error: str | None = None) -> None:
        cpu = time.process_time()
        if error is None:
            self.send(Reply(request.id, "done", cpu=cpu))
        else:
            self.send(Reply(request.id, "error", text=error, cpu=cpu))

    def serve(self, request: Request) -> None:
        try:
            if request.op == "open":
                handler = self._handlers[str(request.args["handler"])]
                self._sessions[request.session] = handler.open(request.args.get("options", {}))
            elif request.op == "close":
                session = self._sessions.pop(request.session, None)
                if session is not None:
                    session.close()
            else:
                session = self._sessions[request.session]
                for item in session.handle(request.op, request.data, request.args):
                    self.send(Reply(request.id, "item", data=item.data, text=item.text))
        except Exception as exc:  # one session's failure is reported to it, the worker goes on
            self.end(request, f"{type(exc).__name__}: {exc}")
            return
        self.end(request)


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
    for handler in handlers.values():
        handler.load()
    worker = Worker(handlers, out)
    worker.send(Reply(READY_ID, "done", text=str(os.getpid()), cpu=time.process_time()))
    stdin = sys.stdin.buffer
    while (request := read_request(stdin)) is not None:
        worker.serve(request)


if __name__ == "__main__":
    main(sys.argv[1:])
