"""Call control of a `vocals serve` process: the Asterisk controller (when VOCALS_ARI_URL is
set) with its AudioSocket listener, RTP ports and outbound dispatcher; the Twilio routes; call
lifecycle webhooks; recordings; SIP trunk provisioning. Everything the API reaches through
hooks is built here, so `api/` never imports the transports."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import structlog
from litestar import Litestar

from api.provider_urls import check_destination
from api.routes.recordings import RECORDING_STORE_KEY
from api.webhooks.lifecycle import WebhookEventSink
from api.webhooks.worker import WebhookWorker, start_webhook_worker
from ari_app.adoption import CallAdopter
from ari_app.agent_loader import StoreAgentLoader
from ari_app.call import Call
from ari_app.campaign_runner import CampaignRunner
from ari_app.client import AriClient, AriSettings
from ari_app.controller import CallController
from ari_app.do_not_call_gate import DoNotCallGate
from ari_app.errors import Conflict, NotFound
from ari_app.media_legs import MediaSettings
from ari_app.outbound import IN_FLIGHT, OutboundDispatcher, TrunkRoute, Undialable
from ari_app.pipeline_runner import PipelineConversations
from ari_app.ports import MediaTransport, OutboundCarrier
from ari_app.post_call import PostCallWorker
from ari_app.recording import CallRecordings, LocalRecordingStore
from ari_app.recording_purge import RecordingPurger
from ari_app.store_adapters import StoreAgentDirectory, StoreCallLedger, StoreCallSink
from ari_app.tasks import cancel_and_wait
from ari_app.virtual_channel import VirtualChannel
from media.audiosocket import AudioSocketServer
from media.formats import SLIN_8K, ULAW_8K
from media.rtp import RtpPortPool
from providers import registry
from providers.base import ProviderKind, TTSProvider
from providers.local import shared as local_models
from provisioning.ami import AmiConnection
from provisioning.models import Trunk
from provisioning.naming import object_names
from provisioning.reload import ReloadCoordinator, ReloadResult
from provisioning.status import TrunkStatus, trunk_status
from store.live_calls import LiveCallStore
from store.outbound_queue import OutboundJob, OutboundQueue
from store.process_leases import ProcessLease, new_process_id
from store.repositories.calls import SttEventRepository
from store.repositories.config import (
    AgentRepository,
    InboundRouteRepository,
    SipTrunkRepository,
)
from store.repositories.post_call import PostCallQueue, TenantPriceRepository
from store.web_call_tokens import WebCallTokens
from twilio_adapter.outbound import TwilioOutbound
from twilio_adapter.rest import TwilioRest
from twilio_adapter.routes import twilio_router
from twilio_adapter.runner import TwilioLedger
from twilio_adapter.state import TwilioCallStore
from vocals.capacity import admission_for, export_admission, export_local_models
from vocals.greetings import WebCallWarmer, prewarm_greetings
from vocals.runtime import Runtime
from vocals.trunks import load_trunk_config
from web_calls.conversations import web_conversations
from web_calls.ledger import WebLedger
from web_calls.routes import web_calls_router
from web_calls.session import LiveWebCalls, WebCallServices

log = structlog.get_logger(__name__)

# Agents whose greetings are synthesized at start-up; the rest are cached on first call.
PREWARM_MAX_AGENTS = 100
# Under the data folder: what the local models derive once and keep across restarts (agents'
# language models, built in seconds of CPU).
LOCAL_MODELS_CACHE = "cache/local-models"
# Asterisk legs carry slin 8 kHz (the controller asks for it), Twilio legs µ-law.
PREWARM_FORMATS = (SLIN_8K, ULAW_8K)
# Why a queued call of an agent without a Twilio number fails in a process without Asterisk.
# How often a draining process looks whether its last Twilio and browser calls have ended.
VIRTUAL_DRAIN_POLL_S = 0.1
# Ending the Twilio and browser calls left after the drain: a hang-up each (a REST request
# for Twilio), then their records.
VIRTUAL_END_S = 10.0
NO_ASTERISK_REASON = "no Asterisk is configured (VOCALS_ARI_URL) to dial this number"


class AmiNotConfigured:
    """Registration source when no AMI password is set: trunk status says how to enable it."""

    async def outbound_registrations(self) -> Mapping[str, str]:
        raise RuntimeError("AMI not configured: set VOCALS_AMI_PASSWORD for registration status")


class Telephony:
    """Builds and owns the call-control parts of one process."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.lease = ProcessLease(runtime.redis, new_process_id(), ttl_s=settings.process_lease_s)
        self.loader = StoreAgentLoader(
            runtime.pool,
            runtime.redis,
            runtime.box,
            check_url=functools.partial(
                check_destination, allow_private=settings.allow_private_urls
            ),
        )
        self.events = WebhookEventSink(runtime.pool, runtime.box, runtime.redis)
        self.recording_store = LocalRecordingStore(Path(settings.recordings_dir))
        self.recordings = CallRecordings(
            self.recording_store, Path(settings.recordings_dir) / ".spool"
        )

        def store_sink(call: Call) -> StoreCallSink:
            return StoreCallSink(
                call, LiveCallStore(runtime.redis), SttEventRepository(runtime.pool)
            )

        self.conversations = PipelineConversations(
            self.loader, tts_for_voicemail=self._tts, sink_for=store_sink
        )
        self.web_calls = LiveWebCalls()
        # Started as a browser call's token is minted (the API's `prepare_web_call`).
        self.warm_web_call = WebCallWarmer(self.loader)
        self.web_conversations = web_conversations(
            self.loader, self.web_calls, store_sink, tts_for_voicemail=self._tts
        )
        transport: MediaTransport = "rtp" if settings.media_transport == "rtp" else "audiosocket"
        self.directory = StoreAgentDirectory(runtime.pool, runtime.redis, media=transport)
        # One count for Asterisk and Twilio calls, inbound and outbound.
        self.admission = admission_for(settings)
        self.admission.warming_up()  # until the local models are loaded (`_prewarm`)
        export_admission(self.admission)
        export_local_models()
        assert runtime.records is not None
        self.ledger = StoreCallLedger(
            LiveCallStore(runtime.redis, owner=self.lease.process_id), runtime.records
        )
        self.controller: CallController | None = None
        self.audiosocket: AudioSocketServer | None = None
        self.dispatcher: OutboundDispatcher | None = None
        self.provisioning: ReloadCoordinator | None = None
        self.ami: AmiConnection | AmiNotConfigured = AmiNotConfigured()
        self.prewarmed = False
        self.twilio_rest = TwilioRest(settings.twilio_api_url)
        # A Twilio call's webhooks and stream may reach different processes: the one serving
        # its stream holds it (see `TwilioLedger`).
        self.twilio_ledger = TwilioLedger(
            LiveCallStore(runtime.redis),
            runtime.records,
            TwilioCallStore(runtime.redis),
            owner=self.lease.process_id,
        )
        self.twilio_outbound = TwilioOutbound(
            pool=runtime.pool,
            redis=runtime.redis,
            box=runtime.box,
            public_url=settings.public_url,
            rest=self.twilio_rest,
            ledger=self.twilio_ledger,
            events=self.events,
        )
        # Twilio and browser calls run here as virtual channels: drained and ended like
        # Asterisk calls.
        self.twilio_calls = VirtualChannel(
            self.conversations,
            self.twilio_ledger,
            self.directory,
            events=self.events,
            recordings=self.recordings,
            admission=self.admission,
        )
        self.web_ledger = WebLedger(
            LiveCallStore(runtime.redis, owner=self.lease.process_id), runtime.records
        )
        self.web_channel = VirtualChannel(
            self.web_conversations,
            self.web_ledger,
            self.directory,
            events=self.events,
            recordings=self.recordings,
            admission=self.admission,
        )
        self.campaigns = CampaignRunner(
            runtime.pool,
            runtime.redis,
            owner=self.lease.process_id,
            publish=self.events.publish_event,
        )
        self._webhooks: WebhookWorker | None = None
        self._purger: RecordingPurger | None = None
        self._drained = False
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._adoption_task: asyncio.Task[None] | None = None

    async def _tts(self, call: Call) -> TTSProvider:
        settings = await self.loader.settings(call.tenant_id, call.agent_id)
        provider = registry.build(ProviderKind.TTS, settings.tts)
        assert isinstance(provider, TTSProvider)
        return provider

    async def start(self) -> None:
        runtime, settings = self.runtime, self.runtime.settings
        await self.lease.renew()
        self._heartbeat_task = asyncio.create_task(self._heartbeat(), name="process-lease")
        self._webhooks = start_webhook_worker(
            runtime.pool, runtime.box, allow_private=settings.allow_private_urls
        )
        self._purger = RecordingPurger(
            runtime.pool, self.recording_store, recordings=self.recordings
        )
        self._purger.start()
        post_call = PostCallWorker(
            PostCallQueue(runtime.pool),
            AgentRepository(runtime.pool),
            TenantPriceRepository(runtime.pool),
            self.loader,
            registry.build,
            self.events,
        )
        runtime.spawn(post_call.run, "post-call")
        runtime.spawn(self._prewarm, "prewarm")
        if settings.ari_url:
            await self._start_asterisk()
        else:
            no_asterisk = Undialable(self.ledger, self.events, NO_ASTERISK_REASON)
            self._start_dispatcher(None, [self.twilio_outbound, no_asterisk])
        self._start_adoption()
        self.campaigns.start()

    async def _heartbeat(self) -> None:
        """Keep this process's lease while it runs (see `store.process_leases`)."""
        while True:
            await asyncio.sleep(self.lease.renew_every_s)
            try:
                if not await self.lease.renew():
                    log.error("process lease had lapsed: a survivor may have adopted our calls")
            except Exception as exc:  # Redis down: the next heartbeat tries again
                log.warning("renewing the process lease failed", error=repr(exc))

    def _start_adoption(self) -> None:
        """Adopt the calls of dead processes now and whenever another one dies."""
        assert self.runtime.records is not None
        controller = self.controller
        adopter = CallAdopter(
            self.runtime.redis,
            self.runtime.records,
            process_id=self.lease.process_id,
            ari=controller.ari if controller is not None else None,
            holds_channel=controller.holds_channel if controller is not None else lambda _: False,
            recordings=self.recordings,
            events=self.events,
        )
        self._adoption_task = asyncio.create_task(
            adopter.run(self.lease.renew_every_s), name="call-adoption"
        )

    async def _prewarm(self) -> None:
        """Start the local model workers (voice and recognizer loaded), and synthesize the
        greetings of agents that answer numbers, so a first caller does not wait for any of
        them (the pipeline's speech cache keeps the greetings)."""
        try:
            config = self.runtime.settings
            await local_models.start(
                config.local_workers or None, Path(config.data_dir) / LOCAL_MODELS_CACHE
            )
        except Exception as exc:  # calls on local models start the pool again when they need it
            log.warning("local models did not start", error=str(exc))
        self.admission.warmed()
        log.info("taking calls: local models loaded")
        try:
            routes = await InboundRouteRepository(self.runtime.pool).list_all_tenants()
        except Exception as exc:
            log.warning("prewarm skipped", error=str(exc))
            routes = []
        agents = list(dict.fromkeys((r.tenant_id, r.agent_id) for r in routes))
        for tenant_id, agent_id in agents[:PREWARM_MAX_AGENTS]:
            try:
                settings = await self.loader.settings(tenant_id, agent_id)
                await prewarm_greetings(settings, PREWARM_FORMATS)
            except Exception as exc:
                log.warning("greeting prewarm failed", agent_id=str(agent_id), error=str(exc))
        self.prewarmed = True

    async def _start_asterisk(self) -> None:
        runtime, settings = self.runtime, self.runtime.settings
        assert settings.ari_url is not None
        ari = AriClient(
            AriSettings(
                url=settings.ari_url,
                username=settings.ari_user,
                password=settings.ari_password or "",
                app=settings.ari_app,
            )
        )
        low, high = settings.rtp_port_range
        controller = CallController(
            ari,
            directory=self.directory,
            conversations=self.conversations,
            ledger=self.ledger,
            rtp_pool=RtpPortPool(low, high),
            recordings=self.recordings,
            events=self.events,
            admission=self.admission,
        )
        # The controller asks Asterisk for slin, so the format is known from the UUID on.
        self.audiosocket = AudioSocketServer(
            settings.audiosocket_host,
            settings.audiosocket_port,
            controller.legs.on_leg,
            format_timeout_s=0.0,
            health_port=settings.audiosocket_health_port,
            max_connections=settings.audiosocket_max_connections,
        )
        await self.audiosocket.start()
        controller.media = MediaSettings(
            advertise_host=settings.audiosocket_advertise_host or settings.audiosocket_host,
            bind_host=settings.audiosocket_host,
            audiosocket_port=self.audiosocket.port,
        )
        runtime.spawn(functools.partial(self._register_when_warm, controller), "stasis-app")
        self.controller = controller
        self._start_dispatcher(controller, [self.twilio_outbound])
        if settings.ami_password:
            self.ami = AmiConnection(
                settings.ami_host or urlsplit(settings.ari_url).hostname or "127.0.0.1",
                settings.ami_user,
                settings.ami_password,
                port=settings.ami_port,
            )
            self.ami.keep_connected()
        self.provisioning = ReloadCoordinator(
            ari,
            Path(settings.asterisk_config_dir),
            lambda: load_trunk_config(runtime.pool, runtime.box),
            not_found=(NotFound,),
            busy=(Conflict,),
            inspector=self.ami if isinstance(self.ami, AmiConnection) else None,
            stasis_app=settings.ari_app,
        )
        runtime.spawn(self._provision_at_start, "provision")
        log.info("call control started", ari=settings.ari_url, app=settings.ari_app)

    async def _register_when_warm(self, controller: CallController) -> None:
        """Register the Stasis app (Asterisk routes calls to it from then on) once the local
        models are loaded: until then the first callers would wait on them."""
        await self.admission.until_warm(None)
        if not self.admission.closed:  # not once the process is stopping
            controller.start()

    def _start_dispatcher(
        self, controller: CallController | None, carriers: list[OutboundCarrier]
    ) -> None:
        queue = OutboundQueue(self.runtime.redis)
        gate = DoNotCallGate(self.runtime.pool, self.ledger, self.events)
        self.dispatcher = OutboundDispatcher(
            queue,
            controller,
            self._trunk,
            carriers=[gate, *carriers],
            admission=self.admission,
            directory=self.directory,
            in_flight=self.runtime.settings.dials_in_flight or IN_FLIGHT,
        )
        self.dispatcher.start()

    async def _provision_at_start(self) -> None:
        assert self.provisioning is not None
        result = await self.provisioning.request_reload()
        log.info("trunks provisioned", outcome=result.outcome, reason=result.reason)

    async def _trunk(self, job: OutboundJob) -> TrunkRoute | None:
        """The trunk a queued call is dialled through: its own, else the tenant's only one."""
        repo = SipTrunkRepository(self.runtime.pool, self.runtime.box)
        if job.trunk_id is not None:
            row = await repo.get(job.tenant_id, job.trunk_id)
        else:
            page = await repo.list_page(job.tenant_id, limit=2)
            row = page.items[0] if page.total == 1 else None
        if row is None:
            return None
        endpoint = object_names(_as_trunk(row.id, row.tenant_id, row.name, row.kind, row.host))
        return TrunkRoute(
            name=str(row.id),
            endpoint=endpoint.endpoint,
            trunk_id=row.id,
            cps=row.max_cps,
            max_calls=row.max_calls,
            caller_id=job.from_number or row.from_user,
        )

    def mount(self, app: Litestar) -> None:
        """Add the Twilio and browser-call routes and the recording store to the API app."""
        runtime = self.runtime
        assert runtime.records is not None
        twilio_ledger = self.twilio_ledger
        app.register(
            twilio_router(
                pool=runtime.pool,
                redis=runtime.redis,
                box=runtime.box,
                public_url=runtime.settings.public_url,
                hand_off=self.twilio_calls,
                rest=self.twilio_rest,
                ledger=twilio_ledger,
                events=self.events,
                admission=self.admission,
                directory=self.directory,
            )
        )
        app.register(
            web_calls_router(
                WebCallServices(
                    tokens=WebCallTokens(runtime.redis),
                    hand_off=self.web_channel,
                    directory=self.directory,
                    ledger=self.web_ledger,
                    live=self.web_calls,
                    events=self.events,
                    admission=self.admission,
                    max_call_s=runtime.settings.web_call_max_s,
                )
            )
        )
        app.state[RECORDING_STORE_KEY] = self.recording_store

    async def hangup_call(self, tenant_id: uuid.UUID, call_id: uuid.UUID) -> bool:
        """End a live Asterisk or browser call of this tenant; False when this process does not
        hold it."""
        if await self.web_calls.hang_up(tenant_id, call_id):
            return True
        session = self.controller.session_for_call(call_id) if self.controller else None
        if session is None or session.call.tenant_id != tenant_id:
            return False
        await session.stop("hangup requested over the API")
        return True

    async def trunks_changed(self, tenant_id: uuid.UUID) -> ReloadResult:
        if self.provisioning is None:
            raise RuntimeError("no Asterisk configured: set VOCALS_ARI_URL to provision trunks")
        return await self.provisioning.request_reload()

    async def trunk_status(self, trunk: Trunk) -> TrunkStatus:
        if self.controller is None:
            raise RuntimeError("no Asterisk configured: set VOCALS_ARI_URL for trunk status")
        return await trunk_status(trunk, self.controller.ari, self.ami, not_found=(NotFound,))

    async def health(self) -> dict[str, object]:
        report: dict[str, object] = {
            "ari": "not configured",
            "readiness": "warming" if self.admission.warming else "ready",
            "greetings_ready": self.prewarmed,
            "capacity": self.admission.stats(),
            "local_models": _local_model_load(),
            "process_id": self.lease.process_id,
        }
        if self.controller is not None:
            report["ari"] = "connected" if self.controller.listener.connected else "reconnecting"
            if self.admission.warming:
                report["ari"] = "not registered: warming up"
            report["live_calls"] = len(self.controller.sessions)
            report["draining"] = self.controller.draining
        if isinstance(self.ami, AmiConnection):
            report["ami"] = "connected" if self.ami.connected else "reconnecting"
        elif self.controller is not None:
            report["ami"] = "not configured"
        if self.audiosocket is not None:
            report["audiosocket"] = self.audiosocket.stats()
        return report

    async def drain(self, timeout_s: float) -> int:
        """Take no new calls (inbound ones are refused, queued ones stay queued for other
        processes) and wait up to `timeout_s` for live calls to end; returns how many are
        still live. Cancelling it cuts the wait short."""
        self._drained = True
        self.admission.close()
        if self._adoption_task is not None:
            await cancel_and_wait(self._adoption_task)
        await self.campaigns.stop()
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        deadline = asyncio.get_running_loop().time() + timeout_s
        still_live = await self.controller.drain(timeout_s) if self.controller else 0
        while self._virtual_calls():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            await asyncio.sleep(min(VIRTUAL_DRAIN_POLL_S, remaining))
        still_live += self._virtual_calls()
        if still_live:
            log.warning("drain timed out, ending live calls", calls=still_live)
        return still_live

    def _virtual_calls(self) -> int:
        return self.twilio_calls.live_calls + self.web_channel.live_calls

    async def end_virtual_calls(self) -> None:
        """End the Twilio and browser calls still live, with their records, while HTTP still
        serves their sockets (once HTTP stops, a socket cut mid-call would read as the
        caller's hang-up)."""
        if not self._virtual_calls():
            return
        try:
            async with asyncio.timeout(VIRTUAL_END_S):
                await asyncio.gather(self.twilio_calls.stop_all(), self.web_channel.stop_all())
        except TimeoutError:
            log.error("Twilio and browser calls did not end in time", calls=self._virtual_calls())

    async def stop(self) -> None:
        """Stop taking calls, end live ones cleanly (after draining them, unless `drain` ran
        already), then stop the background workers."""
        if not self._drained:
            await self.drain(self.runtime.settings.shutdown_drain_s)
        await self.warm_web_call.stop()
        if self.controller is not None:
            await self.controller.stop()
            await self.controller.ari.close()
        if self.audiosocket is not None:
            await self.audiosocket.stop()
        if self.provisioning is not None:
            await self.provisioning.close()
        if isinstance(self.ami, AmiConnection):
            await self.ami.close()
        if self._purger is not None:
            await self._purger.stop()
        if self._webhooks is not None:
            await self._webhooks.stop()
        await self.recordings.close()
        await self.twilio_rest.close()
        await local_models.stop()
        # Held until every call has ended: a survivor must not adopt a call still draining.
        if self._heartbeat_task is not None:
            await cancel_and_wait(self._heartbeat_task)
        await self.lease.release()


def _local_model_load() -> dict[str, object] | None:
    """The worker pool's load for /healthz, None while no pool runs."""
    stats = local_models.stats()
    if stats is None:
        return None
    return {
        "workers": len(stats.workers),
        "alive": sum(1 for w in stats.workers if w.alive),
        "queued": stats.queued,
        "busy": stats.busy,
        "restarts": sum(w.restarts for w in stats.workers),
    }


def _as_trunk(trunk_id: uuid.UUID, tenant_id: uuid.UUID, name: str, kind: str, host: str) -> Trunk:
    """Just enough of a provisioning `Trunk` to name its Asterisk objects."""
    return Trunk(
        id=str(trunk_id),
        tenant_id=str(tenant_id),
        name=name,
        kind="registration" if kind == "registration" else "ip",
        host=host,
    )
