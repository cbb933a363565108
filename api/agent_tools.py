"""An agent's HTTP tools as the API takes them: shape checked on decode (400), destinations
checked against the SSRF rules like every tenant URL and header values sealed (422 naming the
field). A call turns them into `pipeline.http_tools.HttpTool`, whose limits these mirror.

Header values are secrets (an `Authorization` header is as good as a password): sealed at rest
by `store.tool_headers`, answered only as a hint of their last characters. A header sent without
a value keeps the value stored for it, unless the tool now calls another origin: a secret meant
for one host is not sent to another without being typed again."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from api.context import ApiContext
from api.errors import FieldError
from api.webhooks.ssrf import refusal
from store.tool_headers import seal_header

# OpenAI's and Anthropic's rule for function names.
ToolName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
# A receptionist needs a handful; each one is described to the model on every turn.
MAX_TOOLS = 16
# More than any API's authentication and routing headers take.
MAX_HEADERS = 16
_TOOL_SCHEMES = frozenset({"http", "https"})
# RFC 9110's token: what a header name may be made of.
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Set by the request itself (a JSON body over HTTP/1.1): a tool may not change them.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection"}
)


class ToolHeader(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A request header the tool sends. `value` is secret and never returned; left out (or
    null) on an update, the value stored for this header of this tool is kept."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    value: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)] | None = None


class ToolHeaderOut(msgspec.Struct, kw_only=True):
    """A stored header: its value is set, and `hint` is its last 4 characters (null for a
    value too short to show any of it)."""

    name: str
    hint: str | None


class _ToolFields(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: ToolName
    description: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    method: Literal["GET", "POST"] = "POST"
    # JSON schema (type object) of the arguments the model passes.
    parameters: dict[str, Any] = msgspec.field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=30)] = 10.0
    # Said when the tool has not answered after `filler_after_s`; empty: say nothing.
    filler: Annotated[str, msgspec.Meta(max_length=200)] = "One moment while I check that."
    filler_after_s: Annotated[float, msgspec.Meta(ge=0, le=10)] = 1.0


class AgentTool(_ToolFields, kw_only=True, forbid_unknown_fields=True):
    """An HTTP endpoint the agent's model may call during a call: POST with the arguments as a
    JSON body, or GET with them as query parameters. The response body is the result."""

    headers: Annotated[list[ToolHeader], msgspec.Meta(max_length=MAX_HEADERS)] = msgspec.field(
        default_factory=list
    )


class AgentToolOut(_ToolFields, kw_only=True):
    """A stored tool; its headers' values are never shown."""

    headers: list[ToolHeaderOut] = msgspec.field(default_factory=list)


AgentTools = Annotated[list[AgentTool], msgspec.Meta(max_length=MAX_TOOLS)]


class AgentMcpServer(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An MCP server (streamable HTTP) whose tools the agent's model may use; its tools are
    listed when each call starts."""

    name: ToolName
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    # Only these of the server's tools are offered to the model; null: every tool it lists.
    allowed_tools: Annotated[list[ToolName], msgspec.Meta(max_length=MAX_TOOLS)] | None = None
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=30)] = 10.0
    filler: Annotated[str, msgspec.Meta(max_length=200)] = "One moment while I check that."
    filler_after_s: Annotated[float, msgspec.Meta(ge=0, le=10)] = 1.0


# Each server's tools are listed at every call's start, while the greeting plays.
MAX_MCP_SERVERS = 4
AgentMcpServers = Annotated[list[AgentMcpServer], msgspec.Meta(max_length=MAX_MCP_SERVERS)]


def mcp_server_problems(context: ApiContext, servers: list[dict[str, Any]]) -> list[FieldError]:
    """What is wrong with `servers` beyond their shape, each named `mcp_servers[i].field`."""
    found: list[FieldError] = []
    seen: set[str] = set()
    for index, server in enumerate(servers):
        if server["name"] in seen:
            found.append(FieldError(f"mcp_servers[{index}].name", "names a server twice"))
        seen.add(server["name"])
        reason = refusal(
            server["url"], allow_private=context.settings.allow_private_urls, schemes=_TOOL_SCHEMES
        )
        if reason is not None:
            found.append(FieldError(f"mcp_servers[{index}].url", reason))
    return found


def tool_problems(context: ApiContext, tools: list[dict[str, Any]]) -> list[FieldError]:
    """What is wrong with `tools` beyond their shape, each named `tools[i].field`."""
    found: list[FieldError] = []
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        if tool["name"] in seen:
            found.append(FieldError(f"tools[{index}].name", "names a tool twice"))
        seen.add(tool["name"])
        if tool["parameters"].get("type") != "object":
            found.append(FieldError(f"tools[{index}].parameters", "must be of type object"))
        reason = refusal(
            tool["url"], allow_private=context.settings.allow_private_urls, schemes=_TOOL_SCHEMES
        )
        if reason is not None:
            found.append(FieldError(f"tools[{index}].url", reason))
        found += _header_problems(f"tools[{index}].headers", tool.get("headers", []))
    return found


def _header_problems(path: str, headers: list[dict[str, Any]]) -> list[FieldError]:
    found: list[FieldError] = []
    seen: set[str] = set()
    for index, header in enumerate(headers):
        name = str(header["name"])
        if not _HEADER_NAME.match(name):
            found.append(
                FieldError(f"{path}[{index}].name", "may only hold letters, digits and - _ .")
            )
        elif name.lower() in _RESERVED_HEADERS:
            found.append(FieldError(f"{path}[{index}].name", "is set by Vocals for each request"))
        elif name.lower() in seen:
            found.append(FieldError(f"{path}[{index}].name", "names a header twice"))
        seen.add(name.lower())
        value = header.get("value")
        if value is not None and any(c in value for c in "\r\n\0"):
            found.append(FieldError(f"{path}[{index}].value", "must be a single line"))
    return found


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port


def sealed_tools(
    context: ApiContext, tools: list[dict[str, Any]], stored: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[FieldError]]:
    """`tools` as stored: new header values sealed, values left out taken from the same header
    of the stored tool of the same name (and origin); what cannot be kept is an error."""
    previous = {str(tool["name"]): tool for tool in stored}
    found: list[FieldError] = []
    result: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        before = previous.get(str(tool["name"]))
        kept: dict[str, dict[str, Any]] = {}
        if before is not None and _origin(before["url"]) == _origin(tool["url"]):
            kept = {str(h["name"]).lower(): h for h in before.get("headers", [])}
        headers: list[dict[str, Any]] = []
        for position, header in enumerate(tool.get("headers", [])):
            name, value = str(header["name"]), header.get("value")
            if value is not None:
                headers.append(seal_header(context.box, name, value))
            elif name.lower() in kept:
                headers.append({**kept[name.lower()], "name": name})
            else:
                reason = (
                    "enter the value again: the tool now calls another address"
                    if before is not None and name.lower() in _names(before)
                    else "is required for a new header"
                )
                found.append(FieldError(f"tools[{index}].headers[{position}].value", reason))
        result.append({**tool, "headers": headers})
    return result, found


def _names(tool: dict[str, Any]) -> set[str]:
    return {str(h["name"]).lower() for h in tool.get("headers", [])}
