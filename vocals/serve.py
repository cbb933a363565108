"""`vocals serve`: the Litestar app on uvicorn, on the process's one uvloop event loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog
import uvicorn
from litestar import Litestar

from api.app import create_app
from api.context import ApiContext, ApiSettings
from vocals.runtime import Runtime
from vocals.settings import Settings
from vocals.telephony import Telephony

log = structlog.get_logger(__name__)

# The admin UI build, served at / when it exists (`make demo` and `make test` build it).
UI_DIST = Path(__file__).resolve().parent.parent / "ui" / "dist"


async def build_app(runtime: Runtime) -> Litestar:
    """The HTTP app over a connected runtime, with call control started behind it."""
    await runtime.connect()
    telephony = Telephony(runtime)
    runtime.on_stop(telephony.stop)
    await telephony.start()

    async def health() -> dict[str, Any]:
        return {**await runtime.health(), **await telephony.health()}

    context = ApiContext(
        pool=runtime.pool,
        redis=runtime.redis,
        box=runtime.box,
        settings=ApiSettings(
            public_url=runtime.settings.public_url,
            ui_dist=UI_DIST,
            sip_tls=runtime.settings.sip_tls,
        ),
        extra_health=health,
        on_trunks_changed=telephony.trunks_changed,
        hangup_call=telephony.hangup_call,
        trunk_status=telephony.trunk_status,
    )
    app = create_app(context)
    telephony.mount(app)
    return app


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM: uvicorn stops taking requests, then the runtime drains."""
    runtime = Runtime(settings)
    try:
        app = await build_app(runtime)
        config = uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            lifespan="on",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(settings.shutdown_drain_s),
        )
        log.info("serving", url=f"http://{settings.http_host}:{settings.http_port}")
        await uvicorn.Server(config).serve()
    finally:
        await runtime.close()
