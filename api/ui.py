"""Serving the UI build: files from `ui/dist`, and `index.html` for the app's deep links."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.response import File

# Paths the API owns: a miss there is a 404, never the UI's index.html.
RESERVED_PREFIXES = ("api", "healthz", "metrics", "twilio")


def ui_handler(dist: Path) -> HTTPRouteHandler:
    """A catch-all GET serving `dist` (the resolved UI build directory)."""
    root = dist.resolve()
    index = root / "index.html"

    @get(["/", "/{path:path}"], include_in_schema=False, sync_to_thread=False)
    def serve_ui(request: Request[Any, Any, Any]) -> Response[bytes] | File:
        relative = str(request.path_params.get("path", "")).lstrip("/")
        if relative.split("/", 1)[0] in RESERVED_PREFIXES:
            raise NotFoundException(f"no route for /{relative}")
        candidate = (root / relative).resolve()
        if relative and candidate.is_file() and candidate.is_relative_to(root):
            # Inline, with a type from the name: browsers refuse scripts sent as attachments.
            return File(candidate, filename=candidate.name, content_disposition_type="inline")
        if not index.is_file():
            raise NotFoundException("the UI build has no index.html")
        return Response(index.read_bytes(), media_type="text/html")

    return serve_ui
