"""Render, write, reload over ARI, verify, and roll back when Asterisk did not take it.

ARI answers 204 to a module reload whatever the files hold (captured on 22.10.1: an
unknown option silently drops that object, a syntax error drops the whole file's objects),
so every rendered endpoint is checked after the reload. ARI's endpoint list keeps
endpoints a reload removed, and an object whose new version Asterisk refused keeps its old
one, so when an AMI session is given the check reads the live configuration there
(`PJSIPShowEndpoint`) and compares the endpoint's fields with the rendered ones; without
AMI (or while it is down) it falls back to looking each endpoint up over ARI. When an
endpoint is missing or stale, or the reload itself fails (Asterisk unreachable, 404/409),
the previous files are written back and reloaded, and the caller gets the reason. Files
therefore end either as rendered and loaded, or exactly as they were.

Reloads are serialized and debounced per Asterisk server by `ReloadCoordinator`: changes
arriving within a short window share one reload, and a reload never overlaps another
(Asterisk answers 409 "Another reload is currently in progress").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Final, Literal, Protocol

import msgspec
import structlog

from provisioning.asterisk_api import DIALPLAN_MODULE, PJSIP_MODULE, PJSIP_TECHNOLOGY, AsteriskAri
from provisioning.models import InboundRoute, Trunk, TrunkConfig
from provisioning.naming import object_names
from provisioning.render import DEFAULT_STASIS_APP, expected_endpoint_fields, render_all
from provisioning.validation import InvalidTrunkError, ValidationError
from provisioning.writer import DEFAULT_FILE_MODE, Backup, replace_files, restore

log = structlog.get_logger(__name__)

RELOAD_MODULES: Final = (PJSIP_MODULE, DIALPLAN_MODULE)
# Long enough to gather the writes of one admin action (a trunk and its routes), short
# enough that the caller still waits for the result of its own change.
DEFAULT_DEBOUNCE_S: Final = 0.25
# Waits before retrying a reload Asterisk refused as busy (409 "Another reload is currently
# in progress": another process or an admin reloading); such a reload ends within seconds.
BUSY_RETRY_S: Final = (0.5, 1.0, 2.0)

Outcome = Literal["applied", "rolled_back", "failed", "invalid"]
Verifier = Literal["ami", "ari"]


class EndpointInspector(Protocol):
    """Reads an endpoint from Asterisk's live PJSIP configuration (an `AmiConnection`)."""

    @property
    def connected(self) -> bool: ...

    async def endpoint_details(self, name: str) -> Mapping[str, str] | None: ...


class ReloadResult(msgspec.Struct, frozen=True):
    """How a reload ended.

    applied: files written (or unchanged), reloaded, every endpoint found.
    rolled_back: Asterisk reloaded but lost endpoints (`missing`) or kept their previous
        version (`stale`); previous files restored and reloaded.
    failed: the reload could not be done (e.g. Asterisk unreachable); files restored.
    invalid: the trunks did not validate; nothing was written.
    """

    outcome: Outcome
    reason: str | None = None
    endpoints: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    errors: tuple[ValidationError, ...] = ()
    verified_by: Verifier | None = None

    @property
    def ok(self) -> bool:
        """True when the rendered configuration is live."""
        return self.outcome == "applied"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class _Retry(msgspec.Struct, frozen=True):
    busy: tuple[type[BaseException], ...]
    waits_s: tuple[float, ...]


async def _reload_modules(ari: AsteriskAri, retry: _Retry) -> None:
    for module in RELOAD_MODULES:
        for wait_s in (*retry.waits_s, None):
            try:
                await ari.reload_module(module)
                break
            except retry.busy:
                if wait_s is None:
                    raise
                log.info("provisioning.reload_busy", module=module, retry_in_s=wait_s)
                await asyncio.sleep(wait_s)


class _Verification(msgspec.Struct):
    missing: list[str]
    stale: list[str]
    verified_by: Verifier


async def _verify(
    ari: AsteriskAri,
    inspector: EndpointInspector | None,
    expected: Mapping[str, Mapping[str, str]],
    not_found: tuple[type[BaseException], ...],
) -> _Verification:
    result = _Verification([], [], "ami" if inspector and inspector.connected else "ari")
    for endpoint, fields in expected.items():
        if result.verified_by == "ami" and inspector is not None:
            try:
                details = await inspector.endpoint_details(endpoint)
            except Exception as exc:  # AMI lost mid-check: ARI still answers the basic question
                log.warning("provisioning.verify_fallback", reason=_describe(exc))
                result.verified_by = "ari"
            else:
                if details is None:
                    result.missing.append(endpoint)
                elif any(details.get(key) != value for key, value in fields.items()):
                    result.stale.append(endpoint)
                continue
        try:
            await ari.get_endpoint(PJSIP_TECHNOLOGY, endpoint)
        except not_found:
            result.missing.append(endpoint)
    return result


async def _roll_back(ari: AsteriskAri, backup: Backup, mode: int, retry: _Retry) -> str | None:
    """Restore the files and reload them; returns why the second reload failed, if it did."""
    await asyncio.to_thread(restore, backup, mode)
    try:
        await _reload_modules(ari, retry)
    except Exception as exc:  # any client failure: report it, the files are restored anyway
        return _describe(exc)
    return None


