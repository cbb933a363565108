"""ARI REST client (aiohttp) with typed results, request timeouts and typed errors.

One `AriClient` talks to one Asterisk server as one Stasis application; run several for
several servers. The events WebSocket lives in `ari_app.listener`.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeVar
from urllib.parse import quote

import aiohttp
import msgspec
import structlog
from yarl import URL

from ari_app.errors import AriUnreachable, error_for
from ari_app.models import (
    Application,
    AsteriskInfo,
    AsteriskPing,
    Bridge,
    Channel,
    Endpoint,
    ErrorBody,
    Module,
    Playback,
    Variable,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")

# ARI answers in milliseconds; 10 s means Asterisk is stuck, and the caller must not hang.
DEFAULT_REQUEST_TIMEOUT_S: Final = 10.0
# Originating resolves a hostname and allocates a channel synchronously; allow it longer.
ORIGINATE_TIMEOUT_S: Final = 15.0

_error_decoder = msgspec.json.Decoder(ErrorBody)


class AriSettings(msgspec.Struct, kw_only=True, frozen=True):
    """Where one Asterisk's ARI is and which Stasis application name we register there."""

    url: str  # http://host:8088/ari (with any http.conf prefix)
    username: str
    password: str
    app: str = "vocals"
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S

    @property
    def authorization(self) -> str:
        """The Authorization header of every request, the events WebSocket's upgrade included
        (credentials never go in a URL: URLs end up in error messages and logs)."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"

    @property
    def events_url(self) -> URL:
        base = URL(self.url)
        scheme = "wss" if base.scheme == "https" else "ws"
        return base.with_scheme(scheme) / "events"


def _csv(values: Sequence[str]) -> str:
    return ",".join(values)


def _seg(value: str) -> str:
    """One URL path segment; ids may hold characters such as '/' (PROTOCOLS.md §1.1)."""
    return quote(value, safe="")


def _params(**values: object) -> dict[str, str]:
    """Query parameters without the unset ones; bools as ARI's true/false."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


