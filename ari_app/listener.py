"""The ARI events WebSocket: connect, decode, hand events on; reconnect with backoff + jitter.

Events sent while the socket is down are lost (Asterisk does not replay them), so every
(re)connect calls `on_connected`, where the controller reconciles with GET /channels.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Final

import aiohttp
import structlog

from ari_app.client import AriSettings
from ari_app.events import AriEvent, BadEvent, UnknownEvent, decode_event
from ari_app.tasks import Backoff, cancel_and_wait, supervised_task

log = structlog.get_logger(__name__)

EventHandler = Callable[[AriEvent | UnknownEvent], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]

# Ping every 10 s: a half-open socket (Asterisk rebooted, NAT dropped) is noticed within ~20 s.
HEARTBEAT_S: Final = 10.0


class EventListener:
    """Keeps one events WebSocket open for `settings.app` and feeds `handler` in order."""

    def __init__(
        self,
        settings: AriSettings,
        handler: EventHandler,
        *,
        on_connected: Hook | None = None,
        on_disconnected: Hook | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.handler = handler
        self.on_connected = on_connected
        self.on_disconnected = on_disconnected
        self.backoff = backoff or Backoff()
        self.connects = 0
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout_s)

    def start(self) -> None:
        if self._task is None:
            self._task = supervised_task(f"ari-events-{self.settings.app}", self._run)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(Exception):
                await cancel_and_wait(task)

    async def _run(self) -> None:
        attempt = 0
        params = {"app": self.settings.app, "subscribeAll": "false"}
        # Asterisk accepts basic auth on the upgrade; an api_key in the URL would be quoted by
        # aiohttp's errors, which are logged.
        headers = {"Authorization": self.settings.authorization}
        async with aiohttp.ClientSession() as session:
            while True:
                try:
                    async with session.ws_connect(
                        self.settings.events_url,
                        params=params,
                        headers=headers,
                        heartbeat=HEARTBEAT_S,
                        timeout=aiohttp.ClientWSTimeout(ws_close=5.0),
                    ) as ws:
                        attempt = 0
                        await self._serve(ws)
                except asyncio.CancelledError:
                    raise
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    log.warning("ari events connect failed", app=self.settings.app, error=str(exc))
                finally:
                    await self._lost()
                delay = self.backoff.delay(attempt)
                attempt += 1
                await asyncio.sleep(delay)

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self.connects += 1
        log.info("ari events connected", app=self.settings.app, connects=self.connects)
        if self.on_connected is not None:
            # Events arriving meanwhile wait in the socket and are handled after it.
            await self._safe(self.on_connected, "on_connected")
        self._connected.set()
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                await self._dispatch(msg.data)
            elif msg.type is aiohttp.WSMsgType.ERROR:
                break
        log.warning("ari events socket closed", app=self.settings.app, code=ws.close_code)

    async def _dispatch(self, raw: str) -> None:
        try:
            event = decode_event(raw)
        except BadEvent as exc:
            log.warning("ari event dropped", app=self.settings.app, error=str(exc))
            return
        try:
            await self.handler(event)
        except Exception:
            log.exception("ari event handler failed", event=type(event).__name__)

    async def _lost(self) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        self._ws = None
        if was_connected and self.on_disconnected is not None:
            await self._safe(self.on_disconnected, "on_disconnected")

    async def _safe(self, hook: Hook, name: str) -> None:
        try:
            await hook()
        except Exception:
            log.exception("ari listener hook failed", hook=name)
