"""Twilio's Calls REST API over httpx (PROTOCOLS.md §7.5): place a call, hang it up.

Authenticated with HTTP Basic (AccountSid, AuthToken). 429 and 5xx answers are retried with
backoff (honouring `Retry-After`), as are connections that never opened; 4xx answers are the
caller's mistake and are raised at once. A request that may have reached Twilio (read timeout)
is not retried: creating a call twice would ring the callee twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Final

import httpx
import msgspec
import structlog

from twilio_adapter.accounts import TwilioCredentials

log = structlog.get_logger(__name__)

API_BASE: Final = "https://api.twilio.com"
API_VERSION: Final = "2010-04-01"
ATTEMPTS: Final = 3
# First retry delay; doubled each time. Twilio's 429s clear within a second or two.
BACKOFF_S: Final = 0.5
REQUEST_TIMEOUT_S: Final = 10.0
# Status callbacks we ask for: every step, so ringing, answer and the outcome are recorded.
STATUS_EVENTS: Final = ("initiated", "ringing", "answered", "completed")


class CallResource(msgspec.Struct, kw_only=True):
    """The fields of Twilio's Call resource we use (others are ignored)."""

    sid: str
    status: str
    direction: str | None = None
    answered_by: str | None = None


class TwilioApiError(Exception):
    """Twilio refused a request (or kept failing); `status` is the HTTP status, 0 if none."""

    def __init__(self, status: int, message: str, code: int | None = None) -> None:
        super().__init__(f"Twilio API {status}: {message}")
        self.status = status
        self.code = code
        self.message = message


class _ErrorBody(msgspec.Struct):
    message: str = ""
    code: int | None = None


class TwilioRest:
    """Calls API client; one per process (it keeps a connection pool)."""

    def __init__(
        self,
        base_url: str = API_BASE,
        *,
        attempts: int = ATTEMPTS,
        backoff_s: float = BACKOFF_S,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout_s)
        self._attempts = attempts
        self._backoff_s = backoff_s

    async def close(self) -> None:
        await self._client.aclose()

    async def create_call(
        self,
        creds: TwilioCredentials,
        *,
        to: str,
        from_: str,
        url: str,
        status_callback: str,
        machine_detection: str | None = "DetectMessageEnd",
        async_amd_callback: str | None = None,
        ring_timeout_s: int | None = None,
    ) -> CallResource:
        """`POST /Calls.json`: dial `to`; Twilio fetches TwiML from `url` once answered.

        With `machine_detection` and `async_amd_callback`, AMD runs asynchronously (the stream
        starts on answer) and its `AnsweredBy` is POSTed to the callback.
        """
        form: list[tuple[str, str]] = [
            ("To", to),
            ("From", from_),
            ("Url", url),
            ("Method", "POST"),
            ("StatusCallback", status_callback),
            ("StatusCallbackMethod", "POST"),
            *(("StatusCallbackEvent", event) for event in STATUS_EVENTS),
        ]
        if machine_detection is not None:
            form.append(("MachineDetection", machine_detection))
            if async_amd_callback is not None:
                form += [
                    ("AsyncAmd", "true"),
                    ("AsyncAmdStatusCallback", async_amd_callback),
                    ("AsyncAmdStatusCallbackMethod", "POST"),
                ]
        if ring_timeout_s is not None:
            form.append(("Timeout", str(ring_timeout_s)))
        return await self._call_request(creds, "Calls.json", form)

    async def hangup(self, creds: TwilioCredentials, call_sid: str) -> CallResource:
        """`POST /Calls/{sid}.json Status=completed`: end an in-progress call."""
        return await self._call_request(creds, f"Calls/{call_sid}.json", [("Status", "completed")])

    async def redirect(self, creds: TwilioCredentials, call_sid: str, twiml: str) -> CallResource:
        """`Twiml=`: a live call leaves its TwiML (our stream ends) and runs `twiml`."""
        return await self._call_request(creds, f"Calls/{call_sid}.json", [("Twiml", twiml)])

    async def cancel(self, creds: TwilioCredentials, call_sid: str) -> CallResource:
        """`Status=canceled`: end a call still queued or ringing."""
        return await self._call_request(creds, f"Calls/{call_sid}.json", [("Status", "canceled")])

    async def _call_request(
        self, creds: TwilioCredentials, path: str, form: Sequence[tuple[str, str]]
    ) -> CallResource:
        response = await self._post(
            f"/{API_VERSION}/Accounts/{creds.account_sid}/{path}", creds, form
        )
        try:
            return msgspec.json.decode(response.content, type=CallResource)
        except msgspec.DecodeError as exc:
            raise TwilioApiError(response.status_code, f"unreadable answer: {exc}") from exc

    async def _post(
        self, path: str, creds: TwilioCredentials, form: Sequence[tuple[str, str]]
    ) -> httpx.Response:
        auth = httpx.BasicAuth(creds.account_sid, creds.auth_token)
        delay = self._backoff_s
        for attempt in range(1, self._attempts + 1):
            try:
                response = await self._client.post(path, data=_form(form), auth=auth)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt == self._attempts:
                    raise TwilioApiError(0, f"unreachable: {exc!r}") from exc
                log.warning("Twilio unreachable, retrying", attempt=attempt, error=repr(exc))
            except httpx.HTTPError as exc:
                raise TwilioApiError(0, f"request failed: {exc!r}") from exc
            else:
                status = response.status_code
                if status < 400:
                    return response
                error = _error(response)
                if (status != 429 and status < 500) or attempt == self._attempts:
                    raise error
                log.warning("Twilio API retrying", status=status, attempt=attempt)
                delay = max(delay, _retry_after(response))
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")


def _form(pairs: Sequence[tuple[str, str]]) -> Mapping[str, list[str]]:
    """httpx form data keeping repeated names (StatusCallbackEvent) in order."""
    form: dict[str, list[str]] = {}
    for name, value in pairs:
        form.setdefault(name, []).append(value)
    return form


def _error(response: httpx.Response) -> TwilioApiError:
    try:
        body = msgspec.json.decode(response.content, type=_ErrorBody)
    except msgspec.DecodeError:
        body = _ErrorBody(message=response.text[:200])
    return TwilioApiError(response.status_code, body.message or response.reason_phrase, body.code)


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(30.0, float(response.headers.get("Retry-After", "0")))
    except ValueError:
        return 0.0
