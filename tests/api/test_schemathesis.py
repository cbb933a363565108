"""Property-based checks of the whole API against its own OpenAPI document (schemathesis).

The API runs in a real uvicorn on 127.0.0.1 (its own thread, event loop, pool and Redis
client); every operation is called with generated valid and invalid input and must answer
without a 5xx, with a declared status, content type and a body matching its schema.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from redis.asyncio import Redis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.context import ApiContext
from store.db import create_pool
from store.secrets import SecretBox
from tests.api.conftest import TEST_SECRET_KEY, TEST_SETTINGS, MakeTenant, TenantHandle
from vocals.net import free_port

# Enough to reach every operation with valid and invalid input; small enough for `make test`.
# A deeper local run: VOCALS_FUZZ_EXAMPLES=100.
MAX_EXAMPLES = int(os.environ.get("VOCALS_FUZZ_EXAMPLES", "5"))
_STARTUP_TIMEOUT_S = 20.0


@pytest.fixture(scope="session")
def live_api(database_url: str, redis_url: str) -> Iterator[str]:
    port = free_port()
    servers: list[uvicorn.Server] = []

    async def serve() -> None:
        pool = await create_pool(database_url)
        redis = Redis.from_url(redis_url)
        context = ApiContext(
            pool=pool, redis=redis, box=SecretBox(TEST_SECRET_KEY), settings=TEST_SETTINGS
        )
        config = uvicorn.Config(
            create_app(context), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        server = uvicorn.Server(config)
        servers.append(server)
        try:
            await server.serve()
        finally:
            await pool.close()
            await redis.aclose()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while not (servers and servers[0].started):
        if time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    servers[0].should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
async def fuzz_tenant(make_tenant: MakeTenant) -> TenantHandle:
    """A tenant of its own: generated requests create and delete things freely."""
    return await make_tenant()


# 400 is the answer to input the schema forbids; 422 to schema-valid input the API refuses
# for what no schema can know (an unknown vendor, an agent that does not exist, a field that
# needs another). Schema-valid input must never get a 400.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
            }
        }
    }
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    # What the schema allows is accepted and what it forbids refused: they agree.
    positive_data_acceptance,
    negative_data_rejection,
]


def _run(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> str | None:
    """Run generated cases of one operation; the first failure as text, or None."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        check()
    except Unsatisfiable:
        # An operation without parameters or body has no invalid input to generate.
        return None
    except (Exception, BaseExceptionGroup) as exc:  # every failing operation is reported
        return f"{operation.label} ({mode.value}): {exc}"
    return None


def test_api_conforms_to_its_schema(live_api: str, fuzz_tenant: TenantHandle) -> None:
    # schemathesis's pytest plugin does not run under pytest 9, so operations are driven here.
    schema = schemathesis.openapi.from_url(f"{live_api}/api/v1/openapi.json", config=CONFIG)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema has an invalid operation: {result}"
        operations.append(result.ok())
    assert len(operations) > 40
    failures = [
        failure
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if (failure := _run(operation, mode, fuzz_tenant.key)) is not None
    ]
    assert not failures, "\n\n".join(failures)
