"""A minimal Asterisk 22 for inbound calls: ARI REST + events WebSocket + external media.

It speaks the subset Vocals' call controller uses for an inbound call, the way Asterisk
22.10.1 does in ../shared/fixtures: a caller's channel enters `Stasis(app,inbound,<DID>)`
(StasisStart with args [inbound, DID]); the app answers it, creates a mixing bridge, asks for
an externalMedia channel (AudioSocket: Asterisk connects to the server during the request,
sends the UUID frame just after answering it, then slin frames; RTP: a UnicastRTP socket),
bridges both and hangs up at the end. Channel get/list, bridge get/list/destroy, application
and asterisk info/ping are there for reconciliation and `vocals doctor`; module get/reload and
an empty endpoint list for provisioning (there are no SIP trunks behind this Asterisk).

Caller audio flows at real time (one 20 ms frame every 20 ms per call, silence frames while
the caller is quiet, as a phone sends RTP) once the caller is bridged with the media channel;
what the server sends back is handed to the caller with its arrival time.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec
import structlog
from aiohttp import WSMsgType, web

from vocals.simulator.ari_rest import (
    ASTERISK_ID,
    AUDIOSOCKET_CONNECT_TIMEOUT_S,
    ari_dispatch,
    ari_error,
    ari_timestamp,
    ari_unauthorised,
    asterisk_info,
    asterisk_ping,
    module_response,
    running_module,
)
from vocals.simulator.caller import (
    SILENCE_FRAME,
    AudioSource,
    OnFrameReceived,
    QueueSource,
    SimulatedCall,
)
from vocals.simulator.media import AudioSocketLink, MediaLink, RtpLink

log = structlog.get_logger(__name__)

FRAME_S: Final = 0.020
# The pump re-anchors its clock instead of bursting when it falls this many frames behind
# (a phone's RTP clock does not catch up either); each re-anchor is counted.
PUMP_MAX_LAG_FRAMES: Final = 3
RUNNING_MODULES: Final = frozenset(
    {"res_pjsip.so", "pbx_config.so", "res_ari.so", "chan_audiosocket.so", "chan_rtp.so"}
)
CAUSE_NORMAL: Final = 16
CAUSE_TEXT: Final = {
    16: "Normal Clearing",
    1: "Unallocated (unassigned) number",
    34: "Circuit/channel congestion",
}
# DELETE /channels/{id}?reason=WORD: each keyword Asterisk 22 takes, and its cause.
HANGUP_REASON_CAUSE: Final = {
    "normal": 16,
    "busy": 17,
    "congestion": 34,
    "no_answer": 19,
    "timeout": 18,
    "rejected": 21,
    "unallocated": 1,
    "normal_unspecified": 31,
    "number_incomplete": 28,
    "codec_mismatch": 58,
    "interworking": 127,
    "failure": 38,
    "answered_elsewhere": 26,
}

_encode = msgspec.json.Encoder().encode


@dataclass
class _Channel:
    id: str
    name: str
    state: str
    app: str
    dialplan: dict[str, Any]
    caller: dict[str, str] = field(default_factory=lambda: {"name": "", "number": ""})
    creationtime: str = field(default_factory=ari_timestamp)
    variables: dict[str, str] = field(default_factory=dict)
    in_stasis: bool = True
    # Channels the app created (externalMedia) are subscribed: they also get ChannelDestroyed.
    subscribed: bool = False
    bridge: str | None = None
    call: SimulatedCall | None = None  # the caller's channel
    link: MediaLink | None = None  # an external media channel

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": "",
            "caller": dict(self.caller),
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": dict(self.dialplan),
            "creationtime": self.creationtime,
            "language": "en",
        }


@dataclass
class _Bridge:
    id: str
    name: str
    app: str
    bridge_type: str
    channels: list[str] = field(default_factory=list)
    creationtime: str = field(default_factory=ari_timestamp)

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "technology": "simple_bridge",
            "bridge_type": self.bridge_type,
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": self.name,
            "channels": list(self.channels),
            "creationtime": self.creationtime,
            "video_mode": "talker",
        }


class _EventSocket:
    """One app's events WebSocket, written in order by one task."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._write())

    async def _write(self) -> None:
        while (data := await self.queue.get()) is not None:
            if self.ws.closed:
                return
            try:
                await self.ws.send_str(data.decode())
            except ConnectionError:
                return  # the app's process died: its events are lost, as with Asterisk


