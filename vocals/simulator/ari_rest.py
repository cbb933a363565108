"""ARI answers that do not depend on call state, as Asterisk 22.10.1 gives them.

Shared by every simulated Asterisk (the shipped `AsteriskSimulator` and the test suite's fake)
so the identity, error body and module/info/ping shapes are written once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime
from typing import Final

from aiohttp import web

ASTERISK_ID: Final = "02:fc:00:00:00:01"
ASTERISK_VERSION: Final = "22.10.1"
# chan_audiosocket gives up connecting to the service after this long.
AUDIOSOCKET_CONNECT_TIMEOUT_S: Final = 2.0


def ari_timestamp() -> str:
    """Now, in ARI's timestamp format (milliseconds, +0000)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def ari_error(status: int, message: str) -> web.Response:
    """ARI's error body: `{"message": ...}` with the status."""
    return web.json_response({"message": message}, status=status)


def ari_unauthorised() -> web.Response:
    """ARI's 401 for a request without valid credentials."""
    return web.json_response(
        {"message": "Authentication required"},
        status=401,
        headers={"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'},
    )


async def ari_dispatch(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Run `handler`, answering unknown routes and methods with ARI's bodies, not aiohttp's."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return ari_error(404, "Resource not found")
    except web.HTTPMethodNotAllowed:
        return ari_error(405, "Method Not Allowed")


async def asterisk_info(request: web.Request) -> web.Response:
    """GET /asterisk/info: version and entity id."""
    return web.json_response(
        {
            "system": {"version": ASTERISK_VERSION, "entity_id": ASTERISK_ID},
            "status": {"startup_time": ari_timestamp(), "last_reload_time": ari_timestamp()},
        }
    )


async def asterisk_ping(request: web.Request) -> web.Response:
    """GET /asterisk/ping."""
    return web.json_response(
        {"asterisk_id": ASTERISK_ID, "ping": "pong", "timestamp": ari_timestamp()}
    )


def running_module(request: web.Request, running: Collection[str]) -> str | None:
    """The `{name}` of a modules request with `.so` added, if it is one of `running`."""
    name: str = request.match_info["name"]
    name = name if name.endswith(".so") else f"{name}.so"
    return name if name in running else None


def module_response(name: str | None) -> web.Response:
    """GET /asterisk/modules/{name} for a running module, or ARI's 404 when it is not."""
    if name is None:
        return ari_error(404, "Module could not be found in running modules")
    return web.json_response(
        {
            "name": name,
            "description": "",
            "use_count": 0,
            "status": "Running",
            "support_level": "core",
        }
    )
