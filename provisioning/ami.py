"""Outbound registration state over AMI (`PJSIPShowRegistrationsOutbound`), via panoramisk.

Its reply also carries an `AuthDetail` event per registration with the trunk's password in
clear text: only `ObjectName` and `Status` of `OutboundRegistrationDetail` events are read
here, and AMI messages are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any, Final

import structlog
from panoramisk import Manager

from ari_app.tasks import Backoff, cancel_and_wait, supervised_task

log = structlog.get_logger(__name__)

# panoramisk logs whole AMI messages at DEBUG (AuthDetail events carry trunk passwords),
# actions at INFO and, when one cannot be sent, the action itself at ERROR (Login carries the
# secret); some of it before its Manager hands the protocol this logger. None of it is
# logged: AmiConnection logs the session's state itself.
_wire_log = logging.getLogger(f"{__name__}.wire")
_wire_log.setLevel(logging.CRITICAL + 1)
logging.getLogger("panoramisk").setLevel(logging.CRITICAL + 1)

DEFAULT_AMI_PORT: Final = 5038
DEFAULT_TIMEOUT_S: Final = 5.0
# Reconnect delays after a failed login or a lost session: quick after an Asterisk restart,
# at most half a minute apart while AMI stays away (each failure is logged).
DEFAULT_BACKOFF: Final = Backoff(initial_s=0.5, max_s=30.0)
REGISTRATION_EVENT: Final = "OutboundRegistrationDetail"
ENDPOINT_EVENT: Final = "EndpointDetail"
# Asterisk's answer when the endpoint is not in its configuration (res_pjsip ami_show_endpoint).
NO_ENDPOINT_PREFIX: Final = "Unable to retrieve endpoint"


class AmiError(RuntimeError):
    """AMI is unreachable, refused the login, or answered an action with an error."""


def _messages(reply: object) -> list[Mapping[str, Any]]:
    # panoramisk returns a list of messages for an event list and one message for an error;
    # its messages are Mappings with case-insensitive keys.
    items = reply if isinstance(reply, list) else [reply]
    return [item for item in items if isinstance(item, Mapping)]


def _failure(messages: list[Mapping[str, Any]]) -> str | None:
    first = messages[0] if messages else None
    if first is None:
        return "no reply"
    if str(first.get("Response", "Success")) != "Success":
        return str(first.get("Message", "")).strip() or "error"
    return None


def parse_registrations(reply: object) -> dict[str, str]:
    """Registration object name → status (Registered, Unregistered, Rejected, Stopped)."""
    messages = _messages(reply)
    failure = _failure(messages)
    if failure is not None:
        raise AmiError(f"PJSIPShowRegistrationsOutbound failed: {failure}")
    states: dict[str, str] = {}
    for item in messages:
        if str(item.get("Event", "")) == REGISTRATION_EVENT:
            states[str(item.get("ObjectName", ""))] = str(item.get("Status", "Unknown"))
    return states


def parse_endpoint_detail(reply: object) -> dict[str, str] | None:
    """The fields of the EndpointDetail event (keys as Asterisk names them, e.g. `DtmfMode`),
    or None when Asterisk has no such endpoint. Other detail events (AuthDetail carries
    passwords) are dropped."""
    messages = _messages(reply)
    failure = _failure(messages)
    if failure is not None:
        if failure.startswith(NO_ENDPOINT_PREFIX):
            return None
        raise AmiError(f"PJSIPShowEndpoint failed: {failure}")
    for item in messages:
        if str(item.get("Event", "")) == ENDPOINT_EVENT:
            return {str(key): str(value) for key, value in item.items()}
    raise AmiError("PJSIPShowEndpoint answered without an EndpointDetail event")


class _Manager(Manager):  # type: ignore[misc]  # panoramisk has no type hints
    """panoramisk's Manager without its own fixed-delay reconnect timers: `AmiConnection`
    reconnects with backoff and logs each failure."""

    def connection_made(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            return  # `start` sees the failure on the same future
        super().connection_made(future)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connected = False
        self.authenticated = False
        pinger: asyncio.TimerHandle | None = getattr(self, "pinger", None)
        if pinger is not None:
            pinger.cancel()
            self.pinger = None
        self.loop.call_soon(self.on_disconnect, self, exc)


class AmiConnection:
    """One logged-in AMI session to one Asterisk server; `keep_connected` logs in in the
    background and logs in again after every loss."""

    def __init__(
        self,
        host: str,
        username: str,
        secret: str,
        *,
        port: int = DEFAULT_AMI_PORT,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        backoff: Backoff = DEFAULT_BACKOFF,
    ) -> None:
        self._timeout_s = timeout_s
        self._backoff = backoff
        self._connected = False
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._where = f"{host}:{port}"
        self._manager: Any = _Manager(
            loop=asyncio.get_running_loop(),
            host=host,
            port=port,
            username=username,
            secret=secret,
            events="off",
            log=_wire_log,
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
        )

    def _on_login(self, _manager: object) -> None:
        self._connected = True

    def _on_disconnect(self, _manager: object, _exc: object) -> None:
        self._connected = False
        self._lost.set()

    @property
    def connected(self) -> bool:
        """True while a logged-in session is up."""
        return self._connected

    async def start(self) -> None:
        """Connect and log in; raises AmiError when either fails within the timeout."""
        self._lost.clear()
        try:
            await asyncio.wait_for(self._manager.connect(), self._timeout_s)
            login = self._manager.authenticated_future
            if login is not None:
                await asyncio.wait_for(asyncio.shield(login), self._timeout_s)
        except (OSError, TimeoutError) as exc:
            self._manager.close()
            raise AmiError(f"AMI unreachable: {type(exc).__name__}") from exc
        if not self._manager.authenticated:
            self._manager.close()
            raise AmiError("AMI login refused (check VOCALS_AMI_USER and VOCALS_AMI_PASSWORD)")
        self._connected = True

    def keep_connected(self) -> None:
        """Log in in the background, and again after every failure or loss."""
        if self._task is None:
            self._task = supervised_task("ami", self._run)

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                await self.start()
            except AmiError as exc:
                delay = self._backoff.delay(attempt)
                attempt += 1
                log.warning("ami not connected", ami=self._where, error=str(exc),
                            retry_in_s=round(delay, 1))  # fmt: skip
                await asyncio.sleep(delay)
                continue
            attempt = 0
            log.info("ami connected", ami=self._where)
            await self._lost.wait()
            log.warning("ami connection lost", ami=self._where)
            self._manager.close()

    async def _send(self, action: dict[str, str]) -> object:
        if not self._connected:
            raise AmiError("AMI not connected")
        try:
            return await asyncio.wait_for(self._manager.send_action(action), self._timeout_s)
        except TimeoutError as exc:
            raise AmiError(f"AMI did not answer {action['Action']}") from exc

    async def outbound_registrations(self) -> Mapping[str, str]:
        """Current status of every outbound registration Asterisk knows."""
        return parse_registrations(await self._send({"Action": "PJSIPShowRegistrationsOutbound"}))

    async def endpoint_details(self, name: str) -> Mapping[str, str] | None:
        """The endpoint as Asterisk's configuration holds it now, None if it has none.

        Unlike ARI's endpoint list, which keeps endpoints a reload removed, this reads the
        live PJSIP configuration (as `pjsip show endpoint` does)."""
        reply = await self._send({"Action": "PJSIPShowEndpoint", "Endpoint": name})
        return parse_endpoint_detail(reply)

    async def close(self) -> None:
        """Stop reconnecting and close the session."""
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(Exception):
                await cancel_and_wait(task)
        self._connected = False
        self._manager.close()
