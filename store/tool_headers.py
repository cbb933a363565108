"""The request headers of an agent's HTTP tools at rest: each value sealed by `SecretBox` (an
`Authorization` header is as secret as a provider key), kept inside the agent's `tools` column
as `{"name", "sealed", "hint"}`. Only a call running the tool unseals them."""

from __future__ import annotations

import base64
from typing import Any, Final

from store.secrets import SecretBox

PURPOSE: Final = "agents.tools.headers"
# Values at least this long show their last 4 characters, as provider keys do; in a shorter
# one 4 characters would give away too much of the secret.
HINT_MIN_CHARS: Final = 12
HINT_CHARS: Final = 4


def seal_header(box: SecretBox, name: str, value: str) -> dict[str, Any]:
    """The stored form of header `name: value`."""
    sealed = base64.b64encode(box.encrypt(value, PURPOSE)).decode()
    hint = value[-HINT_CHARS:] if len(value) >= HINT_MIN_CHARS else None
    return {"name": name, "sealed": sealed, "hint": hint}


def unsealed_headers(box: SecretBox, stored: list[dict[str, Any]]) -> dict[str, str]:
    """A tool's headers in clear, for the request a call makes."""
    return {str(h["name"]): box.decrypt(base64.b64decode(h["sealed"]), PURPOSE) for h in stored}


def runnable_tools(box: SecretBox, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An agent's stored tools with their headers unsealed (`{name: value}`)."""
    return [{**tool, "headers": unsealed_headers(box, tool.get("headers", []))} for tool in tools]


def rotated_tools(box: SecretBox, tools: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """`tools` with every header value not yet under `box`'s current key re-sealed under it,
    and how many were."""
    changed = 0
    result: list[dict[str, Any]] = []
    for tool in tools:
        headers: list[dict[str, Any]] = []
        for header in tool.get("headers", []):
            sealed = base64.b64decode(header["sealed"])
            if box.needs_rotation(sealed):
                rotated = base64.b64encode(box.rotate(sealed, PURPOSE)).decode()
                header = {**header, "sealed": rotated}
                changed += 1
            headers.append(header)
        result.append({**tool, "headers": headers} if "headers" in tool else tool)
    return result, changed
