"""An agent's HTTP tools against a real endpoint on 127.0.0.1: how arguments are sent and how
every kind of failure becomes a result the model can read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from pipeline.http_tools import MAX_RESULT_CHARS, HttpTool, HttpTools
from providers.base import ToolCall
from tests.fakes.cloud_common import LocalServer


@pytest.fixture
async def endpoint() -> AsyncIterator[tuple[str, list[web.Request]]]:
    seen: list[web.Request] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request)
        if request.path == "/broken":
            return web.Response(status=503, text="maintenance")
        if request.path == "/long":
            return web.Response(text="x" * (MAX_RESULT_CHARS + 500))
        return web.json_response({"query": dict(request.query)})

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", answer)
    server = LocalServer(app)
    port = await server.start()
    yield f"http://127.0.0.1:{port}", seen
    await server.stop()


def tools(base: str, path: str, **fields: Any) -> HttpTools:
    tool = HttpTool(name="lookup", description="Looks things up.", url=f"{base}{path}", **fields)
    return HttpTools([tool], check_url=None)


async def test_get_sends_the_arguments_as_query_parameters(
    endpoint: tuple[str, list[web.Request]],
) -> None:
    base, seen = endpoint
    outcome = await tools(base, "/find", method="GET").run(
        ToolCall("c1", "lookup", '{"day": "Friday", "party": 3}')
    )
    assert outcome.ok
    assert outcome.content == '{"query": {"day": "Friday", "party": "3"}}'
    assert seen[0].method == "GET"


async def test_failures_are_results_the_model_can_read(
    endpoint: tuple[str, list[web.Request]],
) -> None:
    base, seen = endpoint
    broken = await tools(base, "/broken").run(ToolCall("c1", "lookup", "{}"))
    assert (broken.ok, broken.content) == (False, "lookup failed with HTTP 503: maintenance")
    unknown = await tools(base, "/").run(ToolCall("c2", "book_flight", "{}"))
    assert (unknown.ok, unknown.content) == (False, "There is no tool named book_flight.")
    garbled = await tools(base, "/").run(ToolCall("c3", "lookup", '{"day": '))
    assert not garbled.ok and "not a JSON object" in garbled.content
    long = await tools(base, "/long").run(ToolCall("c4", "lookup", "{}"))
    assert long.ok and len(long.content) == MAX_RESULT_CHARS
    closed = await tools("http://127.0.0.1:9", "/").run(ToolCall("c5", "lookup", "{}"))
    assert (closed.ok, closed.content) == (False, "lookup could not be reached (ConnectError).")
    assert len(seen) == 2  # neither the unknown tool nor the garbled arguments were sent


async def test_the_tools_headers_go_with_every_request_and_stay_out_of_its_repr(
    endpoint: tuple[str, list[web.Request]],
) -> None:
    base, seen = endpoint
    secret = {"Authorization": "Bearer sk-live-0123456789abcdef", "X-Shop": "42"}
    for method in ("GET", "POST"):
        runner = tools(base, "/find", method=method, headers=secret)
        assert (await runner.run(ToolCall("c1", "lookup", '{"day": "Friday"}'))).ok
    assert [(r.method, r.headers["Authorization"], r.headers["X-Shop"]) for r in seen] == [
        ("GET", secret["Authorization"], "42"),
        ("POST", secret["Authorization"], "42"),
    ]
    tool = HttpTool(name="lookup", description="d", url=f"{base}/", headers=secret)
    assert "sk-live" not in repr(tool) and "Authorization" in repr(tool)
