"""A Vocals process serving the Twilio routes (real uvicorn, PostgreSQL and Redis) next to
the Twilio fake, with the fake AI providers behind the controller's pipeline port."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg
import uvicorn
from litestar import Litestar
from redis.asyncio import Redis

from ari_app.admission import Admission
from ari_app.call import Call
from ari_app.pipeline_runner import PipelineConversations
from ari_app.ports import CallEvent
from ari_app.recording import CallRecordings
from ari_app.store_adapters import StoreAgentDirectory
from ari_app.virtual_channel import VirtualChannel
from pipeline.agent import AgentSettings
from pipeline.engine import CallProviders
from pipeline.speech_cache import SpeechCache
from providers.base import TTSProvider
from store.call_records import CallRecordWriter
from store.live_calls import LiveCallStore
from store.repositories.config import AgentRepository, InboundRouteRepository
from store.repositories.tenants import TenantsRepository
from store.repositories.twilio import TwilioAccountRepository
from store.secrets import SecretBox
from tests.fakes.fake_providers import FakeLLM, FakeSTT, FakeTTS
from tests.fakes.twilio import FakeTwilio
from tests.pipeline.harness import FAST_TIMEOUTS, agent_settings
from twilio_adapter.outbound import TwilioOutbound
from twilio_adapter.rest import TwilioRest
from twilio_adapter.routes import twilio_router
from twilio_adapter.runner import TwilioLedger
from twilio_adapter.state import TwilioCallStore

SECRET_KEY = "twilio-tests-secret-key-0123456789abcdef"


@dataclass
class Tenancy:
    tenant_id: uuid.UUID
    agent_id: uuid.UUID
    did: str


async def make_twilio_agent(
    pool: asyncpg.Pool,
    box: SecretBox,
    fake: FakeTwilio,
    *,
    voicemail: str = "hangup",
    message: str = "",
    provider: str = "twilio",
) -> Tenancy:
    tenant = await TenantsRepository(pool).create(f"tw-{uuid.uuid4().hex[:10]}")
    agent = await AgentRepository(pool).create(
        tenant.id,
        {"name": "receptionist", "voicemail_policy": voicemail, "voicemail_message": message},
    )
    did = f"+1555{uuid.uuid4().int % 10**7:07d}"
    await InboundRouteRepository(pool).replace_for_agent(tenant.id, agent.id, [did])
    accounts = TwilioAccountRepository(pool, box)
    await accounts.create(tenant.id, {"account_sid": fake.account_sid,
                                      "auth_token": fake.auth_token})  # fmt: skip
    await accounts.set_number_provider(tenant.id, did, provider)  # type: ignore[arg-type]
    return Tenancy(tenant.id, agent.id, did)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class EventLog:
    """`CallEventSink` keeping what was announced, per call."""

    def __init__(self) -> None:
        self.events: list[CallEvent] = []

    async def publish(self, event: CallEvent) -> None:
        self.events.append(event)

    def types(self, call_id: uuid.UUID) -> list[str]:
        return [e.type for e in self.events if e.payload.get("call_id") == str(call_id)]


@dataclass
class TwilioProcess:
    """The Twilio side of one Vocals process."""

    fake: FakeTwilio
    pool: asyncpg.Pool
    redis: Redis
    welcome: str = "Hello, you reached the test agent."
    stt_script: Sequence[str] = ()
    llm_replies: Sequence[str] = ()
    welcome_interruptible: bool = False
    box: SecretBox = field(default_factory=lambda: SecretBox(SECRET_KEY))
    llms: list[FakeLLM] = field(default_factory=list)
    tts: list[FakeTTS] = field(default_factory=list)
    events: EventLog = field(default_factory=EventLog)
    recordings: CallRecordings | None = None
    admission: Admission | None = None
    server: uvicorn.Server | None = None
    outbound: TwilioOutbound | None = None
    rest: TwilioRest | None = None
    _task: asyncio.Task[None] | None = None
    public_url: str = ""

    async def start(self) -> None:
        sock = _free_socket()
        self.public_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        calls = TwilioCallStore(self.redis)
        ledger = TwilioLedger(LiveCallStore(self.redis), CallRecordWriter(self.pool, self.redis),
                              calls)  # fmt: skip
        conversations = PipelineConversations(
            self._prepare, tts_for_voicemail=self._voicemail_tts, speech_cache=SpeechCache(),
            timeouts=FAST_TIMEOUTS,
        )  # fmt: skip
        hand_off = VirtualChannel(conversations, ledger, StoreAgentDirectory(self.pool, self.redis),
                                  self.events, self.recordings, self.admission)  # fmt: skip
        self.rest = TwilioRest(self.fake.api_url, backoff_s=0.01)
        router = twilio_router(pool=self.pool, redis=self.redis, box=self.box,
                               public_url=self.public_url, hand_off=hand_off, rest=self.rest,
                               ledger=ledger, events=self.events,
                               admission=self.admission)  # fmt: skip
        self.outbound = TwilioOutbound(pool=self.pool, redis=self.redis, box=self.box,
                                       public_url=self.public_url, rest=self.rest,
                                       ledger=ledger, events=self.events)  # fmt: skip
        app = Litestar(route_handlers=[router])
        config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="websockets-sansio")
        self.server = uvicorn.Server(config)
        self._task = asyncio.create_task(self.server.serve(sockets=[sock]))
        while not self.server.started:  # noqa: ASYNC110 - uvicorn offers no start-up event
            await asyncio.sleep(0.01)

    async def _prepare(self, call: Call) -> tuple[AgentSettings, CallProviders]:
        agent = agent_settings(welcome_message=self.welcome,
                               welcome_interruptible=self.welcome_interruptible)  # fmt: skip
        llm = FakeLLM(replies=self.llm_replies)
        tts = FakeTTS()
        self.llms.append(llm)
        self.tts.append(tts)
        return agent, CallProviders(FakeSTT(script=self.stt_script), llm, tts)

    async def _voicemail_tts(self, call: Call) -> TTSProvider:
        tts = FakeTTS()
        self.tts.append(tts)
        return tts

    @property
    def voice_url(self) -> str:
        return f"{self.public_url}/twilio/voice"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self._task is not None:
            await self._task
        if self.rest is not None:
            await self.rest.close()
