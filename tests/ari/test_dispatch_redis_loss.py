"""Redis becomes unreachable (a proxy in front of it stops) while a queued call waits for its
pacing slot: the call is not dialled then, and the process holds nothing of it (no session, no
trunk slot being renewed, no capacity); once Redis is back the job's claim runs out and it is
dialled."""

from __future__ import annotations

import asyncio
import re
import uuid
from urllib.parse import urlsplit

import asyncpg
from redis.asyncio import Redis

from ari_app.admission import Admission
from ari_app.outbound import TrunkRoute
from store.outbound_queue import OutboundJob, OutboundQueue
from tests.ari.harness import Process, eventually, make_agent
from tests.fakes.asterisk import Callee, FakeAsterisk
from tests.faults.harness import via_port
from tests.store.tcp_proxy import TcpProxy

ORIGINATE_PATH = re.compile(r"^/channels/(?!externalMedia$)[^/]+$")
# Two calls at one per 4 s: the second waits for its slot while Redis is stopped.
CPS = 0.25
CLAIM_LEASE_S = 1.0


async def test_redis_lost_during_a_pacing_wait_leaves_nothing_held_and_the_call_for_later(
    fake: FakeAsterisk, pg_pool: asyncpg.Pool, redis: Redis, redis_url: str
) -> None:
    target = urlsplit(redis_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    proxied = Redis.from_url(via_port(redis_url, proxy.port))
    agent = await make_agent(pg_pool)
    trunk = TrunkRoute(name=f"lost-{uuid.uuid4().hex[:6]}", endpoint="trunk1", cps=CPS)
    fake.default_callee = Callee(amd_status="HUMAN", hangup_after_s=0.2)
    admission = Admission(max_calls=10)
    proc = Process(
        fake,
        pg_pool,
        proxied,
        app="vocals-lost",
        trunk=trunk,
        welcome="Hi.",
        claim_lease_s=CLAIM_LEASE_S,
        admission=admission,
    )
    ids = [uuid.uuid4() for _ in range(2)]
    for i, call_id in enumerate(ids):
        await OutboundQueue(redis).enqueue(
            OutboundJob(
                call_id=call_id,
                tenant_id=agent.tenant_id,
                agent_id=agent.agent_id,
                to_number=f"1555320{i:04d}",
            )
        )

    def dialled() -> list[str]:
        posts = [c for c in fake.rest_log if c.method == "POST" and ORIGINATE_PATH.match(c.path)]
        return [c.path.rsplit("/", 1)[1] for c in posts]

    await proc.start(dispatch=True)
    try:
        await eventually(lambda: len(dialled()) == 1)
        await eventually(lambda: admission.live == 1 and not fake.live_channels())
        await asyncio.sleep(0.5)  # the first call's end is written
        await proxy.stop()
        assert proc.dispatcher is not None and proc.controller is not None
        dispatcher, controller = proc.dispatcher, proc.controller
        # The wait ends in Redis's absence: nothing of the call is left in the process.
        await eventually(
            lambda: not dispatcher.active and not controller.sessions and admission.live == 0,
            timeout_s=15,
        )
        assert len(dialled()) == 1
        await proxy.start()
        await eventually(lambda: len(dialled()) == 2, timeout_s=30)
    finally:
        await proc.stop()
        await proxied.aclose()
        await proxy.stop()
    assert sorted(dialled()) == sorted(str(i) for i in ids)
