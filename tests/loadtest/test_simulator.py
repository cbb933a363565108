"""The shipped Asterisk simulator drives Vocals' real call controller over real sockets.

The controller, AudioSocket server, RTP legs and pipeline are the production ones, with the
load-test providers; agent routing and the call ledger are in-memory stand-ins (the store is
covered by the `vocals loadtest` tests against a real `vocals serve`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
import pytest

from ari_app.call import Call
from ari_app.client import AriClient, AriSettings
from ari_app.controller import CallController
from ari_app.listener import EventListener
from ari_app.media_legs import MediaSettings
from ari_app.pipeline_runner import PipelineConversations
from ari_app.ports import AgentRoute, MediaTransport
from ari_app.tasks import Backoff
from media.audiosocket import AudioSocketServer
from media.rtp import RtpPortPool
from media.vad import BargeInSensitivity
from pipeline.agent import AgentSettings
from pipeline.engine import CallProviders
from pipeline.records import CallResult
from pipeline.speech_cache import SpeechCache
from providers import registry
from providers.base import ProviderConfig
from providers.builtin import load_all
from providers.loadtest import ENABLE_VARIABLE
from vocals.simulator import AsteriskSimulator, SimulatedCall

TENANT = uuid.uuid4()
AGENT = uuid.uuid4()
DID = "+15550001111"
END_OF_SPEECH_MS = 400
STT_MS, FIRST_TOKEN_MS, TOKEN_MS, TTFB_MS = 100, 100, 10, 50
# First sentence: seven words, the seventh ends it.
CONFIGURED_MS = END_OF_SPEECH_MS + STT_MS + FIRST_TOKEN_MS + 6 * TOKEN_MS + TTFB_MS


def voiced(seconds: float) -> bytes:
    """A speech-like caller signal (harmonics of 150 Hz, syllable rhythm) at 8 kHz."""
    t = np.arange(int(8000 * seconds)) / 8000
    wave = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8))
    envelope = 0.4 + 0.6 * np.abs(np.sin(np.pi * 3 * t))
    return bytes((wave * envelope * 6000).astype("<i2").tobytes())


def agent() -> AgentSettings:
    return AgentSettings(
        system_prompt="load test",
        stt=ProviderConfig(vendor="loadtest", options={"stt_delay_ms": STT_MS}),
        llm=ProviderConfig(
            vendor="loadtest",
            options={"first_token_ms": FIRST_TOKEN_MS, "token_interval_ms": TOKEN_MS},
        ),
        tts=ProviderConfig(
            vendor="loadtest", options={"ttfb_ms": TTFB_MS, "seconds_per_sentence": 0.6}
        ),
        welcome_message="Hello.",
        barge_in=BargeInSensitivity.MEDIUM,
        end_of_speech_ms=END_OF_SPEECH_MS,
    )


@dataclass
class Directory:
    media: MediaTransport

    async def route_for_did(self, did: str) -> AgentRoute | None:
        if did != DID:
            return None
        return AgentRoute(tenant_id=TENANT, agent_id=AGENT, media=self.media)

    async def route_for_agent(self, tenant_id: uuid.UUID, agent_id: uuid.UUID) -> AgentRoute | None:
        return None


@dataclass
class Ledger:
    finished: list[tuple[Call, CallResult | None]] = field(default_factory=list)

    async def save(self, call: Call) -> None:
        return None

    async def hold(self, call: Call, *, channels: list[str], bridges: list[str]) -> None:
        return None

    async def finish(self, call: Call, result: CallResult | None) -> None:
        self.finished.append((call, result))


async def prepare(call: Call) -> tuple[AgentSettings, CallProviders]:
    settings = agent()
    return settings, CallProviders.for_agent(settings, registry.build)


@dataclass
class Server:
    controller: CallController
    audiosocket: AudioSocketServer
    ledger: Ledger

    async def stop(self) -> None:
        await self.controller.stop()
        await self.controller.ari.close()
        await self.audiosocket.stop()


async def start_server(sim: AsteriskSimulator, media: MediaTransport) -> Server:
    ari = AriClient(AriSettings(url=sim.ari_url, username="vocals", password="vocals"))
    ledger = Ledger()
    controller = CallController(
        ari,
        directory=Directory(media),
        conversations=PipelineConversations(prepare, speech_cache=SpeechCache()),
        ledger=ledger,
        rtp_pool=RtpPortPool(31000, 31100),
    )
    audiosocket = AudioSocketServer(
        "127.0.0.1", 0, controller.legs.on_leg, format_timeout_s=0.0, health_port=None
    )
    await audiosocket.start()
    controller.media = MediaSettings(audiosocket_port=audiosocket.port)
    controller.listener = EventListener(
        ari.settings,
        controller.handle,
        on_connected=controller.reconcile,
        backoff=Backoff(initial_s=0.05, max_s=0.2),
    )
    controller.start()
    await controller.listener.wait_connected(5)
    return Server(controller, audiosocket, ledger)


@pytest.fixture
async def sim(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsteriskSimulator]:
    monkeypatch.setenv(ENABLE_VARIABLE, "1")
    load_all()
    simulator = AsteriskSimulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


class Ear:
    """What the simulated phone heard: agent frames with their arrival times."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self._heard = asyncio.Event()

    def __call__(self, pcm: bytes, at: float) -> None:
        if any(pcm):
            self.arrivals.append(at)
            self._heard.set()

    def first_after(self, t: float) -> float | None:
        return next((a for a in self.arrivals if a > t), None)

    async def audio_after(self, t: float, timeout_s: float) -> float:
        """The arrival time of the first agent frame after `t`, once it came."""
        async with asyncio.timeout(timeout_s):
            while (first := self.first_after(t)) is None:
                self._heard.clear()
                await self._heard.wait()
        return first

    async def quiet(self, quiet_s: float, timeout_s: float) -> None:
        """Until no agent audio arrived for `quiet_s`."""
        async with asyncio.timeout(timeout_s):
            while True:
                last = self.arrivals[-1] if self.arrivals else 0.0
                if self.arrivals and time.monotonic() - last >= quiet_s:
                    return
                await asyncio.sleep(0.02)


