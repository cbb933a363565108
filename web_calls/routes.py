"""The browser's endpoints, mounted at the process's root:

* `WS /web-calls/{agent_id}/socket` - one browser call (`session.serve_socket`);
* `GET /web-call.js` - the embeddable client (a button that starts a call with a token), its
  AudioWorklet (microphone out, agent audio in) inlined so a site loads one file, no CORS.
"""

from __future__ import annotations

import uuid
from importlib import resources
from typing import Any, Final

import msgspec
from litestar import Response, Router, WebSocket, get, websocket
from litestar.exceptions import WebSocketDisconnect

from web_calls.protocol import MAX_AUDIO_BYTES, MAX_TEXT_CHARS, TooBig
from web_calls.session import WebCallServices, serve_socket

# api/routes/web_calls.py hands this path to browsers (api/ must not import us).
SOCKET_PATH: Final = "/web-calls/{agent_id:uuid}/socket"
SCRIPT_PATH: Final = "/web-call.js"
WORKLET_PLACEHOLDER: Final = "__WORKLET_SOURCE__"
JAVASCRIPT: Final = "text/javascript; charset=utf-8"
# Sites embed the script; an hour of caching spares a request per page view and lets a fix
# reach them the same day.
SCRIPT_CACHE: Final = "public, max-age=3600"


def _static(name: str) -> str:
    return resources.files("web_calls").joinpath("static", name).read_text(encoding="utf-8")


def client_script() -> str:
    """`web-call.js` with its worklet's source inlined."""
    worklet = msgspec.json.encode(_static("web-call-worklet.js")).decode()
    return _static("web-call.js").replace(WORKLET_PLACEHOLDER, worklet)


def web_calls_router(services: WebCallServices) -> Router:
    script = client_script()

    @websocket(SOCKET_PATH)
    async def socket_handler(socket: WebSocket[Any, Any, Any], agent_id: uuid.UUID) -> None:
        await socket.accept()

        async def receive() -> bytes | str | None:
            try:
                message = await socket.receive()
            except WebSocketDisconnect:
                return None
            if message["type"] == "websocket.disconnect":
                return None
            data = message.get("bytes")
            if isinstance(data, bytes):
                if len(data) > MAX_AUDIO_BYTES:
                    raise TooBig(f"audio message of {len(data)} bytes")
                return data
            text = message.get("text")
            if not isinstance(text, str) or len(text) > MAX_TEXT_CHARS:
                raise TooBig("text message too long")
            return text

        async def send(data: bytes | str) -> None:
            if isinstance(data, bytes):
                await socket.send_bytes(data)
            else:
                await socket.send_text(data)

        async def close(code: int, reason: str) -> None:
            if socket.connection_state != "disconnect":
                await socket.close(code, reason)

        origin = socket.headers.get("origin")
        await serve_socket(agent_id, origin, receive, send, close, services)

    @get(SCRIPT_PATH, include_in_schema=False, sync_to_thread=False)
    def script_handler() -> Response[str]:
        return Response(script, media_type=JAVASCRIPT, headers={"Cache-Control": SCRIPT_CACHE})

    return Router(path="/", route_handlers=[socket_handler, script_handler])
