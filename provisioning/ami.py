"""Outbound registration state over AMI (`PJSIPShowRegistrationsOutbound`), via panoramisk.

Its reply also carries an `AuthDetail` event per registration with the trunk's password in
clear text: only `ObjectName` and `Status` of `OutboundRegistrationDetail` events are read
here, and AMI messages are never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any, Final

from panoramisk import Manager

# panoramisk logs whole AMI messages at DEBUG and actions (Login carries the secret) at
# INFO; its log goes to this logger, which passes only warnings and errors.
_wire_log = logging.getLogger(f"{__name__}.wire")
_wire_log.setLevel(logging.WARNING)

DEFAULT_AMI_PORT: Final = 5038
DEFAULT_TIMEOUT_S: Final = 5.0
# panoramisk reconnects on its own after a lost connection, waiting this long between tries.
DEFAULT_RECONNECT_S: Final = 5
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


class AmiConnection:
    """One logged-in AMI session to one Asterisk server, reconnecting by itself."""

    def __init__(
        self,
        host: str,
        username: str,
        secret: str,
        *,
        port: int = DEFAULT_AMI_PORT,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        reconnect_s: int = DEFAULT_RECONNECT_S,
    ) -> None:
        self._timeout_s = timeout_s
        self._connected = False
        self._manager: Any = Manager(
            loop=asyncio.get_running_loop(),
            host=host,
            port=port,
            username=username,
            secret=secret,
            events="off",
            reconnect_timeout=reconnect_s,
            log=_wire_log,
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
        )

    def _on_login(self, _manager: object) -> None:
        self._connected = True

    def _on_disconnect(self, _manager: object, _exc: object) -> None:
        self._connected = False

    @property
    def connected(self) -> bool:
        """True while a logged-in session is up (panoramisk reconnects after a loss)."""
        return self._connected

    async def start(self) -> None:
        """Connect and log in; raises AmiError when either fails within the timeout."""
        try:
            await asyncio.wait_for(self._manager.connect(), self._timeout_s)
            login = self._manager.authenticated_future
            if login is not None:
                await asyncio.wait_for(asyncio.shield(login), self._timeout_s)
        except (OSError, TimeoutError) as exc:
            raise AmiError(f"AMI unreachable: {type(exc).__name__}") from exc
        if not self._manager.authenticated:
            raise AmiError("AMI login refused")
        self._connected = True

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

    def close(self) -> None:
        """Close the session (no reconnect follows)."""
        self._manager.close()
