"""A protocol-faithful Twilio (PROTOCOLS.md §7) on 127.0.0.1: the Calls REST API and the
voice side of each call.

* REST: `POST /2010-04-01/Accounts/{AccountSid}/Calls.json` (create; HTTP Basic with the
  account SID and auth token) and `POST .../Calls/{CallSid}.json` (`Status=completed` or
  `canceled`, or `Twiml=` redirecting a live call: its stream stops and the new TwiML runs;
  `<Dial>` rings the number, whose `Callee` answers or not). Errors are Twilio's JSON error
  bodies.
* A call fetches its TwiML URL with a signed form POST (`X-Twilio-Signature`), runs
  `<Connect><Stream>` (a real-time `MediaStreamCaller` on the stream URL, with the
  `<Parameter>`s as customParameters), then the verbs after `</Connect>` once our side closes
  the socket. `<Reject>` and `<Hangup>` end the call.
* Status callbacks (signed) for the requested `StatusCallbackEvent`s, and answering-machine
  detection: `AnsweredBy` in the TwiML request (synchronous) or POSTed to
  `AsyncAmdStatusCallback` after the callee's scripted detection time.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from tests.fakes.twilio.media import MediaStreamCaller
from tests.fakes.twilio.signing import twilio_signature

API_VERSION = "2010-04-01"


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass
class Callee:
    """How a dialled number behaves."""

    answer: Literal["human", "machine", "busy", "no-answer", "failed"] = "human"
    ring_s: float = 0.05
    amd_delay_s: float = 0.3  # how long detection takes after answer


@dataclass
class Webhook:
    url: str
    params: list[tuple[str, str]]
    status: int
    body: str


@dataclass
class FakeCall:
    sid: str
    direction: str
    from_: str
    to: str
    url: str
    status: str = "queued"
    status_callback: str | None = None
    status_events: set[str] = field(default_factory=lambda: {"completed"})
    machine_detection: str | None = None
    async_amd: bool = False
    amd_callback: str | None = None
    answered_by: str | None = None
    answered_at: float | None = None
    stream: MediaStreamCaller | None = None
    twiml: str = ""
    hung_up_by_api: bool = False
    redirects: list[str] = field(default_factory=list)  # TwiML given with `Twiml=`
    # What each `<Dial>` reached: (number, DialCallStatus).
    dials: list[tuple[str, str]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    stream_ready: asyncio.Event = field(default_factory=asyncio.Event)
    # When the call was created and when it ended (time.monotonic()): the fake's own log of
    # how fast calls were placed and how many were up at once.
    created_at: float = field(default_factory=time.monotonic)
    ended_at: float | None = None


class FakeTwilio:
    def __init__(self, account_sid: str | None = None, auth_token: str | None = None) -> None:
        self.account_sid = account_sid or _sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.callees: dict[str, Callee] = {}
        self.calls: dict[str, FakeCall] = {}
        self.api_requests: list[tuple[str, dict[str, list[str]]]] = []
        self.webhooks: list[Webhook] = []
        self.api_failures: list[int] = []  # statuses to answer the next create requests with
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        base = f"/{API_VERSION}/Accounts/{{account}}"
        app.router.add_post(f"{base}/Calls.json", self._create)
        app.router.add_post(f"{base}/Calls/{{sid}}.json", self._update)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._http = aiohttp.ClientSession()

    async def stop(self) -> None:
        for call in self.calls.values():
            if call.stream is not None and not call.stream.closed.is_set():
                with contextlib.suppress(Exception):
                    await call.stream.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _spawn(self, coro: object) -> None:
        task = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- inbound -----------------------------------------------------------------------------

    async def inbound_call(self, voice_url: str, *, from_: str, to: str) -> FakeCall:
        """Someone dials `to`: Twilio asks `voice_url` what to do and does it."""
        call = FakeCall(sid=_sid("CA"), direction="inbound", from_=from_, to=to, url=voice_url,
                        status="ringing")  # fmt: skip
        self.calls[call.sid] = call
        self._spawn(self._run_twiml(call))
        return call

    # -- REST --------------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        auth = request.headers.get("Authorization", "")
        try:
            creds = aiohttp.BasicAuth.decode(auth)
        except ValueError:
            return False
        return (
            creds.login == self.account_sid
            and secrets.compare_digest(creds.password, self.auth_token)
            and request.match_info["account"] == self.account_sid
        )

    @staticmethod
    def _error(status: int, code: int, message: str) -> web.Response:
        return web.json_response({"code": code, "message": message, "status": status,
                                  "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                                 status=status)  # fmt: skip

    async def _form(self, request: web.Request) -> dict[str, list[str]]:
        form: dict[str, list[str]] = {}
        for name, value in (await request.post()).items():
            form.setdefault(name, []).append(str(value))
        self.api_requests.append((request.path, form))
        return form

    async def _create(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        if not self._authorised(request):
            return self._error(401, 20003, "Authenticate")
        if self.api_failures:
            status = self.api_failures.pop(0)
            return self._error(status, 20429 if status == 429 else 20500, "Injected failure")
        one = {k: v[0] for k, v in form.items()}
        for required in ("To", "From"):
            if not one.get(required):
                return self._error(400, 21201, f"Required parameter {required} missing")
        if not one.get("Url"):
            return self._error(400, 21205, "Url parameter is required")
        call = FakeCall(
            sid=_sid("CA"), direction="outbound-api", from_=one["From"], to=one["To"],
            url=one["Url"], status_callback=one.get("StatusCallback"),
            status_events=set(form.get("StatusCallbackEvent", ["completed"])),
            machine_detection=one.get("MachineDetection"),
            async_amd=one.get("AsyncAmd", "false").lower() == "true",
            amd_callback=one.get("AsyncAmdStatusCallback"),
        )  # fmt: skip
        self.calls[call.sid] = call
        self._spawn(self._run_outbound(call))
        return web.json_response(self._resource(call), status=201)

    async def _update(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        if not self._authorised(request):
            return self._error(401, 20003, "Authenticate")
        call = self.calls.get(request.match_info["sid"])
        if call is None:
            return self._error(404, 20404, "The requested resource was not found")
        if "Twiml" in form:
            return await self._redirect(call, form["Twiml"][0])
        status = form.get("Status", [""])[0]
        if status not in ("completed", "canceled"):
            return self._error(400, 21218, f"Invalid Status {status!r}")
        if call.done.is_set():
            return web.json_response(self._resource(call))
        if status == "completed" and call.status != "in-progress":
            return self._error(400, 21220, "Call is not in-progress. Cannot redirect.")
        call.hung_up_by_api = True
        if call.stream is not None:
            await call.stream.stop()
        await self._finish(call, status)
        return web.json_response(self._resource(call))

    async def _redirect(self, call: FakeCall, twiml: str) -> web.Response:
        if call.done.is_set() or call.status != "in-progress":
            return self._error(400, 21220, "Call is not in-progress. Cannot redirect.")
        try:
            verbs = list(ET.fromstring(twiml))
        except ET.ParseError:
            return self._error(400, 12100, "Document parse failure")
        call.redirects.append(twiml)
        self._spawn(self._run_verbs(call, verbs))
        return web.json_response(self._resource(call))

    async def _run_verbs(self, call: FakeCall, verbs: list[ET.Element]) -> None:
        # After the API answered: the stream's `stop` may reach the app after the answer.
        await asyncio.sleep(0.05)
        if call.stream is not None:
            await call.stream.stop()
        for verb in verbs:
            if verb.tag == "Dial":
                await self._dial(call, verb)
            elif verb.tag in ("Reject", "Hangup"):
                break
        await self._finish(call, "completed")

    async def _dial(self, call: FakeCall, dial: ET.Element) -> None:
        """The caller is put through to the number: rings, then talks until the callee's
        scripted `ring_s` elapsed again (the fake holds no conversation of its own)."""
        number = (dial.text or "").strip()
        callee = self.callees.get(number, Callee())
        await asyncio.sleep(callee.ring_s)
        status = {"human": "completed", "machine": "completed"}.get(callee.answer, callee.answer)
        if status == "completed":
            await asyncio.sleep(callee.ring_s)
        call.dials.append((number, status))

    def _resource(self, call: FakeCall) -> dict[str, object]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{call.sid}.json"
        return {
            "sid": call.sid,
            "account_sid": self.account_sid,
            "to": call.to,
            "from": call.from_,
            "status": call.status,
            "direction": call.direction,
            "answered_by": call.answered_by,
            "api_version": API_VERSION,
            "uri": uri,
        }

    # -- a call's life -----------------------------------------------------------------------

    async def _run_outbound(self, call: FakeCall) -> None:
        callee = self.callees.get(call.to, Callee())
        await self._progress(call, "initiated", "initiated")
        await asyncio.sleep(callee.ring_s)
        await self._progress(call, "ringing", "ringing")
        if callee.answer in ("busy", "no-answer", "failed"):
            await asyncio.sleep(callee.ring_s)
            await self._finish(call, callee.answer)
            return
        call.answered_at = time.monotonic()
        await self._progress(call, "answered", "in-progress")
        verdict = "human" if callee.answer == "human" else "machine_end_beep"
        if call.machine_detection and not call.async_amd:
            await asyncio.sleep(callee.amd_delay_s)
            call.answered_by = verdict
        elif call.machine_detection and call.amd_callback:
            self._spawn(self._async_amd(call, callee, verdict))
        await self._run_twiml(call)

    async def _async_amd(self, call: FakeCall, callee: Callee, verdict: str) -> None:
        await asyncio.sleep(callee.amd_delay_s)
        if call.done.is_set() or call.amd_callback is None:
            return
        call.answered_by = verdict
        await self._post(call.amd_callback, [
            ("CallSid", call.sid), ("AccountSid", self.account_sid), ("AnsweredBy", verdict),
            ("MachineDetectionDuration", str(int(callee.amd_delay_s * 1000))),
        ])  # fmt: skip

    def _call_params(self, call: FakeCall) -> list[tuple[str, str]]:
        params = [
            ("CallSid", call.sid), ("AccountSid", self.account_sid), ("From", call.from_),
            ("To", call.to), ("Caller", call.from_), ("Called", call.to),
            ("CallStatus", call.status), ("Direction", call.direction),
            ("ApiVersion", API_VERSION),
        ]  # fmt: skip
        if call.answered_by is not None:
            params.append(("AnsweredBy", call.answered_by))
        return params

    async def _run_twiml(self, call: FakeCall) -> None:
        if call.direction == "inbound":
            call.status = "ringing"
        hook = await self._post(call.url, self._call_params(call))
        if hook.status != 200:
            await self._finish(call, "failed")
            return
        call.twiml = hook.body
        try:
            verbs = list(ET.fromstring(hook.body))
        except ET.ParseError:
            await self._finish(call, "failed")
            return
        for verb in verbs:
            if verb.tag == "Connect":
                if call.status != "in-progress":
                    call.status = "in-progress"
                    call.answered_at = time.monotonic()
                await self._connect(call, verb)
                if call.done.is_set() or call.redirects:
                    return  # ended, or running the TwiML it was redirected to
            elif verb.tag in ("Reject", "Hangup"):
                break
        await self._finish(call, "completed" if call.answered_at is not None else "canceled")

    async def _connect(self, call: FakeCall, connect: ET.Element) -> None:
        stream_el = connect.find("Stream")
        if stream_el is None:
            return
        url = stream_el.get("url", "")
        params = {p.get("name", ""): p.get("value", "") for p in stream_el.findall("Parameter")}
        stream = MediaStreamCaller(
            url, call_sid=call.sid, account_sid=self.account_sid, stream_sid=_sid("MZ"),
            parameters=params,
            headers={"X-Twilio-Signature": twilio_signature(self.auth_token, url)},
        )  # fmt: skip
        call.stream = stream
        try:
            await stream.connect()
        except (OSError, aiohttp.ClientError, Exception):
            call.stream_ready.set()
            return
        call.stream_ready.set()
        await stream.closed.wait()

    async def _progress(self, call: FakeCall, event: str, status: str) -> None:
        call.status = status
        if call.status_callback and event in call.status_events:
            await self._status_callback(call)

    async def _finish(self, call: FakeCall, status: str) -> None:
        if call.done.is_set():
            return
        call.status = status
        call.ended_at = time.monotonic()
        call.done.set()
        call.stream_ready.set()
        if call.status_callback and "completed" in call.status_events:
            await self._status_callback(call)

    async def _status_callback(self, call: FakeCall) -> None:
        assert call.status_callback is not None
        sequence = sum(1 for h in self.webhooks if h.url == call.status_callback)
        params = [
            *self._call_params(call),
            ("Timestamp", time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())),
            ("CallbackSource", "call-progress-events"),
            ("SequenceNumber", str(sequence)),
        ]
        if call.done.is_set():
            duration = 0 if call.answered_at is None else int(time.monotonic() - call.answered_at)
            params += [("CallDuration", str(duration)), ("Duration", str(duration))]
        await self._post(call.status_callback, params)

    async def _post(self, url: str, params: Iterable[tuple[str, str]]) -> Webhook:
        """A signed form POST, as Twilio makes its webhooks."""
        assert self._http is not None
        pairs = list(params)
        headers = {"X-Twilio-Signature": twilio_signature(self.auth_token, url, pairs)}
        try:
            async with self._http.post(url, data=pairs, headers=headers) as response:
                hook = Webhook(url, pairs, response.status, await response.text())
        except aiohttp.ClientError as exc:
            hook = Webhook(url, pairs, 0, repr(exc))
        self.webhooks.append(hook)
        return hook

    def webhooks_to(self, path: str) -> list[Webhook]:
        return [h for h in self.webhooks if urlsplit(h.url).path == path]