async def apply_trunks(
    ari: AsteriskAri,
    config_dir: Path,
    trunks: Sequence[Trunk],
    *,
    not_found: tuple[type[BaseException], ...],
    routes: Sequence[InboundRoute] = (),
    inspector: EndpointInspector | None = None,
    busy: tuple[type[BaseException], ...] = (),
    busy_retry_s: Sequence[float] = BUSY_RETRY_S,
    stasis_app: str = DEFAULT_STASIS_APP,
    file_mode: int = DEFAULT_FILE_MODE,
) -> ReloadResult:
    """One render → write → reload → verify cycle, rolling back on failure.

    `not_found` are the exception types the ARI client raises for a 404 endpoint lookup;
    `routes` are inbound routes not tied to a trunk; `inspector` (AMI) makes the check
    authoritative (see the module docstring); `busy` are the client's exception types for
    a 409 reload-in-progress, retried after each of `busy_retry_s`. Not serialized: use
    `ReloadCoordinator` to run it per Asterisk server.
    """
    try:
        files = render_all(trunks, stasis_app, routes)
    except InvalidTrunkError as exc:
        log.warning("provisioning.invalid", errors=len(exc.errors))
        return ReloadResult("invalid", reason=str(exc), errors=exc.errors)
    retry = _Retry(busy, tuple(busy_retry_s))
    expected = {object_names(t).endpoint: expected_endpoint_fields(t) for t in trunks}
    endpoints = tuple(sorted(expected))
    # fsync on a shared volume can take long enough to hold up live calls' audio.
    backup = await asyncio.to_thread(replace_files, config_dir, files, file_mode)
    try:
        await _reload_modules(ari, retry)
        check = await _verify(ari, inspector, expected, not_found)
    except Exception as exc:  # unreachable, 404 module, 409 busy, timeouts: all "not applied"
        reason = f"reload failed: {_describe(exc)}"
        rollback_error = await _roll_back(ari, backup, file_mode, retry)
        if rollback_error is not None:
            reason += f"; reloading the restored files also failed: {rollback_error}"
        log.error("provisioning.reload_failed", reason=reason, changed=len(backup.files))
        return ReloadResult("failed", reason=reason, endpoints=endpoints)
    if check.missing or check.stale:
        problems = []
        if check.missing:
            problems.append("Asterisk did not load endpoints: " + ", ".join(check.missing))
        if check.stale:
            problems.append("Asterisk kept the previous version of: " + ", ".join(check.stale))
        reason = "; ".join(problems)
        rollback_error = await _roll_back(ari, backup, file_mode, retry)
        if rollback_error is not None:
            reason += f"; reloading the restored files failed: {rollback_error}"
        log.error("provisioning.rolled_back", reason=reason, verified_by=check.verified_by)
        return ReloadResult(
            "rolled_back",
            reason=reason,
            endpoints=endpoints,
            missing=tuple(check.missing),
            stale=tuple(check.stale),
            verified_by=check.verified_by,
        )
    log.info(
        "provisioning.applied",
        endpoints=len(endpoints),
        changed=len(backup.files),
        verified_by=check.verified_by,
    )
    return ReloadResult("applied", endpoints=endpoints, verified_by=check.verified_by)


class ReloadCoordinator:
    """Debounced, serialized reloads for one Asterisk server.

    `request_reload()` waits for the reload that covers the caller's change and returns its
    result; requests within `debounce_s` of each other share one reload. `load_config` is
    called when the reload starts, so it sees every change committed before then.
    """

    def __init__(
        self,
        ari: AsteriskAri,
        config_dir: Path,
        load_config: Callable[[], Awaitable[TrunkConfig]],
        *,
        not_found: tuple[type[BaseException], ...],
        inspector: EndpointInspector | None = None,
        busy: tuple[type[BaseException], ...] = (),
        stasis_app: str = DEFAULT_STASIS_APP,
        debounce_s: float = DEFAULT_DEBOUNCE_S,
        file_mode: int = DEFAULT_FILE_MODE,
    ) -> None:
        self._ari = ari
        self._config_dir = config_dir
        self._load_config = load_config
        self._not_found = not_found
        self._inspector = inspector
        self._busy = busy
        self._stasis_app = stasis_app
        self._debounce_s = debounce_s
        self._file_mode = file_mode
        self._lock = asyncio.Lock()
        self._pending: asyncio.Future[ReloadResult] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.reloads_started = 0

    async def request_reload(self) -> ReloadResult:
        """Ask for the current trunks to be applied; returns that reload's result."""
        if self._pending is None:
            self._pending = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._run(self._pending))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(self._pending)

    async def _run(self, result: asyncio.Future[ReloadResult]) -> None:
        try:
            await asyncio.sleep(self._debounce_s)
            async with self._lock:
                # From here on a new request may carry a change this reload will not read.
                if self._pending is result:
                    self._pending = None
                self.reloads_started += 1
                config = await self._load_config()
                outcome = await apply_trunks(
                    self._ari,
                    self._config_dir,
                    config.trunks,
                    not_found=self._not_found,
                    routes=config.routes,
                    inspector=self._inspector,
                    busy=self._busy,
                    stasis_app=self._stasis_app,
                    file_mode=self._file_mode,
                )
        except asyncio.CancelledError:
            result.cancel()
            raise
        except Exception as exc:  # e.g. the store failed: every waiter gets the error
            result.set_exception(exc)
            return
        result.set_result(outcome)

    async def close(self) -> None:
        """Cancel pending reloads (waiters get CancelledError) and wait for them to end."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
        self._pending = None
