"""A Vocals process against the fake Asterisk (`tests.ari.harness.Process`) with call
recording and lifecycle events wired in, and an agent whose welcome can be interrupted."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from ari_app.call import Call
from ari_app.ports import CallEventSink
from ari_app.recording import CallRecordings
from pipeline.agent import AgentSettings
from pipeline.engine import CallProviders
from store.repositories.config import AgentRepository
from tests.ari.harness import Process, Tenancy, make_agent
from tests.fakes.fake_providers import FakeLLM, FakeSTT, FakeTTS
from tests.pipeline.harness import agent_settings


@dataclass
class RecordingProcess(Process):
    welcome_interruptible: bool = True
    recordings: CallRecordings | None = None
    events: CallEventSink | None = None

    async def start(self, *, dispatch: bool = False) -> None:
        await super().start(dispatch=dispatch)
        assert self.controller is not None
        self.controller.recordings = self.recordings
        self.controller.events = self.events

    async def _prepare(self, call: Call) -> tuple[AgentSettings, CallProviders]:
        agent = agent_settings(
            welcome_message=self.welcome, welcome_interruptible=self.welcome_interruptible
        )
        llm = FakeLLM(replies=self.llm_replies)
        self.llms.append(llm)
        return agent, CallProviders(FakeSTT(script=self.stt_script), llm, FakeTTS())


async def make_recorded_agent(pool: asyncpg.Pool, *, recording: bool) -> Tenancy:
    agent = await make_agent(pool)
    await AgentRepository(pool).update(
        agent.tenant_id, agent.agent_id, {"recording_enabled": recording}
    )
    return agent
