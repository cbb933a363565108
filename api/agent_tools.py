"""An agent's HTTP tools as the API takes them: shape checked on decode (400), destinations
checked against the SSRF rules like every tenant URL (422). A call turns them into
`pipeline.http_tools.HttpTool`, whose limits these mirror."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from api.context import ApiContext
from api.errors import FieldError
from api.webhooks.ssrf import refusal

# OpenAI's and Anthropic's rule for function names.
ToolName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
# A receptionist needs a handful; each one is described to the model on every turn.
MAX_TOOLS = 16
_TOOL_SCHEMES = frozenset({"http", "https"})


class AgentTool(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An HTTP endpoint the agent's model may call during a call: POST with the arguments as a
    JSON body, or GET with them as query parameters. The response body is the result."""

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
    return found
