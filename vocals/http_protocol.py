"""uvicorn's h11 protocol with what it lacks against slow clients: a deadline for each request
and a cap on open connections enforced when they open.

uvicorn times out only idle keep-alive connections: a client that sends its request line and
headers a byte at a time, or never finishes its body, holds a file descriptor for ever, and
`limit_concurrency` is checked only once a request has fully arrived.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

# h11 states of the client side once its request has fully arrived (or the connection ends).
_REQUEST_READ = frozenset({h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR})


def h11_with_deadlines(request_timeout_s: float) -> type[H11Protocol]:
    """The protocol class for `uvicorn.Config(http=...)`; the connection cap is the config's
    `limit_concurrency`."""

    class DeadlineH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            limit = self.limit_concurrency
            if limit is not None and len(self.connections) >= limit:
                transport.abort()
                return
            super().connection_made(transport)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self.transport is not None:
                super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self.conn.their_state is h11.IDLE:
                self._arm()
            super().data_received(data)
            if self.conn.their_state in _REQUEST_READ:
                self._disarm()

        def handle_websocket_upgrade(self, event: h11.Request) -> None:
            # From here on the WebSocket protocol's own timeouts (pings) apply.
            self._disarm()
            super().handle_websocket_upgrade(event)

        def _arm(self) -> None:
            if self._deadline is None:
                self._deadline = self.loop.call_later(request_timeout_s, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.close()

    return DeadlineH11Protocol