@pytest.mark.parametrize("media", ["audiosocket", "rtp"])
async def test_a_call_through_the_simulator(sim: AsteriskSimulator, media: MediaTransport) -> None:
    server = await start_server(sim, media)
    try:
        await sim.wait_for_app("vocals", timeout_s=5)
        ear = Ear()
        call: SimulatedCall = sim.place_call(DID, on_frame_received=ear)
        await asyncio.wait_for(call.media_up.wait(), 5)
        assert call.answered.is_set() and call.encapsulation == media
        await ear.quiet(0.3, timeout_s=5)  # the welcome message played
        welcome_frames = len(ear.arrivals)
        assert 25 <= welcome_frames <= 35  # 0.6 s of agent audio

        speech = voiced(1.2)
        call.play(speech)
        await asyncio.sleep(len(speech) / 16000)
        stopped = time.monotonic()
        first = await ear.audio_after(stopped, timeout_s=5)
        latency_ms = (first - stopped) * 1000
        # The configured latencies plus VAD framing and the server's own work.
        assert CONFIGURED_MS - 40 <= latency_ms <= CONFIGURED_MS + 400, latency_ms

        await call.hangup()
        for _ in range(100):
            if sim.live_channels() == 0 and sim.live_bridges() == 0 and server.ledger.finished:
                break
            await asyncio.sleep(0.05)
        assert (sim.live_channels(), sim.live_bridges()) == (0, 0)
        ((ended, result),) = server.ledger.finished
        assert result is not None and ended.to_number == DID
        assert call.ended_by == "caller"
    finally:
        await server.stop()


async def test_unknown_did_is_hung_up_by_the_server(sim: AsteriskSimulator) -> None:
    server = await start_server(sim, "audiosocket")
    try:
        await sim.wait_for_app("vocals", timeout_s=5)
        call = sim.place_call("+15559999999")
        await call.wait_ended(5)
        assert call.ended_by == "server" and not call.media_up.is_set()
        assert sim.live_channels() == 0
    finally:
        await server.stop()


async def test_place_call_needs_a_connected_app(sim: AsteriskSimulator) -> None:
    with pytest.raises(RuntimeError, match="no application"):
        sim.place_call(DID)


async def test_provisioning_and_doctor_requests_are_answered(sim: AsteriskSimulator) -> None:
    ari = AriClient(AriSettings(url=sim.ari_url, username="vocals", password="vocals"))
    try:
        assert (await ari.info()).system is not None
        assert (await ari.get_module("res_pjsip")).status == "Running"
        await ari.reload_module("res_pjsip.so")
        assert await ari.list_endpoints("PJSIP") == []
        assert await ari.list_channels() == [] and await ari.list_bridges() == []
    finally:
        await ari.close()
