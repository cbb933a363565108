"""`vocals serve`: the Litestar app on uvicorn, on the process's one uvloop event loop.

SIGTERM and SIGINT are the process's, not uvicorn's: uvicorn would stop HTTP and then re-raise
the signal with the default handler back in place, killing the process before live calls are
drained and recorded. Here the first signal refuses new calls, drains live ones for up to
VOCALS_SHUTDOWN_DRAIN_S, stops HTTP, ends what is left (hanging up its channels and bridges)
and writes every record, then the process exits 0. A second signal cuts the drain short; the
remaining calls are still ended and recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, Final

import structlog
import uvicorn
from litestar import Litestar

from api.app import create_app
from api.context import ApiContext, ApiSettings
from api.mail import Mailer
from ari_app.tasks import cancel_and_wait
from vocals.gc_freeze import freeze_startup_objects
from vocals.http_protocol import h11_with_deadlines
from vocals.limits import http_connection_cap
from vocals.runtime import Runtime
from vocals.settings import Settings
from vocals.telephony import Telephony

log = structlog.get_logger(__name__)

# The admin UI build, served at / when it exists (`make demo` and `make test` build it).
UI_DIST = Path(__file__).resolve().parent.parent / "ui" / "dist"
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)
# After the drain, open HTTP requests and media streams (a Twilio call ends and writes its
# record in well under a second once its stream closes) get this long before they are cut.
HTTP_CLOSE_S: Final = 5


class _Server(uvicorn.Server):
    """uvicorn without its signal handling, which `Shutdown` replaces."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Shutdown:
    """The stop signals: the first asks for a graceful stop, any later one for a quick one."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.hurried = asyncio.Event()

    @contextlib.contextmanager
    def handling_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self._signalled, sig)
        try:
            yield
        finally:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)

    def _signalled(self, sig: signal.Signals) -> None:
        if not self.requested.is_set():
            log.info("stopping: draining live calls", signal=sig.name)
            self.requested.set()
            return
        log.warning("stopping now: ending live calls", signal=sig.name)
        self.hurried.set()

    async def unless_hurried(self, work: Awaitable[Any]) -> None:
        """Await `work`, cancelled when a later signal asks for a quick stop."""
        task = asyncio.ensure_future(work)
        hurry = asyncio.create_task(self.hurried.wait())
        try:
            await asyncio.wait({task, hurry}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait(hurry)
            if not task.done():
                await cancel_and_wait(task)
        if not task.cancelled():
            task.result()


async def build_app(runtime: Runtime) -> tuple[Litestar, Telephony]:
    """The HTTP app over a connected runtime, with call control started behind it."""
    await runtime.connect()
    telephony = Telephony(runtime)
    runtime.on_stop(telephony.stop)
    await telephony.start()

    async def health() -> dict[str, Any]:
        return {**await runtime.health(), **await telephony.health()}

    mailer = Mailer(runtime.settings.smtp_url, runtime.settings.smtp_from)
    runtime.on_stop(mailer.aclose)
    if mailer.log_only:
        log.warning("mail.log_only_mode", reason="VOCALS_SMTP_URL is not set")
    context = ApiContext(
        pool=runtime.pool,
        redis=runtime.redis,
        box=runtime.box,
        settings=ApiSettings(
            public_url=runtime.settings.public_url,
            ui_dist=UI_DIST,
            login_attempts_per_ip=runtime.settings.login_attempts_per_ip,
            allow_private_urls=runtime.settings.allow_private_urls,
            sip_tls=runtime.settings.sip_tls,
        ),
        mailer=mailer,
        extra_health=health,
        on_trunks_changed=telephony.trunks_changed,
        hangup_call=telephony.hangup_call,
        trunk_status=telephony.trunk_status,
        prepare_web_call=telephony.warm_web_call,
    )
    app = create_app(context)
    telephony.mount(app)
    return app, telephony


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT, then drain, stop HTTP, end and record the rest."""
    shutdown = Shutdown()
    runtime = Runtime(settings)
    with shutdown.handling_signals():
        try:
            app, telephony = await build_app(runtime)
            freeze_startup_objects()
            server = _Server(
                uvicorn.Config(
                    app,
                    host=settings.http_host,
                    port=settings.http_port,
                    lifespan="on",
                    log_config=None,
                    access_log=False,
                    timeout_graceful_shutdown=HTTP_CLOSE_S,
                    http=h11_with_deadlines(settings.http_request_timeout_s),
                    limit_concurrency=http_connection_cap(settings.http_max_connections),
                    timeout_keep_alive=settings.http_keepalive_timeout_s,
                    ws_max_size=settings.ws_max_message_bytes,
                    proxy_headers=bool(settings.trusted_proxy_list),
                    forwarded_allow_ips=settings.trusted_proxy_list,
                )
            )
            stopper = asyncio.create_task(_stop_when_asked(shutdown, telephony, server))
            log.info("serving", url=f"http://{settings.http_host}:{settings.http_port}")
            try:
                # In this task, so that a failure to start (uvicorn's SystemExit) still closes
                # the runtime below.
                await server.serve()
            finally:
                await cancel_and_wait(stopper)
        finally:
            await runtime.close()
    log.info("stopped")


async def _stop_when_asked(
    shutdown: Shutdown, telephony: Telephony, server: uvicorn.Server
) -> None:
    """On the first stop signal: drain the calls, then let uvicorn stop HTTP."""
    await shutdown.requested.wait()
    await shutdown.unless_hurried(telephony.drain(telephony.runtime.settings.shutdown_drain_s))
    await telephony.end_virtual_calls()
    server.should_exit = True
