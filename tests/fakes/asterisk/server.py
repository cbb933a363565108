"""A protocol-faithful fake Asterisk 22: ARI REST + events WebSocket + external media.

Start it, point an `AriClient` at `fake.ari_url`, script callers and callees, read the REST
log. Behaviour follows the Asterisk 22.10.1 captures in ../shared/fixtures (event names,
fields and order per scenario, status codes and messages); see tests/ari/ for the replays.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aiohttp import WSMsgType, web

from tests.fakes.asterisk.caller import Callee, ScriptedCaller
from tests.fakes.asterisk.dialplan import Dialplan
from tests.fakes.asterisk.playback import TonePlayback
from tests.provisioning.asterisk_conf import parse_config
from vocals.simulator.ari import HANGUP_REASON_CAUSE
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
from vocals.simulator.media import AudioSocketLink, OnAudio, RtpLink

# A callee's refusal of the INVITE (and an INVITE with no transport to leave by): the cause,
# SIP status and Dial status Asterisk 22.10.1 reported.
REFUSALS: Final = {
    "busy": (17, 486, "BUSY"),
    "rejected": (21, 403, "NOANSWER"),
    "no-transport": (34, 503, "CONGESTION"),
}


def _dialstring(ch: FakeChannel) -> str:
    """`<number>@<endpoint>` as a Dial event names an outgoing SIP channel."""
    endpoint = ch.name.split("/", 1)[1].rsplit("-", 1)[0]
    return f"{ch.far.number if ch.far else ''}@{endpoint}"


# Events of a channel in Stasis that an app subscribed to its endpoint gets twice; snapshot
# events (ChannelStateChange, ChannelDestroyed, ...) and StasisStart/End come once.
FORWARDED_TWICE: Final = frozenset({"ChannelVarset", "ChannelHangupRequest", "ChannelDtmfReceived"})
CAUSE_TXT = {
    16: "Normal Clearing",
    21: "Call Rejected",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    34: "Circuit/channel congestion",
    0: "Unknown",
}
RUNNING_MODULES = (
    "res_pjsip.so",
    "pbx_config.so",
    "app_amd.so",
    "res_ari.so",
    "chan_rtp.so",
    "chan_audiosocket.so",
    "res_stasis.so",
)
TIMER_B_S = 32.0  # SIP INVITE timeout when nobody answers at all
# POST /channels/{id}/dtmf timing parameters and their defaults (ms), as channels.json has them.
DTMF_TIMING_DEFAULTS = {"before": 0, "between": 100, "duration": 100}
DTMF_KEYS = frozenset("0123456789*#ABCD")


def _atoi(value: str | None, default: int) -> int:
    """An ARI integer parameter as Asterisk reads it (atoi: no leading number is 0)."""
    if value is None:
        return default
    digits = re.match(r"\s*[-+]?\d+", value)
    return int(digits.group()) if digits else 0


SHIPPED_PJSIP = Path(__file__).resolve().parents[3] / "asterisk" / "conf" / "pjsip.conf"


def pjsip_objects(text: str, kind: str) -> dict[str, dict[str, str]]:
    """The `type = kind` sections of a pjsip.conf text: name -> options."""
    return {
        s.name: {key: value for key, _, value in s.entries}
        for s in parse_config(text).sections
        if s.values("type") == [kind]
    }


def shipped_inbound_context(exten: str) -> list[str] | None:
    """What the shipped `vocals-inbound` context (asterisk/conf/extensions.conf) does with a
    dialled extension: `_X.` -> Stasis(vocals,inbound,<exten>); `_+X.` -> the same without
    the `+`."""
    if exten.startswith("+"):
        exten = exten[1:]
    if len(exten) < 2 or not exten[0].isdigit():
        return None
    return ["vocals", "inbound", exten]


@dataclass
class RestCall:
    """One REST request as the fake saw it (`t` is time.monotonic())."""

    t: float
    method: str
    path: str
    params: dict[str, str]
    body: Any
    status: int


@dataclass
class Origination:
    """One outgoing SIP channel: when it was originated and when it was gone (monotonic),
    its id (a Vocals call id) and the Stasis app that asked for it."""

    number: str
    caller_id: str
    started: float
    ended: float | None = None
    channel_id: str = ""
    app: str | None = None


@dataclass
class FakeChannel:
    id: str
    name: str
    state: str
    caller: dict[str, str]
    dialplan: dict[str, Any]
    kind: str  # sip | audiosocket | rtp
    creationtime: str = field(default_factory=ari_timestamp)
    accountcode: str = ""
    connected: dict[str, str] = field(default_factory=lambda: {"name": "", "number": ""})
    variables: dict[str, str] = field(default_factory=dict)
    shown_vars: tuple[str, ...] | None = None
    app: str | None = None  # the app whose events it produces
    in_stasis: bool = False
    subscribed: bool = False
    bridge: str | None = None
    far: ScriptedCaller | None = None
    audiosocket: AudioSocketLink | None = None
    rtp: RtpLink | None = None
    destroyed: bool = False
    hangup_cause: int = 16
    partner: str | None = None  # the other half of a Local channel
    stasis_args: list[str] = field(default_factory=list)  # of a Local ;1 originated into an app
    origination: Origination | None = None  # of an outgoing SIP channel

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": "",
            "caller": dict(self.caller),
            "connected": dict(self.connected),
            "accountcode": self.accountcode,
            "dialplan": dict(self.dialplan),
            "creationtime": self.creationtime,
            "language": "en",
        }
        if self.shown_vars is not None:
            out["channelvars"] = {k: self.variables.get(k, "") for k in self.shown_vars}
        return out


@dataclass
class FakeBridge:
    id: str
    name: str
    app: str
    bridge_type: str = "mixing"
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


class FakeAsterisk:
    """ARI on 127.0.0.1 (basic auth or api_key), events WebSocket, AudioSocket/RTP media.

    * `inbound_call(did, ...)` puts a caller into `Stasis(app,inbound,<did>)`.
    * `callees[number] = Callee(...)` (or `default_callee`) decides what a dialled number
      does; answered callees appear in `answered` (a queue of `ScriptedCaller`).
    * `originations` logs every outgoing SIP channel with when it began and ended;
    * `originate_delay_s` holds each originate request that long before acting on it (a slow
      Asterisk or link); `peak_originating` is the most such requests held at once.
    * `rest_log` lists every REST call; `live_channels()`/`live_bridges()` count what is left.
    * `drop_event_sockets()` closes the events WebSockets (events meanwhile are lost).
    * `POST /channels/{id}/play` with `tone:` media plays the tone to the far party until
      `DELETE /playbacks/{id}`; meanwhile the channel's `addChannel` waits, as the real one's
      bridge join waited for the playback to end.
    * `reload_hooks[module] = fn(fake)` changes state on `PUT /asterisk/modules/{module}`,
      e.g. removing endpoints to simulate a reload that broke the config.
    * `callees[number] = Callee(stasis_app=...)`: the number loops back into this Asterisk
      and enters that Stasis app (as a trunk to itself would); audio crosses between the two
      channels and hanging up one ends the other, as with a Local pair.
    * `POST /channels endpoint=Local/<exten>@<context>[/n] app=<app>` makes a Local pair as
      Asterisk does: `;1` (the id asked for) belongs to `app` and enters it once `;2` is
      answered; `;2` (`otherChannelId`) runs the dialplan, which `dialplan[context](exten)`
      stands for: the Stasis app and args it reaches, or None for no such extension. Audio
      crosses the pair between the bridges the halves are in; hanging up one half ends both.
    """

    def __init__(
        self,
        *,
        username: str = "vocals",
        password: str = "vocals",
        channelvars: tuple[str, ...] | None = None,
        amd_context: str = "vocals-outbound",
        time_scale: float = 1.0,
        endpoints: tuple[str, ...] = ("trunk1",),
    ) -> None:
        self.username = username
        self.password = password
        self.channelvars = channelvars
        self.amd_context = amd_context
        self.time_scale = time_scale
        self.endpoints: dict[str, str] = {name: "online" for name in endpoints}
        # Transports Asterisk has (the shipped pjsip.conf's), and each endpoint's transport.
        self.transports = set(pjsip_objects(SHIPPED_PJSIP.read_text(), "transport"))
        self.endpoint_transports: dict[str, str] = {}
        # Apps subscribed to each endpoint (`endpoint:PJSIP/<name>`): they get the events of
        # its channels from their creation, before any channel subscription could be made.
        self.endpoint_apps: dict[str, set[str]] = {}
        self.channels: dict[str, FakeChannel] = {}
        self.bridges: dict[str, FakeBridge] = {}
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.rest_log: list[RestCall] = []
        self.originations: list[Origination] = []
        self.events_sent: list[dict[str, Any]] = []
        self.callees: dict[str, Callee] = {}
        self.default_callee = Callee()
        self.answered: asyncio.Queue[ScriptedCaller] = asyncio.Queue()
        self.reload_hooks: dict[str, Callable[[FakeAsterisk], None]] = {}
        self.reloads: list[str] = []
        self.peak_channels = 0
        self.originate_delay_s = 0.0
        self.peak_originating = 0
        self._originating = 0
        # (channel id, context, exten, priority) of each channel sent back to the dialplan.
        self.continued: list[tuple[str, str, str, int]] = []
        self.playbacks: dict[str, TonePlayback] = {}
        self.dialplan: dict[str, Callable[[str], list[str] | None]] = {
            "vocals-inbound": shipped_inbound_context
        }
        self._local_seq = itertools.count()
        self._loop_answers: dict[str, asyncio.Event] = {}
        self._app_connected = asyncio.Event()
        self._ids = itertools.count()
        self._epoch = int(time.time())
        self._sip_seq = itertools.count()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self._pump: asyncio.Task[None] | None = None
        self.port = 0

    # Lifecycle ------------------------------------------------------------------------

    @property
    def ari_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ari"

    async def start(self, port: int = 0) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/ari/events", self._events_ws)
        r = app.router
        r.add_get("/ari/channels", self._list_channels)
        r.add_post("/ari/channels", self._originate)
        r.add_post("/ari/channels/externalMedia", self._external_media)
        r.add_get("/ari/channels/{id}", self._get_channel)
        r.add_post("/ari/channels/{id}", self._originate)
        r.add_delete("/ari/channels/{id}", self._hangup)
        r.add_post("/ari/channels/{id}/answer", self._answer)
        r.add_get("/ari/channels/{id}/variable", self._get_var)
        r.add_post("/ari/channels/{id}/variable", self._set_var)
        r.add_post("/ari/channels/{id}/play", self._play)
        r.add_post("/ari/channels/{id}/continue", self._continue)
        r.add_post("/ari/channels/{id}/dtmf", self._dtmf)
        r.add_delete("/ari/playbacks/{id}", self._stop_playback)
        r.add_get("/ari/bridges", self._list_bridges)
        r.add_post("/ari/bridges", self._create_bridge)
        r.add_post("/ari/bridges/{id}", self._create_bridge)
        r.add_get("/ari/bridges/{id}", self._get_bridge)
        r.add_delete("/ari/bridges/{id}", self._destroy_bridge)
        r.add_post("/ari/bridges/{id}/addChannel", self._add_channel)
        r.add_post("/ari/bridges/{id}/removeChannel", self._remove_channel)
        r.add_get("/ari/applications/{app}", self._get_app)
        r.add_post("/ari/applications/{app}/subscription", self._subscribe)
        r.add_delete("/ari/applications/{app}/subscription", self._unsubscribe)
        r.add_get("/ari/asterisk/info", asterisk_info)
        r.add_get("/ari/asterisk/ping", asterisk_ping)
        r.add_get("/ari/asterisk/modules/{name}", self._get_module)
        r.add_put("/ari/asterisk/modules/{name}", self._reload_module)
        r.add_get("/ari/endpoints", self._list_endpoints)
        r.add_get("/ari/endpoints/{tech}", self._list_endpoints)
        r.add_get("/ari/endpoints/{tech}/{resource}", self._get_endpoint)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._pump = asyncio.create_task(self._media_pump())

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
        for task in list(self._tasks):
            task.cancel()
        for ch in self.channels.values():
            self._close_media(ch)
        for ws in list(self.sockets.values()):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def live_channels(self) -> list[FakeChannel]:
        return [c for c in self.channels.values() if not c.destroyed]

    def live_bridges(self) -> list[FakeBridge]:
        return list(self.bridges.values())

    def calls_to(self, method: str, path_prefix: str) -> list[RestCall]:
        return [c for c in self.rest_log if c.method == method and c.path.startswith(path_prefix)]

    async def drop_event_sockets(self) -> None:
        for ws in list(self.sockets.values()):
            await ws.close()
        self.sockets.clear()

    async def wait_for_app(self, app: str = "vocals", timeout_s: float = 5.0) -> None:
        """Until `app` has an events WebSocket connected."""
        async with asyncio.timeout(timeout_s):
            while app not in self.sockets:
                self._app_connected.clear()
                await self._app_connected.wait()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _scaled(self, seconds: float) -> float:
        return seconds * self.time_scale

    # Events ---------------------------------------------------------------------------

    def _emit(self, app: str | None, type_: str, **fields: Any) -> None:
        if app is None:
            return
        event = {"type": type_, "timestamp": ari_timestamp(), **fields}
        event["asterisk_id"] = ASTERISK_ID
        event["application"] = app
        ws = self.sockets.get(app)
        if ws is None or ws.closed:
            return
        self.events_sent.append(event)
        self._spawn(ws.send_str(json.dumps(event)))

    def _channel_event(self, ch: FakeChannel, type_: str, **fields: Any) -> None:
        if ch.in_stasis or ch.subscribed:
            stamp = ari_timestamp()
            self._emit(ch.app, type_, timestamp=stamp, **fields, channel=ch.json())
            if type_ in FORWARDED_TWICE and ch.in_stasis and self._endpoint_watched(ch):
                # In Stasis the channel is the app's on its own, and its endpoint forwards
                # these to the app once more: the same event twice (captured on 22.10.1).
                self._emit(ch.app, type_, timestamp=stamp, **fields, channel=ch.json())

    def _endpoint_watched(self, ch: FakeChannel) -> bool:
        endpoint = ch.name.split("/", 1)[1].rsplit("-", 1)[0]
        return ch.kind == "sip" and ch.app in self.endpoint_apps.get(endpoint, set())

    # HTTP plumbing --------------------------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not self._authorised(request):
            return ari_unauthorised()
        if request.path.endswith("/") and request.path != "/ari/":
            return ari_error(404, "ARI URLs do not end with a slash")
        response = await ari_dispatch(request, handler)
        if request.path != "/ari/events":
            body: Any = None
            if request.body_exists:
                body = json.loads(await request.read() or b"null")
            params = {k: v for k, v in request.query.items() if k != "api_key"}
            self.rest_log.append(
                RestCall(
                    time.monotonic(),
                    request.method,
                    request.path[4:],
                    params,
                    body,
                    response.status,
                )
            )
        return response

    def _authorised(self, request: web.Request) -> bool:
        want = f"{self.username}:{self.password}"
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                return base64.b64decode(header[6:]).decode() == want
            except ValueError:
                return False
        return request.query.get("api_key") == want

    async def _params(self, request: web.Request) -> tuple[dict[str, str], dict[str, Any]]:
        params = dict(request.query)
        body: dict[str, Any] = {}
        if request.body_exists:
            raw = await request.read()
            if raw:
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise web.HTTPBadRequest() from exc
                for k, v in body.items():
                    if isinstance(v, str):
                        params.setdefault(k, v)
        return params, body

    def _new_id(self) -> str:
        return f"{self._epoch}.{next(self._ids)}"

    def _register(self, ch: FakeChannel) -> None:
        self.channels[ch.id] = ch
        self.peak_channels = max(self.peak_channels, len(self.live_channels()))

    def _channel(self, request: web.Request) -> FakeChannel | None:
        ch = self.channels.get(request.match_info["id"])
        return None if ch is None or ch.destroyed else ch

    # Events WebSocket -----------------------------------------------------------------

    async def _events_ws(self, request: web.Request) -> web.StreamResponse:
        app = request.query.get("app")
        if not app:
            return ari_error(400, "missing param: [app]")
        ws = web.WebSocketResponse(protocols=("ari",))
        await ws.prepare(request)
        old = self.sockets.get(app)
        if old is not None and not old.closed:
            await old.send_str(
                json.dumps(
                    {
                        "type": "ApplicationReplaced",
                        "timestamp": ari_timestamp(),
                        "application": app,
                        "asterisk_id": ASTERISK_ID,
                    }
                )
            )
            await old.close()
        self.sockets[app] = ws
        self._app_connected.set()
        async for msg in ws:
            if msg.type is WSMsgType.ERROR:
                break
        if self.sockets.get(app) is ws:
            del self.sockets[app]
        return ws

    # Inbound calls --------------------------------------------------------------------

    async def inbound_call(
        self,
        did: str,
        *,
        app: str = "vocals",
        caller_number: str = "+15557654321",
        caller_name: str = "Alice Caller",
        args: list[str] | None = None,
        hangup_after_s: float | None = None,
        variables: dict[str, str] | None = None,
        endpoint: str = "trunk1",
        context: str = "vocals-inbound",
    ) -> ScriptedCaller:
        """A SIP caller dials `did`; the dialplan runs `Stasis(app,inbound,<did>)`."""
        args = ["inbound", did] if args is None else args
        ch = FakeChannel(
            id=self._new_id(),
            name=f"PJSIP/{endpoint}-{next(self._sip_seq):08x}",
            state="Ring",
            caller={"name": caller_name, "number": caller_number},
            dialplan={
                "context": context,
                "exten": did,
                "priority": 1,
                "app_name": "Stasis",
                "app_data": ",".join([app, *args]),
            },
            kind="sip",
            variables=dict(variables or {}),
            shown_vars=self.channelvars,
            app=app,
            in_stasis=True,
        )
        far = self._far_party(ch, caller_number, hangup_after_s)
        self._register(ch)
        self._channel_event(ch, "StasisStart", args=args)
        return far

    async def dial_in(
        self,
        number: str,
        *,
        context: str = "vocals-inbound",
        generated: tuple[str, ...] = (),
        caller_number: str = "+15557654321",
    ) -> ScriptedCaller:
        """A SIP caller dials `number` into `context`: the shipped extensions.conf (plus the
        `generated` route files' text) decides what reaches Stasis, as in Asterisk. Raises
        DialplanHangup when the dialplan never reaches Stasis."""
        app, args = Dialplan.shipped(*generated).stasis(context, number)
        return await self.inbound_call(
            number, app=app, args=args, caller_number=caller_number, context=context
        )

    def load_pjsip(self, text: str) -> None:
        """A reload of res_pjsip with `text` (a generated trunks file) included."""
        for name, options in pjsip_objects(text, "endpoint").items():
            self.endpoints[name] = "online"
            if "transport" in options:
                self.endpoint_transports[name] = options["transport"]

    def _far_party(
        self, ch: FakeChannel, number: str, hangup_after_s: float | None
    ) -> ScriptedCaller:
        far = ScriptedCaller(channel_id=ch.id, number=number, hangup_after_s=hangup_after_s)
        far._hangup = self._far_hangup
        far._dtmf = self._far_dtmf
        ch.far = far
        return far

    async def _far_hangup(self, far: ScriptedCaller) -> None:
        ch = self.channels.get(far.channel_id)
        if ch is None or ch.destroyed:
            return
        far.ended_by = "caller"
        # A caller's BYE: ChannelHangupRequest without a cause (captured), then the teardown.
        self._channel_event(ch, "ChannelHangupRequest")
        self._destroy(ch, cause=16)

    async def _far_dtmf(self, far: ScriptedCaller, digit: str) -> None:
        ch = self.channels.get(far.channel_id)
        if ch is None or ch.destroyed:
            raise RuntimeError("call is over")
        self._channel_event(ch, "ChannelDtmfReceived", digit=digit, duration_ms=200)
        for peer in self._bridge_peers(ch):
            if peer.audiosocket is not None:
                peer.audiosocket.send_dtmf(digit)
        await asyncio.sleep(0.2 * self.time_scale)

    def _answered(self, ch: FakeChannel) -> None:
        if ch.id in self._loop_answers:
            self._loop_answers[ch.id].set()
        elif ch.partner is not None:
            self._local_answered(ch)
        far = ch.far
        if far is None or far.answered.is_set():
            return
        far.answered_at = time.monotonic()
        far.answered.set()
        if far.hangup_after_s is not None:
            self._spawn(self._hangup_later(far, far.hangup_after_s))

    async def _hangup_later(self, far: ScriptedCaller, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        await far.hangup()

    # Channel teardown -----------------------------------------------------------------

    def hangup_channel(self, channel_id: str, cause: int = 16) -> None:
        """`channel request hangup` on the CLI: Asterisk itself ends one channel (for an
        AudioSocket channel it closes the TCP connection, sending no 0x00 frame)."""
        ch = self.channels[channel_id]
        self._channel_event(ch, "ChannelHangupRequest", cause=cause, soft=False)
        self._destroy(ch, cause=cause)

    def _destroy(self, ch: FakeChannel, *, cause: int, from_ari: bool = False) -> None:
        """Hang a channel up: leave its bridge, StasisEnd, ChannelDestroyed (subscribed only)."""
        if ch.destroyed:
            return
        ch.destroyed = True
        if ch.origination is not None:
            ch.origination.ended = time.monotonic()
        for playback in self.playbacks.values():
            if playback.channel_id == ch.id:
                playback.stopped.set()
        self._close_media(ch)
        if ch.bridge is not None:
            self._leave_bridge(ch)
        if ch.in_stasis:
            self._channel_event(ch, "StasisEnd")
            ch.in_stasis = False
        if ch.subscribed:
            self._channel_event(
                ch, "ChannelDestroyed", cause=cause, cause_txt=CAUSE_TXT.get(cause, "Unknown")
            )
        if ch.far is not None and not ch.far.ended.is_set():
            ch.far.ended_by = ch.far.ended_by or ("asterisk" if from_ari else "caller")
            ch.far.ended_at = time.monotonic()
            ch.far.ended.set()
        del self.channels[ch.id]
        partner = self.channels.get(ch.partner or "")
        if partner is not None and not partner.destroyed:
            # One half of a Local channel hung up: the other is hung up with it (captured).
            self._channel_event(partner, "ChannelHangupRequest", cause=16)
            self._destroy(partner, cause=16)

    def _close_media(self, ch: FakeChannel) -> None:
        if ch.audiosocket is not None:
            ch.audiosocket.close()
        if ch.rtp is not None:
            ch.rtp.close()

    def _leave_bridge(self, ch: FakeChannel) -> None:
        bridge = self.bridges.get(ch.bridge or "")
        ch.bridge = None
        if bridge is None:
            return
        bridge.channels.remove(ch.id)
        self._emit(bridge.app, "ChannelLeftBridge", bridge=bridge.json(), channel=ch.json())

    def _bridge_peers(self, ch: FakeChannel) -> list[FakeChannel]:
        bridge = self.bridges.get(ch.bridge or "")
        if bridge is None:
            return []
        return [self.channels[c] for c in bridge.channels if c != ch.id and c in self.channels]

    # Media ----------------------------------------------------------------------------

    async def _media_pump(self) -> None:
        """Every 20 ms, move each far party's audio to the external media bridged with it."""
        period = 0.02
        next_at = time.monotonic()
        while True:
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            for ch in list(self.channels.values()):
                if ch.far is None or ch.bridge is None or ch.destroyed:
                    continue
                peers = self._bridge_peers(ch)
                if not peers:
                    continue
                frame = ch.far.source.next_frame()
                if frame is None:
                    continue  # a silent far end produces no frames (captured)
                for peer in peers:
                    link = peer.audiosocket or peer.rtp
                    if link is not None:
                        link.send_audio(frame)
                    elif peer.far is not None:
                        peer.far.hear(frame)  # two phones in one bridge hear each other

    def _media_in(self, ch: FakeChannel) -> OnAudio:
        def deliver(pcm: bytes, at: float) -> None:
            for peer in self._bridge_peers(ch):
                if peer.far is not None:
                    peer.far.hear(pcm, at)
                if peer.partner is not None and peer.partner in self.channels:
                    self._through_local(self.channels[peer.partner], pcm)

        return deliver

    # Local channels --------------------------------------------------------------------

    def _originate_local(
        self, resource: str, channel_id: str, params: dict[str, str], body: dict[str, Any], app: str
    ) -> web.Response:
        target = resource.split("/", 1)[0]  # options such as /n change nothing here
        exten, _, context = target.partition("@")
        other_id = params.get("otherChannelId") or self._new_id()
        if not exten or not context:
            return ari_error(500, "Allocation failed")
        if other_id in self.channels:
            return ari_error(409, "Channel with given unique ID already exists")
        name = f"Local/{target}-{next(self._local_seq):08x}"
        caller = {"name": "", "number": params.get("callerId", "")}
        variables = {k: str(v) for k, v in (body.get("variables") or {}).items()}
        plan = {"context": context, "exten": exten, "priority": 1}
        one = FakeChannel(
            id=channel_id,
            name=f"{name};1",
            state="Down",
            caller=dict(caller),
            dialplan={**plan, "app_name": "AppDial2", "app_data": "(Outgoing Line)"},
            kind="local",
            variables=variables,
            shown_vars=self.channelvars,
            app=app,
            subscribed=True,
            partner=other_id,
        )
        app_args = params.get("appArgs", "")
        one.stasis_args = app_args.split(",") if app_args else []
        two = FakeChannel(
            id=other_id,
            name=f"{name};2",
            state="Ring",
            caller=dict(caller),
            dialplan={**plan, "app_name": "", "app_data": ""},
            kind="local",
            variables=dict(variables),
            shown_vars=self.channelvars,
            partner=channel_id,
        )
        self._register(one)
        self._register(two)
        self._spawn(self._run_local(one, two, context, exten))
        return web.json_response(one.json())

    async def _run_local(
        self, one: FakeChannel, two: FakeChannel, context: str, exten: str
    ) -> None:
        """`;2` runs the dialplan after the originate answer; it reaches a Stasis app or not."""
        await asyncio.sleep(0.01)
        if one.destroyed:
            return
        rule = self.dialplan.get(context)
        stasis = rule(exten) if rule is not None else None
        if stasis is None:
            # No such extension: both halves are destroyed with cause 0, nothing else (captured).
            one.partner = two.partner = None
            self._destroy(two, cause=0)
            self._destroy(one, cause=0)
            return
        dialstring = f"{exten}@{context}"
        self._emit(
            one.app, "Dial", dialstatus="", forward="", dialstring=dialstring, peer=one.json()
        )
        app, *args = stasis
        two.dialplan = {**two.dialplan, "app_name": "Stasis", "app_data": ",".join(stasis)}
        if app not in self.sockets:
            # Stasis() with no connected app fails and the channel is hung up (captured).
            self._destroy(two, cause=16)
            return
        two.app, two.in_stasis = app, True
        self._channel_event(two, "StasisStart", args=args)

    def _local_answered(self, half: FakeChannel) -> None:
        """`;2` was answered: `;1` comes up and enters its app."""
        one = self.channels.get(half.partner or "")
        if one is None or one.destroyed or one.state == "Up" or not one.name.endswith(";1"):
            return
        one.state = "Up"
        self._channel_event(one, "ChannelStateChange")
        dialstring = f"{one.dialplan['exten']}@{one.dialplan['context']}"
        self._emit(
            one.app, "Dial", dialstatus="ANSWER", forward="", dialstring=dialstring, peer=one.json()
        )
        if one.app not in self.sockets:
            self._destroy(one, cause=16)
            return
        one.dialplan = {
            **one.dialplan,
            "app_name": "Stasis",
            "app_data": ",".join([one.app or "", *one.stasis_args]),
        }
        one.in_stasis = True
        self._channel_event(one, "StasisStart", args=one.stasis_args)

    def _through_local(self, half: FakeChannel, pcm: bytes) -> None:
        """Audio that entered one half of a Local channel leaves the other into its bridge."""
        for peer in self._bridge_peers(half):
            link = peer.audiosocket or peer.rtp
            if link is not None:
                link.send_audio(pcm)
            elif peer.far is not None:
                peer.far.hear(pcm)

    # REST: channels -------------------------------------------------------------------

    async def _list_channels(self, request: web.Request) -> web.Response:
        return web.json_response([c.json() for c in self.live_channels()])

    async def _get_channel(self, request: web.Request) -> web.Response:
        ch = self._channel(request)
        if ch is None:
            return ari_error(404, "Channel not found")
        return web.json_response(ch.json())

    async def _answer(self, request: web.Request) -> web.Response:
        ch = self._channel(request)
        if ch is None:
            return ari_error(404, "Channel not found")
        if not ch.in_stasis:
            return ari_error(409, "Channel not in Stasis application")
        if ch.state != "Up":
            ch.state = "Up"
            self._channel_event(ch, "ChannelStateChange")
            self._answered(ch)
        return web.Response(status=204)

    async def _hangup(self, request: web.Request) -> web.Response:
        ch = self._channel(request)
        if ch is None:
            return ari_error(404, "Channel not found")
        if "reason" in request.query and "reason_code" in request.query:
            return ari_error(400, "The reason and reason_code can't both be specified")
        cause = 16
        if "reason_code" in request.query:
            cause = int(request.query["reason_code"])
        elif "reason" in request.query:
            if request.query["reason"] not in HANGUP_REASON_CAUSE:
                return ari_error(400, "Invalid reason for hangup provided")
            cause = HANGUP_REASON_CAUSE[request.query["reason"]]
        self._channel_event(ch, "ChannelHangupRequest", cause=32, soft=True)
        self._destroy(ch, cause=cause, from_ari=True)
        return web.Response(status=204)

    async def _get_var(self, request: web.Request) -> web.Response:
        ch = self._channel(request)
        name = request.query.get("variable")
        if not name:
            return ari_error(400, "Variable name is required")
        if ch is None:
            return ari_error(404, "Channel or variable not found")
        if name not in ch.variables:
            return ari_error(404, "Provided variable was not found")
        return web.json_response({"value": ch.variables[name]})

    async def _set_var(self, request: web.Request) -> web.Response:
        ch = self._channel(request)
        params, _ = await self._params(request)
        if "variable" not in params:
            return ari_error(400, "Variable name is required")
        if ch is None:
            return ari_error(404, "Channel not found")
        ch.variables[params["variable"]] = params.get("value", "")
        return web.Response(status=204)

    async def _play(self, request: web.Request) -> web.Response:
        """`tone:` media plays to the far party until stopped; other media is accepted and
        plays nothing."""
        ch = self._channel(request)
        if ch is None:
            return ari_error(404, "Channel not found")
        if not ch.in_stasis:
            return ari_error(409, "Channel not in Stasis application")
        media = request.query.get("media", "")
        playback = TonePlayback(str(uuid.uuid4()), ch.id, media)
        if media.startswith("tone:") and ch.far is not None:
            self.playbacks[playback.id] = playback
            self._spawn(self._run_playback(playback, ch.far))
        return web.json_response(
            {
                "id": playback.id,
                "media_uri": media,
                "target_uri": f"channel:{ch.id}",
                "language": "en",
                "state": "queued",
            }
        )

    async def _run_playback(self, playback: TonePlayback, far: ScriptedCaller) -> None:
        try:
            await playback.run(far)
        finally:
            self.playbacks.pop(playback.id, None)

    async def _stop_playback(self, request: web.Request) -> web.Response:
        playback = self.playbacks.get(request.match_info["id"])
        if playback is None:
            return ari_error(404, "Playback not found")
        playback.stopped.set()
        return web.Response(status=204)

    async def _continue(self, request: web.Request) -> web.Response:
        """The channel leaves Stasis (its bridge, then StasisEnd) and runs the dialplan, which
        here keeps it up until its far end hangs up."""
        ch = self._channel(request)
        if ch is None:
            return ari_error(404, "Channel not found")
        if not ch.in_stasis:
            return ari_error(409, "Channel not in Stasis application")
        params, _ = await self._params(request)
        context = params.get("context") or str(ch.dialplan.get("context", ""))
        exten = params.get("extension") or str(ch.dialplan.get("exten", ""))
        priority = int(params.get("priority") or 1)
        if ch.bridge is not None:
            self._leave_bridge(ch)
        ch.dialplan = {
            "context": context,
            "exten": exten,
            "priority": priority,
            "app_name": "",
            "app_data": "",
        }
        self._channel_event(ch, "StasisEnd")
        ch.in_stasis = False
        self.continued.append((ch.id, context, exten, priority))
        return web.Response(status=204)

    async def _dtmf(self, request: web.Request) -> web.Response:
        """Keys to the channel's far end, played after the 204 as Asterisk does (the control
        queue): each heard at its end; no ChannelDtmfReceived for keys sent (captured). As on
        22.10.1: the channel is looked up before `dtmf` is required, timings that are no
        number count as 0, and characters that are no key are skipped (a warning, still 204)."""
        ch = self._channel(request)
        params, _ = await self._params(request)
        if ch is None:
            return ari_error(404, "Channel not found")
        if not ch.in_stasis:
            return ari_error(409, "Channel not in Stasis application")
        if not params.get("dtmf"):
            return ari_error(400, "DTMF is required")
        timing = [_atoi(params.get(k), d) for k, d in DTMF_TIMING_DEFAULTS.items()]
        keys = "".join(k for k in params["dtmf"].upper() if k in DTMF_KEYS)
        self._spawn(self._send_keys(ch, keys, *timing))
        return web.Response(status=204)

    async def _send_keys(
        self, ch: FakeChannel, dtmf: str, before: int, between: int, duration: int
    ) -> None:
        await asyncio.sleep(self._scaled(before / 1000))
        for index, key in enumerate(dtmf):
            await asyncio.sleep(self._scaled(duration / 1000))
            if ch.destroyed:
                return
            if ch.far is not None:
                ch.far.hear_key(key)
            if index < len(dtmf) - 1:
                await asyncio.sleep(self._scaled(between / 1000))

    async def _originate(self, request: web.Request) -> web.Response:
        self._originating += 1
        self.peak_originating = max(self.peak_originating, self._originating)
        try:
            await asyncio.sleep(self.originate_delay_s)
            return await self._originate_now(request)
        finally:
            self._originating -= 1

    async def _originate_now(self, request: web.Request) -> web.Response:
        params, body = await self._params(request)
        endpoint = params.get("endpoint", "")
        tech, _, resource = endpoint.partition("/")
        if not tech or not resource:
            return ari_error(400, "Endpoint must be in the format tech/resource")
        app, context = params.get("app"), params.get("context")
        if app is None and context is None and "extension" not in params:
            return ari_error(400, "Application or extension must be specified")
        channel_id = request.match_info.get("id") or params.get("channelId") or self._new_id()
        if channel_id in self.channels:
            return ari_error(409, "Channel with given unique ID already exists")
        if tech == "Local" and app is not None:
            return self._originate_local(resource, channel_id, params, body, app)
        number, _, trunk = resource.partition("@")
        if tech != "PJSIP" or (trunk or number) not in self.endpoints:
            return ari_error(500, "Allocation failed")
        variables = {k: str(v) for k, v in (body.get("variables") or {}).items()}
        ch = FakeChannel(
            id=channel_id,
            name=f"PJSIP/{trunk or number}-{next(self._sip_seq):08x}",
            state="Down",
            caller={"name": "", "number": params.get("callerId", "")},
            dialplan={
                "context": context or "default",
                "exten": "s",
                "priority": 1,
                "app_name": "AppDial2",
                "app_data": "(Outgoing Line)",
            },
            kind="sip",
            variables=variables,
            shown_vars=self.channelvars,
        )
        ch.connected = dict(ch.caller)
        if app is not None:
            # Originating with app= subscribes the app; it enters Stasis once answered.
            ch.app, ch.subscribed = app, True
        else:
            ch.app = variables.get("VOCALS_APP")
            # Only the app the dialplan names gets the events here (a real Asterisk sends them
            # to every app subscribed to the endpoint; the others have no use for them).
            ch.subscribed = ch.app in self.endpoint_apps.get(trunk or number, set())
        if self.endpoint_transports.get(trunk or number, "transport-udp") not in self.transports:
            # Asterisk answers the originate, then the INVITE finds no transport and the
            # channel is gone at once (congestion, 503, captured): a subscription to it gets
            # "Event source does not exist"; only an endpoint subscription saw its events.
            answer = web.json_response(ch.json())
            self._far_party(ch, number, None)
            self._register(ch)
            self._refuse(ch, "no-transport")
            return answer
        callee = self.callees.get(number, self.default_callee)
        ch.origination = Origination(
            number,
            params.get("callerId", ""),
            time.monotonic(),
            channel_id=channel_id,
            app=ch.app,
        )
        self.originations.append(ch.origination)
        self._far_party(ch, number, callee.hangup_after_s)
        self._register(ch)
        timeout_s = float(params.get("timeout", "30"))
        app_args = params.get("appArgs", "")
        answer = web.json_response(ch.json())
        if callee.outcome in REFUSALS and callee.ring_s == 0:
            # A refusal at once (a 486 or 403 over loopback took ~1 ms on 22.10.1): the channel
            # is gone before the originate's answer reaches the client, so a subscription to
            # it made then gets 422; only an endpoint subscription saw its events.
            self._refuse(ch, callee.outcome)
        else:
            args = app_args.split(",") if app_args else []
            self._spawn(self._dial(ch, callee, timeout_s, app, args))
        return answer

    async def _dial(
        self, ch: FakeChannel, callee: Callee, timeout_s: float, app: str | None, args: list[str]
    ) -> None:
        """The outgoing leg's progress, with the events the captures show for each outcome."""
        await asyncio.sleep(0.01)  # the dial thread starts after the HTTP answer
        if ch.destroyed:
            return
        dialstring = _dialstring(ch)

        def dial(status: str) -> None:
            self._dial_event(ch, status, dialstring)

        dial("")
        if callee.outcome in REFUSALS:
            await asyncio.sleep(self._scaled(callee.ring_s))
            self._refuse(ch, callee.outcome, dialled=True)
            return
        if callee.outcome == "unreachable":
            await asyncio.sleep(self._scaled(min(TIMER_B_S, timeout_s)))
            self._channel_event(ch, "ChannelHangupRequest", cause=18, tech_cause=408)
            dial("NOANSWER")
            self._teardown_unanswered(ch, 18, 408)
            return
        ch.state = "Ringing"
        # The captures show both orders (180 then state change, and the reverse): keep each.
        if callee.outcome == "no-answer":
            dial("RINGING")
            self._channel_event(ch, "ChannelStateChange")
        else:
            self._channel_event(ch, "ChannelStateChange")
            dial("RINGING")
        if callee.outcome == "no-answer" or callee.ring_s >= timeout_s:
            await asyncio.sleep(self._scaled(timeout_s))
            self._teardown_unanswered(ch, 19, 480)
            return
        await asyncio.sleep(callee.ring_s)
        if callee.stasis_app is not None and not await self._loop_back(ch, callee.stasis_app):
            return
        if ch.destroyed:
            return
        ch.state = "Up"
        self._channel_event(ch, "ChannelStateChange")
        dial("ANSWER")
        assert ch.far is not None
        ch.far.ivr = callee.ivr
        ch.far.play(callee.ivr.prompt if callee.ivr is not None else callee.greeting)
        if app is None:
            await asyncio.sleep(callee.amd_s)
            if ch.destroyed:
                return
            ch.variables.update(AMDSTATUS=callee.amd_status, AMDCAUSE=callee.amd_cause)
            for var in ("AMDSTATUS", "AMDCAUSE"):
                self._channel_event(ch, "ChannelVarset", variable=var, value=ch.variables[var])
            args = [
                "outbound",
                ch.variables.get("VOCALS_CALL_ID", ""),
                callee.amd_status,
                callee.amd_cause,
            ]
            ch.dialplan = {
                "context": self.amd_context,
                "exten": "s",
                "priority": 3,
                "app_name": "Stasis",
                "app_data": ",".join([ch.app or "", *args]),
            }
        if ch.app is None or ch.app not in self.sockets:
            # Stasis() with no connected app fails and the channel is hung up (captured).
            self._destroy(ch, cause=16)
            return
        ch.in_stasis = True
        self._channel_event(ch, "StasisStart", args=args)
        self._answered(ch)
        self.answered.put_nowait(ch.far)

    async def _loop_back(self, ch: FakeChannel, app: str) -> bool:
        """The dialled number comes back into this Asterisk and its dialplan runs Stasis(app):
        True once that app answered the incoming channel, False if it never could."""
        assert ch.far is not None
        callee = FakeChannel(
            id=self._new_id(),
            name=f"PJSIP/loop-{next(self._sip_seq):08x}",
            state="Ring",
            caller=dict(ch.caller),
            dialplan={
                "context": "vocals-selftest",
                "exten": ch.far.number,
                "priority": 1,
                "app_name": "Stasis",
                "app_data": app,
            },
            kind="sip",
            shown_vars=self.channelvars,
            app=app,
            in_stasis=True,
            partner=ch.id,
        )
        answered = asyncio.Event()
        self._loop_answers[callee.id] = answered
        ch.partner = callee.id
        self._register(callee)
        if app not in self.sockets:
            self._destroy(callee, cause=16)
            return False
        self._channel_event(callee, "StasisStart", args=[])
        try:
            await asyncio.wait_for(answered.wait(), TIMER_B_S)
        except TimeoutError:
            self._destroy(callee, cause=19)
            return False
        finally:
            self._loop_answers.pop(callee.id, None)
        return not ch.destroyed

    def _refuse(self, ch: FakeChannel, outcome: str, *, dialled: bool = False) -> None:
        """The INVITE was refused: busy (486, cause 17, Dial BUSY), declined (cause 21, Dial
        NOANSWER; a PJSIP callee that ran Hangup(21) answers 403) or never sent for want of a
        transport (cause 34, Dial CONGESTION), as captured."""
        if ch.destroyed:
            return
        cause, tech_cause, dialstatus = REFUSALS[outcome]
        dialstring = _dialstring(ch)
        if not dialled:
            self._dial_event(ch, "", dialstring)
        self._channel_event(ch, "ChannelHangupRequest", cause=cause, tech_cause=tech_cause)
        self._dial_event(ch, dialstatus, dialstring)
        self._teardown_unanswered(ch, cause, tech_cause)

    def _dial_event(self, ch: FakeChannel, status: str, dialstring: str) -> None:
        if ch.subscribed:
            self._emit(
                ch.app, "Dial", dialstatus=status, forward="", dialstring=dialstring, peer=ch.json()
            )

    def _teardown_unanswered(self, ch: FakeChannel, cause: int, tech_cause: int) -> None:
        if ch.destroyed:
            return
        ch.destroyed = True
        if ch.origination is not None:
            ch.origination.ended = time.monotonic()
        if ch.subscribed:
            self._channel_event(
                ch,
                "ChannelDestroyed",
                cause=cause,
                cause_txt=CAUSE_TXT[cause],
                tech_cause=tech_cause,
            )
        if ch.far is not None:
            ch.far.ended_by = "caller"
            ch.far.ended.set()
        del self.channels[ch.id]

    async def _external_media(self, request: web.Request) -> web.Response:
        params, body = await self._params(request)
        app = params.get("app", "")
        if not app:
            return ari_error(400, "app cannot be empty")
        fmt = params.get("format")
        if not fmt:
            return ari_error(400, "format cannot be empty")
        encapsulation = params.get("encapsulation", "rtp")
        transport = params.get("transport", "udp")
        if (encapsulation, transport) not in (("rtp", "udp"), ("audiosocket", "tcp")):
            return ari_error(501, "Encapsulation and transport combination not supported")
        host, _, port = params.get("external_host", "").rpartition(":")
        if not host or not port.isdigit():
            return ari_error(400, "external_host must be host:port")
        channel_id = params.get("channelId") or self._new_id()
        if channel_id in self.channels:
            return ari_error(409, "Channel with given unique ID already exists")
        ch = FakeChannel(
            id=channel_id,
            name="",
            state="Down",
            caller={"name": "", "number": ""},
            dialplan={
                "context": "default",
                "exten": "s",
                "priority": 1,
                "app_name": "AppDial2",
                "app_data": "(Outgoing Line)",
            },
            kind=encapsulation if encapsulation == "rtp" else "audiosocket",
            app=app,
            subscribed=True,
        )
        ch.variables.update({k: str(v) for k, v in (body.get("variables") or {}).items()})
        data = params.get("data", "")
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
                link = await AudioSocketLink.connect(
                    host,
                    int(port),
                    AUDIOSOCKET_CONNECT_TIMEOUT_S,
                    call_uuid,
                    fmt,
                    self._media_in(ch),
                    lambda reason: self._client_gone(ch),
                )
            except (OSError, TimeoutError):
                return ari_error(500, "Allocation failed")
            ch.audiosocket = link
            ch.variables.update(AUDIOSOCKET_UUID=data, AUDIOSOCKET_SERVICE=f"{host}:{port}")
            shown = ("AUDIOSOCKET_SERVICE", "AUDIOSOCKET_UUID")
        else:
            rtp = RtpLink(fmt, self._media_in(ch))
            local_port = await rtp.open((host, int(port)))
            ch.rtp = rtp
            ch.name = f"UnicastRTP/{host}:{port}-0x{id(rtp):x}"
            ch.variables.update(
                UNICASTRTP_LOCAL_PORT=str(local_port), UNICASTRTP_LOCAL_ADDRESS="127.0.0.1"
            )
            shown = ("UNICASTRTP_LOCAL_PORT", "UNICASTRTP_LOCAL_ADDRESS")
        self._register(ch)
        answer = ch.json()
        answer["channelvars"] = {k: ch.variables[k] for k in shown}
        self._spawn(self._external_media_up(ch, [data] if data else []))
        return web.json_response(answer)

    async def _external_media_up(self, ch: FakeChannel, args: list[str]) -> None:
        await asyncio.sleep(0.002)  # UUID and StasisStart follow the HTTP answer
        if ch.destroyed:
            return
        if ch.audiosocket is not None:
            ch.audiosocket.send_uuid()
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
            "app_data": ",".join([ch.app or "", *args]),
        }
        ch.in_stasis = True
        self._channel_event(ch, "StasisStart", args=args)

    def _client_gone(self, ch: FakeChannel) -> None:
        """The AudioSocket peer sent 0x00 or closed: LeftBridge, StasisEnd, Destroyed 16."""
        if not ch.destroyed:
            self._destroy(ch, cause=16)

    # REST: bridges --------------------------------------------------------------------

    async def _list_bridges(self, request: web.Request) -> web.Response:
        return web.json_response([b.json() for b in self.bridges.values()])

    async def _create_bridge(self, request: web.Request) -> web.Response:
        params, _ = await self._params(request)
        bridge_id = request.match_info.get("id") or params.get("bridgeId") or str(uuid.uuid4())
        if bridge_id in self.bridges:
            return ari_error(409, "Bridge with id already exists")
        app = next(iter(self.sockets), "vocals")
        bridge = FakeBridge(
            bridge_id, params.get("name", ""), app, params.get("type", "mixing").split(",")[0]
        )
        self.bridges[bridge_id] = bridge
        return web.json_response(bridge.json())

    async def _get_bridge(self, request: web.Request) -> web.Response:
        bridge = self.bridges.get(request.match_info["id"])
        if bridge is None:
            return ari_error(404, "Bridge not found")
        return web.json_response(bridge.json())

    async def _destroy_bridge(self, request: web.Request) -> web.Response:
        bridge = self.bridges.get(request.match_info["id"])
        if bridge is None:
            return ari_error(404, "Bridge not found")
        for cid in list(bridge.channels):
            self._leave_bridge(self.channels[cid])
        del self.bridges[bridge.id]
        self._emit(bridge.app, "BridgeDestroyed", bridge=bridge.json())
        return web.Response(status=204)

    async def _add_channel(self, request: web.Request) -> web.Response:
        bridge = self.bridges.get(request.match_info["id"])
        params, _ = await self._params(request)
        ids = [c for c in params.get("channel", "").split(",") if c]
        if not ids:
            return ari_error(400, "missing param: [channel]")
        if bridge is None:
            return ari_error(404, "Bridge not found")
        chans = [self.channels.get(c) for c in ids]
        if any(c is None or c.destroyed for c in chans):
            return ari_error(400, "Channel not found")
        if any(not c.in_stasis for c in chans if c is not None):
            return ari_error(422, "Channel not in Stasis application")
        for p in [p for p in self.playbacks.values() if p.channel_id in ids]:
            await p.stopped.wait()  # a channel joins once its playback is over (captured)
        if not bridge.channels and chans[0] is not None and chans[0].app is not None:
            bridge.app = chans[0].app  # its events go to the app of the channels it holds
        for ch in chans:
            assert ch is not None
            if ch.bridge == bridge.id:
                continue
            if ch.bridge is not None:
                self._leave_bridge(ch)
            ch.bridge = bridge.id
            bridge.channels.append(ch.id)
            self._emit(bridge.app, "ChannelEnteredBridge", bridge=bridge.json(), channel=ch.json())
        return web.Response(status=204)

    async def _remove_channel(self, request: web.Request) -> web.Response:
        bridge = self.bridges.get(request.match_info["id"])
        params, _ = await self._params(request)
        if bridge is None:
            return ari_error(404, "Bridge not found")
        for cid in params.get("channel", "").split(","):
            ch = self.channels.get(cid)
            if ch is None:
                return ari_error(400, "Channel not found")
            if ch.bridge != bridge.id:
                return ari_error(422, "Channel not in this bridge")
            self._leave_bridge(ch)
        return web.Response(status=204)

    # REST: applications ---------------------------------------------------------------

    def _app_json(self, app: str) -> dict[str, Any]:
        chans = [c.id for c in self.live_channels() if c.app == app and c.subscribed]
        return {
            "name": app,
            "channel_ids": chans,
            "bridge_ids": [b.id for b in self.bridges.values() if b.app == app],
            "endpoint_ids": sorted(
                f"PJSIP/{name}" for name, apps in self.endpoint_apps.items() if app in apps
            ),
            "device_names": [],
            "events_allowed": [],
            "events_disallowed": [],
        }

    async def _get_app(self, request: web.Request) -> web.Response:
        app = request.match_info["app"]
        if app not in self.sockets:
            return ari_error(404, "Application not found")
        return web.json_response(self._app_json(app))

    async def _subscribe(self, request: web.Request) -> web.Response:
        app = request.match_info["app"]
        source = request.query.get("eventSource", "")
        kind, _, ident = source.partition(":")
        if app not in self.sockets:
            return ari_error(404, "Application not found")
        if kind == "endpoint":
            tech, _, name = ident.partition("/")
            if tech != "PJSIP" or name not in self.endpoints:
                return ari_error(422, "Event source does not exist")
            self.endpoint_apps.setdefault(name, set()).add(app)
            return web.json_response(self._app_json(app))
        ch = self.channels.get(ident) if kind == "channel" else None
        if ch is None or ch.destroyed:
            return ari_error(422, "Event source does not exist")
        ch.subscribed, ch.app = True, app
        return web.json_response(self._app_json(app))

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        app = request.match_info["app"]
        kind, _, ident = request.query.get("eventSource", "").partition(":")
        ch = self.channels.get(ident) if kind == "channel" else None
        if ch is None or not ch.subscribed:
            return ari_error(422, "Event source was not subscribed to")
        ch.subscribed = False
        return web.json_response(self._app_json(app))

    # REST: asterisk, endpoints --------------------------------------------------------

    async def _get_module(self, request: web.Request) -> web.Response:
        return module_response(running_module(request, RUNNING_MODULES))

    async def _reload_module(self, request: web.Request) -> web.Response:
        name = running_module(request, RUNNING_MODULES)
        if name is None:
            return ari_error(404, "Module not found in running modules")
        self.reloads.append(name)
        hook = self.reload_hooks.get(name)
        if hook is not None:
            hook(self)
        return web.Response(status=204)  # whatever the files hold (captured)

    def _endpoint_json(self, name: str) -> dict[str, Any]:
        ids = [c.id for c in self.live_channels() if c.name.startswith(f"PJSIP/{name}-")]
        return {
            "technology": "PJSIP",
            "resource": name,
            "state": self.endpoints[name],
            "channel_ids": ids,
        }

    async def _list_endpoints(self, request: web.Request) -> web.Response:
        tech = request.match_info.get("tech")
        if tech not in (None, "PJSIP"):
            return ari_error(404, "No Endpoints found - invalid tech")
        return web.json_response([self._endpoint_json(n) for n in self.endpoints])

    async def _get_endpoint(self, request: web.Request) -> web.Response:
        name = request.match_info["resource"]
        if request.match_info["tech"] != "PJSIP" or name not in self.endpoints:
            return ari_error(404, "Endpoint not found")
        return web.json_response(self._endpoint_json(name))