class AsteriskSimulator:
    """An Asterisk that Vocals' `vocals serve` controls over ARI, with simulated callers.

    Start it, point the server at `ari_url` (VOCALS_ARI_URL, VOCALS_ARI_USER,
    VOCALS_ARI_PASSWORD), wait for the app's events socket, then `place_call`.
    """

    def __init__(
        self,
        *,
        username: str = "vocals",
        password: str = "vocals",
        host: str = "127.0.0.1",
        app: str = "vocals",
    ) -> None:
        self.app = app
        self.username = username
        self.password = password
        self.host = host
        self.port = 0
        self.pump_reanchors = 0
        self._channels: dict[str, _Channel] = {}
        self._bridges: dict[str, _Bridge] = {}
        self._sockets: dict[str, _EventSocket] = {}
        self._app_connected = asyncio.Event()
        self._ids = itertools.count(1)
        self._epoch = int(time.time())
        self._sip_seq = itertools.count()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._pump: asyncio.Task[None] | None = None
        self._talking: dict[str, tuple[SimulatedCall, MediaLink]] = {}
        self._auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    # ---- lifecycle ---------------------------------------------------------------------

    @property
    def ari_url(self) -> str:
        return f"http://{self.host}:{self.port}/ari"

    async def start(self, port: int = 0) -> None:
        """Listen on `host:port` (0: any free port; see `ari_url`)."""
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/ari/events", self._events_ws)
        r.add_get("/ari/channels", self._list_channels)
        r.add_post("/ari/channels/externalMedia", self._external_media)
        r.add_get("/ari/channels/{id}", self._get_channel)
        r.add_delete("/ari/channels/{id}", self._hangup)
        r.add_post("/ari/channels/{id}/answer", self._answer)
        r.add_get("/ari/bridges", self._list_bridges)
        r.add_post("/ari/bridges", self._create_bridge)
        r.add_post("/ari/bridges/{id}", self._create_bridge)
        r.add_get("/ari/bridges/{id}", self._get_bridge)
        r.add_delete("/ari/bridges/{id}", self._destroy_bridge)
        r.add_post("/ari/bridges/{id}/addChannel", self._add_channel)
        r.add_post("/ari/bridges/{id}/removeChannel", self._remove_channel)
        r.add_get("/ari/applications/{app}", self._get_app)
        r.add_get("/ari/asterisk/info", asterisk_info)
        r.add_get("/ari/asterisk/ping", asterisk_ping)
        r.add_get("/ari/asterisk/modules/{name}", self._get_module)
        r.add_put("/ari/asterisk/modules/{name}", self._reload_module)
        r.add_get("/ari/endpoints", self._list_endpoints)
        r.add_get("/ari/endpoints/{tech}", self._list_endpoints)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, port))
        self.port = listener.getsockname()[1]
        await web.SockSite(self._runner, listener).start()
        self._pump = asyncio.create_task(self._media_pump())

    async def stop(self) -> None:
        """Close every channel's media and socket, then stop listening."""
        if self._pump is not None:
            self._pump.cancel()
        for task in list(self._tasks):
            task.cancel()
        for ch in list(self._channels.values()):
            if ch.link is not None:
                ch.link.close()
            if ch.call is not None and not ch.call.ended.is_set():
                ch.call.ended_by = "simulator"
                ch.call.ended.set()
        for sock in list(self._sockets.values()):
            sock.queue.put_nowait(None)
            await sock.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> AsteriskSimulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_for_app(self, app: str | None = None, timeout_s: float = 30.0) -> None:
        """Until a server has the events WebSocket of `app` open (it is then taking calls)."""
        app = app or self.app
        async with asyncio.timeout(timeout_s):
            while app not in self._sockets:
                self._app_connected.clear()
                await self._app_connected.wait()

    def live_channels(self) -> int:
        return len(self._channels)

    def live_bridges(self) -> int:
        return len(self._bridges)

    def live_calls(self) -> int:
        """Channels and bridges the server has not released yet."""
        return len(self._channels) + len(self._bridges)

    # ---- callers -----------------------------------------------------------------------

    def place_call(
        self,
        did: str,
        audio_source: AudioSource | None = None,
        on_frame_received: OnFrameReceived | None = None,
        *,
        app: str | None = None,
        caller_number: str = "+15550100000",
        send_silence: bool = True,
    ) -> SimulatedCall:
        """A phone dials `did`; the dialplan sends it to `Stasis(app,inbound,<did>)`.

        `audio_source` says what the caller says (default: a `QueueSource`, fed with
        `call.play(pcm)`); `on_frame_received(pcm, at)` gets each 20 ms of slin 8 kHz the
        server sends, with its arrival time (time.monotonic()). With `send_silence` the
        phone sends silence frames while the source is quiet, as RTP phones do.
        """
        app = app or self.app
        if app not in self._sockets:
            raise RuntimeError(f"no application {app!r} is connected (Stasis would fail)")
        channel_id = f"{self._epoch}.{next(self._ids)}"
        source = audio_source if audio_source is not None else QueueSource()
        call = SimulatedCall(
            channel_id,
            did,
            source,
            on_frame_received,
            self._caller_hangup,
            send_silence=send_silence,
        )
        ch = _Channel(
            id=channel_id,
            name=f"PJSIP/trunk-{next(self._sip_seq):08x}",
            state="Ring",
            app=app,
            caller={"name": "", "number": caller_number},
            dialplan={
                "context": "vocals-inbound",
                "exten": did,
                "priority": 1,
                "app_name": "Stasis",
                "app_data": f"{app},inbound,{did}",
            },
            call=call,
        )
        self._channels[ch.id] = ch
        self._channel_event(ch, "StasisStart", args=["inbound", did])
        return call

    async def _caller_hangup(self, call: SimulatedCall) -> None:
        ch = self._channels.get(call.channel_id)
        if ch is None:
            return
        call.ended_by = "caller"
        # A caller's BYE: ChannelHangupRequest without a cause (captured), then the teardown.
        self._channel_event(ch, "ChannelHangupRequest")
        self._destroy(ch, CAUSE_NORMAL)

    # ---- events ------------------------------------------------------------------------

    def _emit(self, app: str, type_: str, **fields: Any) -> None:
        sock = self._sockets.get(app)
        if sock is None:
            return
        event = {
            "type": type_,
            "timestamp": ari_timestamp(),
            **fields,
            "asterisk_id": ASTERISK_ID,
            "application": app,
        }
        sock.queue.put_nowait(_encode(event))

    def _channel_event(self, ch: _Channel, type_: str, **fields: Any) -> None:
        if ch.in_stasis or ch.subscribed:
            self._emit(ch.app, type_, **fields, channel=ch.json())

    async def _events_ws(self, request: web.Request) -> web.StreamResponse:
        app = request.query.get("app")
        if not app:
            return ari_error(400, "missing param: [app]")
        ws = web.WebSocketResponse(protocols=("ari",))
        await ws.prepare(request)
        old = self._sockets.get(app)
        if old is not None:
            self._emit(app, "ApplicationReplaced")
            old.queue.put_nowait(None)
            await old.task
            await old.ws.close()
        sock = _EventSocket(ws)
        self._sockets[app] = sock
        self._app_connected.set()
        async for msg in ws:
            if msg.type is WSMsgType.ERROR:
                break
        if self._sockets.get(app) is sock:
            del self._sockets[app]
            sock.queue.put_nowait(None)
        return ws

    # ---- HTTP plumbing -----------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        authorised = request.headers.get("Authorization") == self._auth or (
            request.query.get("api_key") == f"{self.username}:{self.password}"
        )
        if not authorised:
            return ari_unauthorised()
        return await ari_dispatch(request, handler)

    def _channel(self, request: web.Request) -> _Channel | None:
        return self._channels.get(request.match_info["id"])

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- REST: channels ----------------------------------------------------------------

    async def _list_channels(self, request: web.Request) -> web.Response:
        return web.json_response([c.json() for c in self._channels.values()])

    async def _get_channel(self, request: web.Request) -> web.Response:
        ch = self._channel(request)
        if ch is None:
            return ari_error(404, "Channel not found")
        return web.json_response(ch.json())

    async def _answer(self, request: web.Request) -> web.Response:
        ch = self._channel(request)
        if ch is None:
            return ari_error(404, "Channel not found")
        if ch.state != "Up":
            ch.state = "Up"
            self._channel_event(ch, "ChannelStateChange")
        if ch.call is not None:
            ch.call.answered.set()
        return web.Response(status=204)

    async def _hangup(self, request: web.Request) -> web.Response:
        ch = self._channel(request)
        if ch is None:
            return ari_error(404, "Channel not found")
        reason = request.query.get("reason", "normal")
        cause = HANGUP_REASON_CAUSE.get(reason)
        if cause is None and "reason_code" in request.query:
            cause = int(request.query["reason_code"])
        if cause is None:
            return ari_error(400, "Invalid reason for hangup provided")
        if ch.call is not None:
            ch.call.ended_by = "server"
            ch.call.hangup_cause = cause
        self._destroy(ch, cause)
        return web.Response(status=204)

    async def _external_media(self, request: web.Request) -> web.Response:
        q = request.query
        app, fmt = q.get("app", ""), q.get("format", "")
        if not app:
            return ari_error(400, "app cannot be empty")
        if not fmt:
            return ari_error(400, "format cannot be empty")
        encapsulation, transport = q.get("encapsulation", "rtp"), q.get("transport", "udp")
        if (encapsulation, transport) not in (("rtp", "udp"), ("audiosocket", "tcp")):
            return ari_error(501, "Encapsulation and transport combination not supported")
        host, _, port = q.get("external_host", "").rpartition(":")
        if not host or not port.isdigit():
            return ari_error(400, "external_host must be host:port")
        channel_id = q.get("channelId") or f"{self._epoch}.{next(self._ids)}"
        if channel_id in self._channels:
            return ari_error(409, "Channel with given unique ID already exists")
        data = q.get("data", "")
        ch = _Channel(
            id=channel_id,
            name="",
            state="Down",
            app=app,
            in_stasis=False,
            subscribed=True,
            dialplan={
                "context": "default",
                "exten": "s",
                "priority": 1,
                "app_name": "AppDial2",
                "app_data": "(Outgoing Line)",
            },
        )
        if encapsulation == "audiosocket":
            if not data:
                return ari_error(400, "data can not be empty")
            try:
                call_uuid = uuid.UUID(data)
            except ValueError:
                return ari_error(500, "Allocation failed")
            ch.name = f"AudioSocket/{host}:{port}-{data}"
            try:
                # chan_audiosocket connects while the HTTP request is being handled.
                link: MediaLink = await AudioSocketLink.connect(
                    host,
                    int(port),
                    AUDIOSOCKET_CONNECT_TIMEOUT_S,
                    call_uuid,
                    fmt,
                    self._audio_to_caller(ch),
                    lambda reason: self._media_gone(ch, reason),
                )
            except (OSError, TimeoutError):
                return ari_error(500, "Allocation failed")
            shown = {"AUDIOSOCKET_UUID": data, "AUDIOSOCKET_SERVICE": f"{host}:{port}"}
        else:
            rtp = RtpLink(fmt, self._audio_to_caller(ch))
            local_port = await rtp.open((host, int(port)))
            link = rtp
            ch.name = f"UnicastRTP/{host}:{port}-0x{id(rtp):x}"
            shown = {
                "UNICASTRTP_LOCAL_PORT": str(local_port),
                "UNICASTRTP_LOCAL_ADDRESS": "127.0.0.1",
            }
        ch.link = link
        ch.variables.update(shown)
        self._channels[ch.id] = ch
        answer = ch.json()
        answer["channelvars"] = shown
        self._spawn(self._external_media_up(ch, [data] if data else []))
        return web.json_response(answer)

    async def _external_media_up(self, ch: _Channel, args: list[str]) -> None:
        await asyncio.sleep(0.002)  # the UUID and StasisStart follow the HTTP answer
        if ch.id not in self._channels:
            return
        if isinstance(ch.link, AudioSocketLink):
            ch.link.send_uuid()
        dialstring = ch.name.split("/", 1)[1]
        self._emit(ch.app, "Dial", dialstatus="", forward="", dialstring=dialstring, peer=ch.json())
        ch.state = "Up"
        self._channel_event(ch, "ChannelStateChange")
        self._emit(
            ch.app, "Dial", dialstatus="ANSWER", forward="", dialstring=dialstring, peer=ch.json()
        )
        ch.dialplan = {
            "context": "default",
            "exten": "s",
            "priority": 1,
            "app_name": "Stasis",
            "app_data": ",".join([ch.app, *args]),
        }
        ch.in_stasis = True
        self._channel_event(ch, "StasisStart", args=args)

    def _audio_to_caller(self, media: _Channel) -> Callable[[bytes, float], None]:
        def deliver(pcm: bytes, at: float) -> None:
            for peer in self._bridge_peers(media):
                if peer.call is not None:
                    peer.call.frame_received(pcm, at)

        return deliver

    def _media_gone(self, ch: _Channel, reason: str) -> None:
        """The server closed the AudioSocket or sent 0x00/garbage: the channel hangs up."""
        if ch.id in self._channels:
            log.debug("external media ended by the server", channel=ch.id, reason=reason)
            self._destroy(ch, CAUSE_NORMAL)

    def _destroy(self, ch: _Channel, cause: int) -> None:
        """Hang a channel up: leave its bridge, StasisEnd, ChannelDestroyed (subscribed only)."""
        if self._channels.pop(ch.id, None) is None:
            return
        if ch.link is not None:
            ch.link.close()
        if ch.bridge is not None:
            self._leave_bridge(ch)
        if ch.in_stasis:
            self._channel_event(ch, "StasisEnd")
            ch.in_stasis = False
        if ch.subscribed:
            text = CAUSE_TEXT.get(cause, "Unknown")
            self._channel_event(ch, "ChannelDestroyed", cause=cause, cause_txt=text)
        if ch.call is not None and not ch.call.ended.is_set():
            ch.call.ended_by = ch.call.ended_by or "server"
            ch.call.ended.set()

    # ---- REST: bridges -----------------------------------------------------------------

    async def _list_bridges(self, request: web.Request) -> web.Response:
        return web.json_response([b.json() for b in self._bridges.values()])

    async def _create_bridge(self, request: web.Request) -> web.Response:
        q = request.query
        bridge_id = request.match_info.get("id") or q.get("bridgeId") or str(uuid.uuid4())
        if bridge_id in self._bridges:
            return ari_error(409, "Bridge with id already exists")
        app = next(iter(self._sockets), "vocals")
        bridge_type = q.get("type", "mixing").split(",")[0]
        bridge = _Bridge(bridge_id, q.get("name", ""), app, bridge_type)
        self._bridges[bridge_id] = bridge
        return web.json_response(bridge.json())

    async def _get_bridge(self, request: web.Request) -> web.Response:
        bridge = self._bridges.get(request.match_info["id"])
        if bridge is None:
            return ari_error(404, "Bridge not found")
        return web.json_response(bridge.json())

    async def _destroy_bridge(self, request: web.Request) -> web.Response:
        bridge = self._bridges.get(request.match_info["id"])
        if bridge is None:
            return ari_error(404, "Bridge not found")
        for cid in list(bridge.channels):
            self._leave_bridge(self._channels[cid])
        del self._bridges[bridge.id]
        self._emit(bridge.app, "BridgeDestroyed", bridge=bridge.json())
        return web.Response(status=204)

    async def _add_channel(self, request: web.Request) -> web.Response:
        bridge = self._bridges.get(request.match_info["id"])
        ids = [c for c in request.query.get("channel", "").split(",") if c]
        if not ids:
            return ari_error(400, "missing param: [channel]")
        if bridge is None:
            return ari_error(404, "Bridge not found")
        chans = [self._channels.get(c) for c in ids]
        if any(c is None for c in chans):
            return ari_error(400, "Channel not found")
        if any(c is not None and not c.in_stasis for c in chans):
            return ari_error(422, "Channel not in Stasis application")
        for ch in chans:
            assert ch is not None
            if ch.bridge == bridge.id:
                continue
            if ch.bridge is not None:
                self._leave_bridge(ch)
            ch.bridge = bridge.id
            bridge.channels.append(ch.id)
            self._emit(bridge.app, "ChannelEnteredBridge", bridge=bridge.json(), channel=ch.json())
        self._update_talking(bridge)
        return web.Response(status=204)

    async def _remove_channel(self, request: web.Request) -> web.Response:
        bridge = self._bridges.get(request.match_info["id"])
        if bridge is None:
            return ari_error(404, "Bridge not found")
        for cid in request.query.get("channel", "").split(","):
            ch = self._channels.get(cid)
            if ch is None:
                return ari_error(400, "Channel not found")
            if ch.bridge != bridge.id:
                return ari_error(422, "Channel not in this bridge")
            self._leave_bridge(ch)
        return web.Response(status=204)

    def _leave_bridge(self, ch: _Channel) -> None:
        bridge = self._bridges.get(ch.bridge or "")
        ch.bridge = None
        if bridge is None:
            return
        bridge.channels.remove(ch.id)
        self._emit(bridge.app, "ChannelLeftBridge", bridge=bridge.json(), channel=ch.json())
        self._update_talking(bridge)
        if ch.call is not None:
            self._talking.pop(ch.id, None)

    def _bridge_peers(self, ch: _Channel) -> list[_Channel]:
        bridge = self._bridges.get(ch.bridge or "")
        if bridge is None:
            return []
        return [self._channels[c] for c in bridge.channels if c != ch.id and c in self._channels]

    def _update_talking(self, bridge: _Bridge) -> None:
        """Which callers are bridged with external media (their audio flows) right now."""
        members = [self._channels[c] for c in bridge.channels if c in self._channels]
        callers = [c for c in members if c.call is not None]
        links = [c.link for c in members if c.link is not None]
        for caller in callers:
            assert caller.call is not None
            if links:
                self._talking[caller.id] = (caller.call, links[0])
                caller.call.encapsulation = links[0].encapsulation
                caller.call.media_up.set()
            else:
                self._talking.pop(caller.id, None)

    # ---- REST: applications, asterisk ---------------------------------------------------

    async def _get_app(self, request: web.Request) -> web.Response:
        app = request.match_info["app"]
        if app not in self._sockets:
            return ari_error(404, "Application not found")
        return web.json_response(
            {
                "name": app,
                "channel_ids": [c.id for c in self._channels.values() if c.app == app],
                "bridge_ids": [b.id for b in self._bridges.values() if b.app == app],
                "endpoint_ids": [],
                "device_names": [],
                "events_allowed": [],
                "events_disallowed": [],
            }
        )

    async def _get_module(self, request: web.Request) -> web.Response:
        return module_response(running_module(request, RUNNING_MODULES))

    async def _reload_module(self, request: web.Request) -> web.Response:
        """Provisioning reloads res_pjsip after writing trunks: nothing to reload here."""
        if running_module(request, RUNNING_MODULES) is None:
            return ari_error(404, "Module not found in running modules")
        return web.Response(status=204)

    async def _list_endpoints(self, request: web.Request) -> web.Response:
        """No SIP trunks: callers come straight into Stasis."""
        tech = request.match_info.get("tech")
        if tech not in (None, "PJSIP"):
            return ari_error(404, "No Endpoints found - invalid tech")
        return web.json_response([])

    # ---- media -------------------------------------------------------------------------

    async def _media_pump(self) -> None:
        """Every 20 ms, one frame from each bridged caller to its external media."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += FRAME_S
            delay = next_at - loop.time()
            if delay < -PUMP_MAX_LAG_FRAMES * FRAME_S:
                self.pump_reanchors += 1
                next_at = loop.time()
            elif delay > 0:
                await asyncio.sleep(delay)
            for call, link in list(self._talking.values()):
                frame = call.source.next_frame()
                if frame is None:
                    if not call.send_silence:
                        continue
                    frame = SILENCE_FRAME
                call.frames_sent += 1
                link.send_audio(frame)
