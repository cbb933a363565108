"""A Vocals process's call control against the fake Asterisk: real AudioSocket server, real
PostgreSQL and Redis, the real pipeline with fake AI providers."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import asyncpg
from redis.asyncio import Redis

from ari_app.admission import Admission
from ari_app.call import Call
from ari_app.client import AriClient, AriSettings
from ari_app.controller import CallController
from ari_app.listener import EventListener
from ari_app.media_legs import MediaSettings
from ari_app.outbound import OutboundDispatcher, TrunkRoute
from ari_app.pipeline_runner import PipelineConversations
from ari_app.ports import CallEventSink, MediaTransport
from ari_app.store_adapters import StoreAgentDirectory, StoreCallLedger
from ari_app.tasks import Backoff
from media.audiosocket import AudioSocketServer
from media.rtp import RtpPortPool
from pipeline.agent import DEFAULT_APOLOGY, AgentSettings
from pipeline.engine import CallProviders
from pipeline.speech_cache import SpeechCache
from pipeline.states import Timeouts
from providers.base import TTSProvider
from store.call_records import CallRecordWriter
from store.live_calls import LiveCallStore
from store.numbers import normalize_number
from store.outbound_queue import OutboundJob, OutboundQueue
from store.repositories.config import AgentRepository, InboundRouteRepository
from store.repositories.tenants import TenantsRepository
from tests.fakes.asterisk import FakeAsterisk
from tests.fakes.fake_providers import FakeLLM, FakeSTT, FakeTTS, Fault
from tests.pipeline.harness import FAST_TIMEOUTS, agent_settings

POLL_S = 0.02


async def eventually(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Until `predicate()` holds, polling state spread over the fake and the controller."""
    deadline = time.monotonic() + timeout_s
    for _ in itertools.count():
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError("condition never held")
        await asyncio.sleep(POLL_S)


@dataclass
class Tenancy:
    tenant_id: uuid.UUID
    agent_id: uuid.UUID
    did: str


async def make_agent(
    pool: asyncpg.Pool, *, did: str | None = None, voicemail: str = "hangup", message: str = ""
) -> Tenancy:
    tenant = await TenantsRepository(pool).create(f"ari-{uuid.uuid4().hex[:10]}")
    agent = await AgentRepository(pool).create(
        tenant.id,
        {"name": "receptionist", "voicemail_policy": voicemail, "voicemail_message": message},
    )
    did = normalize_number(did or f"1555{uuid.uuid4().int % 10**7:07d}")
    await InboundRouteRepository(pool).replace_for_agent(tenant.id, agent.id, [did])
    return Tenancy(tenant.id, agent.id, did)


@dataclass
class Process:
    """One Vocals process: ARI client, controller, AudioSocket server, dispatcher."""

    fake: FakeAsterisk
    pool: asyncpg.Pool
    redis: Redis
    app: str = "vocals"
    welcome: str = "Hello, you reached the test agent."
    stt_script: Sequence[str] = ()
    llm_replies: Sequence[str] = ()
    # Every LLM request fails with this, when given.
    llm_fault: Fault | None = None
    apology: str = DEFAULT_APOLOGY
    trunk: TrunkRoute = field(default_factory=lambda: TrunkRoute(name="t1", endpoint="trunk1"))
    route_media: MediaTransport = "audiosocket"
    rtp_pool: RtpPortPool | None = None
    claim_lease_s: float = 30.0
    timeouts: Timeouts = FAST_TIMEOUTS
    admission: Admission | None = None
    events: CallEventSink | None = None
    llms: list[FakeLLM] = field(default_factory=list)
    controller: CallController | None = None
    server: AudioSocketServer | None = None
    dispatcher: OutboundDispatcher | None = None

    async def start(self, *, dispatch: bool = False) -> None:
        ari = AriClient(
            AriSettings(url=self.fake.ari_url, username="vocals", password="vocals", app=self.app)
        )
        conversations = PipelineConversations(
            self._prepare,
            tts_for_voicemail=self._voicemail_tts,
            speech_cache=SpeechCache(),
            timeouts=self.timeouts,
        )
        ledger = StoreCallLedger(LiveCallStore(self.redis), CallRecordWriter(self.pool, self.redis))
        controller = CallController(
            ari,
            directory=StoreAgentDirectory(self.pool, self.redis, media=self.route_media),
            rtp_pool=self.rtp_pool,
            conversations=conversations,
            ledger=ledger,
            events=self.events,
            admission=self.admission,
        )
        # The controller asks for slin, so the leg's format is known from the UUID on.
        self.server = AudioSocketServer(
            "127.0.0.1", 0, controller.legs.on_leg, format_timeout_s=0.0, health_port=None
        )
        await self.server.start()
        controller.media = MediaSettings(audiosocket_port=self.server.port)
        controller.listener = EventListener(
            ari.settings,
            controller.handle,
            on_connected=controller.reconcile,
            backoff=Backoff(initial_s=0.05, max_s=0.2),
        )
        self.controller = controller
        controller.start()
        await controller.listener.wait_connected(5)
        if dispatch:
            self.dispatcher = OutboundDispatcher(
                OutboundQueue(self.redis),
                controller,
                self._trunk_for,
                poll_s=0.02,
                claim_lease_s=self.claim_lease_s,
                admission=self.admission,
                directory=controller.directory,
            )
            self.dispatcher.start()

    async def _trunk_for(self, job: OutboundJob) -> TrunkRoute | None:
        return self.trunk

    async def _prepare(self, call: Call) -> tuple[AgentSettings, CallProviders]:
        agent = agent_settings(
            welcome_message=self.welcome, welcome_interruptible=False, apology_message=self.apology
        )
        llm = FakeLLM(replies=self.llm_replies, fail_always=self.llm_fault)
        self.llms.append(llm)
        return agent, CallProviders(FakeSTT(script=self.stt_script), llm, FakeTTS())

    async def _voicemail_tts(self, call: Call) -> TTSProvider:
        return FakeTTS()

    async def stop(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        if self.controller is not None:
            await self.controller.stop()
            await self.controller.ari.close()
        if self.server is not None:
            await self.server.stop()