class AriClient:
    """Typed ARI REST operations for one Asterisk server."""

    def __init__(
        self, settings: AriSettings, *, session: aiohttp.ClientSession | None = None
    ) -> None:
        self.settings = settings
        self.app = settings.app
        self._base = settings.url.rstrip("/")
        self._headers = {"Authorization": settings.authorization}
        self._own_session = session is None
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=settings.request_timeout_s)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> AriClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> bytes:
        """One REST call; returns the raw body (empty for 204) or raises an `AriError`."""
        url = URL(self._base + path, encoded=True)
        timeout = self._timeout if timeout_s is None else aiohttp.ClientTimeout(total=timeout_s)
        data = None if body is None else msgspec.json.encode(body)
        headers = self._headers
        if data is not None:
            headers = {**headers, "Content-Type": "application/json"}
        try:
            async with self.session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=timeout,
            ) as resp:
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise AriUnreachable(0, str(exc) or type(exc).__name__, method, path) from exc
        if status >= 300:
            message = raw.decode(errors="replace")
            with contextlib.suppress(msgspec.DecodeError):
                message = _error_decoder.decode(raw).message or message
            raise error_for(status, message, method, path)
        return raw

    async def _typed(self, type_: type[T], method: str, path: str, **kw: Any) -> T:
        raw = await self.request(method, path, **kw)
        return msgspec.json.decode(raw, type=type_)

    # Channels -------------------------------------------------------------------------

    async def list_channels(self) -> list[Channel]:
        return await self._typed(list[Channel], "GET", "/channels")

    async def get_channel(self, channel_id: str) -> Channel:
        return await self._typed(Channel, "GET", f"/channels/{_seg(channel_id)}")

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/answer")

    async def hangup(
        self, channel_id: str, *, reason: str | None = None, reason_code: int | None = None
    ) -> None:
        """Hang up (`reason` keyword such as normal/busy/no_answer, or a Q.850 `reason_code`)."""
        if reason is not None and reason_code is not None:
            raise ValueError("give reason or reason_code, not both")
        await self.request(
            "DELETE",
            f"/channels/{_seg(channel_id)}",
            params=_params(reason=reason, reason_code=reason_code),
        )

    async def originate(
        self,
        endpoint: str,
        *,
        channel_id: str | None = None,
        app: str | None = None,
        app_args: Sequence[str] | None = None,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
        caller_id: str | None = None,
        timeout_s: int | None = None,
        variables: Mapping[str, str] | None = None,
        other_channel_id: str | None = None,
        originator: str | None = None,
        formats: Sequence[str] | None = None,
    ) -> Channel:
        """`POST /channels[/{channelId}]`: into a Stasis `app` or into dialplan `context`."""
        if app is None and context is None and extension is None:
            raise ValueError("originate needs app or context/extension")
        params = _params(
            endpoint=endpoint,
            app=app,
            appArgs=None if app_args is None else _csv(app_args),
            context=context,
            extension=extension,
            priority=priority,
            label=label,
            callerId=caller_id,
            timeout=timeout_s,
            otherChannelId=other_channel_id,
            originator=originator,
            formats=None if formats is None else _csv(formats),
        )
        path = "/channels" if channel_id is None else f"/channels/{_seg(channel_id)}"
        body = None if variables is None else {"variables": dict(variables)}
        return await self._typed(
            Channel, "POST", path, params=params, body=body, timeout_s=ORIGINATE_TIMEOUT_S
        )

    async def external_media(
        self,
        *,
        external_host: str | None,
        format: str,
        app: str | None = None,
        channel_id: str | None = None,
        encapsulation: str = "audiosocket",
        transport: str = "tcp",
        connection_type: str | None = None,
        direction: str | None = None,
        data: str | None = None,
        transport_data: str | None = None,
        variables: Mapping[str, str] | None = None,
    ) -> Channel:
        """`POST /channels/externalMedia` (PROTOCOLS.md §1.7). For AudioSocket, `data` is the
        UUID Asterisk sends first; Asterisk connects while this request is being handled."""
        params = _params(
            app=app or self.app,
            channelId=channel_id,
            external_host=external_host,
            encapsulation=encapsulation,
            transport=transport,
            connection_type=connection_type,
            format=format,
            direction=direction,
            data=data,
            transport_data=transport_data,
        )
        body = None if variables is None else {"variables": dict(variables)}
        return await self._typed(
            Channel,
            "POST",
            "/channels/externalMedia",
            params=params,
            body=body,
            timeout_s=ORIGINATE_TIMEOUT_S,
        )

    async def continue_in_dialplan(
        self, channel_id: str, *, context: str, extension: str, priority: int = 1
    ) -> None:
        """`POST /channels/{id}/continue`: the channel leaves Stasis (StasisEnd) and runs the
        dialplan from there."""
        await self.request(
            "POST",
            f"/channels/{_seg(channel_id)}/continue",
            params=_params(context=context, extension=extension, priority=priority),
        )

    async def get_variable(self, channel_id: str, name: str) -> str:
        var = await self._typed(
            Variable, "GET", f"/channels/{_seg(channel_id)}/variable", params={"variable": name}
        )
        return var.value

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self.request(
            "POST",
            f"/channels/{_seg(channel_id)}/variable",
            params={"variable": name, "value": value},
        )

    async def send_dtmf(
        self,
        channel_id: str,
        dtmf: str,
        *,
        between_ms: int | None = None,
        duration_ms: int | None = None,
    ) -> None:
        """Play `dtmf` to the channel's far end (204); the call returns once Asterisk queued it."""
        await self.request(
            "POST",
            f"/channels/{_seg(channel_id)}/dtmf",
            params=_params(dtmf=dtmf, between=between_ms, duration=duration_ms),
        )  # fmt: skip

    async def play(
        self, channel_id: str, media: Sequence[str], *, playback_id: str | None = None
    ) -> Playback:
        path = f"/channels/{_seg(channel_id)}/play"
        if playback_id is not None:
            path += f"/{_seg(playback_id)}"
        return await self._typed(Playback, "POST", path, params={"media": _csv(media)})

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{_seg(playback_id)}")

    # Bridges --------------------------------------------------------------------------

    async def create_bridge(
        self, *, bridge_id: str | None = None, name: str | None = None, type: str = "mixing"
    ) -> Bridge:
        path = "/bridges" if bridge_id is None else f"/bridges/{_seg(bridge_id)}"
        return await self._typed(Bridge, "POST", path, params=_params(type=type, name=name))

    async def get_bridge(self, bridge_id: str) -> Bridge:
        return await self._typed(Bridge, "GET", f"/bridges/{_seg(bridge_id)}")

    async def list_bridges(self) -> list[Bridge]:
        return await self._typed(list[Bridge], "GET", "/bridges")

    async def add_channels(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        await self.request(
            "POST", f"/bridges/{_seg(bridge_id)}/addChannel", params={"channel": _csv(channel_ids)}
        )

    async def remove_channels(self, bridge_id: str, channel_ids: Sequence[str]) -> None:
        await self.request(
            "POST",
            f"/bridges/{_seg(bridge_id)}/removeChannel",
            params={"channel": _csv(channel_ids)},
        )

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{_seg(bridge_id)}")

    # Applications (event subscriptions) -----------------------------------------------

    async def get_application(self) -> Application:
        return await self._typed(Application, "GET", f"/applications/{_seg(self.app)}")

    async def subscribe(self, event_source: str) -> Application:
        """Subscribe the app to `channel:<id>` (etc.): pre-Stasis events and ChannelDestroyed."""
        return await self._typed(
            Application,
            "POST",
            f"/applications/{_seg(self.app)}/subscription",
            params={"eventSource": event_source},
        )

    async def unsubscribe(self, event_source: str) -> Application:
        return await self._typed(
            Application,
            "DELETE",
            f"/applications/{_seg(self.app)}/subscription",
            params={"eventSource": event_source},
        )

    # Asterisk -------------------------------------------------------------------------

    async def info(self, only: Sequence[str] | None = None) -> AsteriskInfo:
        params = None if only is None else {"only": _csv(only)}
        return await self._typed(AsteriskInfo, "GET", "/asterisk/info", params=params)

    async def ping(self) -> AsteriskPing:
        return await self._typed(AsteriskPing, "GET", "/asterisk/ping")

    async def get_module(self, name: str) -> Module:
        return await self._typed(Module, "GET", f"/asterisk/modules/{_seg(name)}")

    async def reload_module(self, name: str) -> None:
        """`PUT /asterisk/modules/{_seg(name)}`. 204 does not prove the config was accepted."""
        await self.request("PUT", f"/asterisk/modules/{_seg(name)}")

    # Endpoints ------------------------------------------------------------------------

    async def list_endpoints(self, tech: str | None = None) -> list[Endpoint]:
        path = "/endpoints" if tech is None else f"/endpoints/{_seg(tech)}"
        return await self._typed(list[Endpoint], "GET", path)

    async def get_endpoint(self, tech: str, resource: str) -> Endpoint:
        return await self._typed(Endpoint, "GET", f"/endpoints/{_seg(tech)}/{_seg(resource)}")
