"""A real MCP server (the official SDK's, over streamable HTTP) on 127.0.0.1: a calendar whose
`free_slots` tool takes `delay_s` to answer, and a `book` tool that fails on a full day."""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError


@dataclass
class CalendarMcp:
    delay_s: float = 0.0
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answered_at: list[float] = field(default_factory=list)
    url: str = ""
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        mcp = MCPServer("calendar")

        @mcp.tool(description="Free appointment slots on a day, as HH:MM times.")
        async def free_slots(day: str) -> str:
            self.calls.append(("free_slots", {"day": day}))
            await asyncio.sleep(self.delay_s)  # the slow calendar being simulated
            self.answered_at.append(time.monotonic())
            return '{"slots": ["10:00", "14:30"]}'

        @mcp.tool(description="Book a slot.")
        async def book(day: str, slot: str) -> str:
            self.calls.append(("book", {"day": day, "slot": slot}))
            raise ToolError(f"{day} is fully booked")

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        # Listening before uvicorn serves: a client that comes early waits in the backlog.
        sock.listen(16)
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            mcp.streamable_http_app(), log_level="warning", lifespan="on", loop="asyncio"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        self.url = f"http://127.0.0.1:{port}/mcp"

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
