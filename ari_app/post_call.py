"""After a call: price its provider usage and, when its agent asks, analyse it; announce
`call.analyzed` when an analysis is on the record.

The work lives in PostgreSQL (store/repositories/post_call.py), so a process that stops
mid-way leaves it to another (or to itself after a restart). A failing analysis is tried again
a bounded number of times, then recorded as failed: the call's record and cost are kept
whatever the model does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
import structlog

from ari_app.agent_loader import StoreAgentLoader
from ari_app.call_events import event_id
from ari_app.ports import CallEvent, CallEventSink
from pipeline.analysis import Analysis, AnalysisOutputError, AnalysisRequest, analyze
from pipeline.analysis_offline import scripted_analysis
from providers import registry
from providers.base import LLMProvider, Provider, ProviderConfig, ProviderError, ProviderKind
from providers.llm.scripted import ScriptedLLM
from providers.pricing import Price, PriceTable
from store.models import Agent, CallRecord
from store.repositories.config import AgentRepository
from store.repositories.post_call import PostCallQueue, TenantPriceRepository

log = structlog.get_logger(__name__)

# Tries of one call's analysis before it is recorded as failed; one a few seconds after the
# first, the last half a minute later, so a vendor's brief outage does not cost the analysis.
MAX_ATTEMPTS: Final = 3
RETRY_DELAYS_S: Final = (5.0, 30.0)
# One model answer, however slow the vendor: past this the attempt counts as failed.
ANALYSIS_TIMEOUT_S: Final = 60.0
# A claimed call is this process's for this long; longer than an attempt can take.
LEASE_S: Final = ANALYSIS_TIMEOUT_S * 2
# Calls taken per claim, worked on together: a burst of hang-ups is drained in a few rounds.
BATCH: Final = 4
# How often an idle worker looks for finished calls.
POLL_S: Final = 1.0
# Room for the analysis' JSON: vendors' defaults are sized for a spoken reply (300 tokens),
# which a summary with extracted data can outgrow, and a cut answer does not parse.
ANALYSIS_MAX_TOKENS: Final = 2_000
ANALYZED: Final = "call.analyzed"

BuildProvider = Callable[[ProviderKind, ProviderConfig], Provider]


class _Retry(Exception):
    """This attempt failed in a way another may not (a timeout, a garbled answer)."""


class PostCallWorker:
    def __init__(
        self,
        queue: PostCallQueue,
        agents: AgentRepository,
        prices: TenantPriceRepository,
        loader: StoreAgentLoader,
        build: BuildProvider,
        events: CallEventSink,
        *,
        retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S,
        poll_s: float = POLL_S,
    ) -> None:
        self._queue = queue
        self._agents = agents
        self._prices = prices
        self._loader = loader
        self._build = build
        self._events = events
        self._retry_delays_s = retry_delays_s
        self._poll_s = poll_s

    async def run(self) -> None:
        """Work until cancelled (run it supervised: a database outage raises out of it)."""
        while True:
            if not await self.run_once():
                await asyncio.sleep(self._poll_s)

    async def run_once(self) -> int:
        """Claim and work one batch; how many calls were claimed."""
        claimed = await self._queue.claim(limit=BATCH, lease_s=LEASE_S)
        await asyncio.gather(*(self._work(record, attempt) for record, attempt in claimed))
        return len(claimed)

    async def _work(self, record: CallRecord, attempt: int) -> None:
        try:
            await self._price_and_analyse(record, attempt)
        except asyncio.CancelledError:
            # A process stopping hands the call back now rather than at the lease's end.
            await asyncio.shield(self._queue.retry_later(record.tenant_id, record.id, 0.0))
            raise
        except Exception as exc:  # one call's trouble is not the batch's: its lease frees it
            log.error("post-call work failed", call_id=str(record.id), error=repr(exc))

    async def _price_and_analyse(self, record: CallRecord, attempt: int) -> None:
        agent = (
            None
            if record.agent_id is None
            else await self._agents.get(record.tenant_id, record.agent_id)
        )
        analysis: Analysis | None = None
        usage = dict(record.provider_usage)
        if agent is not None and _wants_analysis(agent, record):
            try:
                analysis, llm_usage = await self._analyse(record, agent, attempt)
            except _Retry as exc:
                delay = self._retry_delay(attempt)
                if delay is not None:
                    log.warning(
                        "call analysis failed, will retry",
                        call_id=str(record.id),
                        attempt=attempt,
                        error=str(exc),
                    )
                    await self._queue.retry_later(record.tenant_id, record.id, delay)
                    return
                analysis = _failed(agent, str(exc), attempt)
                llm_usage = {}
            usage.update(llm_usage)
        table = PriceTable(msgspec.convert(await self._prices.get(record.tenant_id), list[Price]))
        cost = msgspec.to_builtins(table.cost(usage))
        stored = None if analysis is None else msgspec.to_builtins(analysis)
        if stored is not None:
            # Announced before the work is marked done: if marking fails, the next attempt
            # announces again under the same event id, which the webhook queue drops.
            await self._announce(record, stored, cost)
        await self._queue.finish(record.tenant_id, record.id, cost=cost, analysis=stored)

    def _retry_delay(self, attempt: int) -> float | None:
        if attempt >= MAX_ATTEMPTS or attempt > len(self._retry_delays_s):
            return None
        return self._retry_delays_s[attempt - 1]

    async def _analyse(
        self, record: CallRecord, agent: Agent, attempt: int
    ) -> tuple[Analysis, dict[str, Any]]:
        settings = agent.analysis
        request = AnalysisRequest(
            transcript=record.transcript,
            success_criteria=str(settings.get("success_criteria") or ""),
            schema=settings.get("schema"),
        )
        choice = settings.get("llm") or agent.llm
        try:
            config = await self._loader.llm_config(record.tenant_id, choice, agent.language)
            llm = self._build(ProviderKind.LLM, _room_to_answer(config, choice))
        except Exception as exc:  # a deleted credential, a refused URL: no retry mends it
            return _failed(agent, f"the analysis model cannot be used: {exc}", attempt), {}
        assert isinstance(llm, LLMProvider)
        try:
            if isinstance(llm, ScriptedLLM):
                result = scripted_analysis(llm, request)
            else:
                result = await self._ask(llm, request)
        except ProviderError as exc:
            if exc.retryable:
                raise _Retry(f"{llm.vendor}: {exc}") from exc
            return _failed(agent, f"{llm.vendor}: {exc}", attempt), {}
        finally:
            await llm.close()
        result.attempts = attempt
        usage = {f"analysis:llm:{llm.vendor}": _usage(llm)}
        return result, usage

    async def _ask(self, llm: LLMProvider, request: AnalysisRequest) -> Analysis:
        try:
            async with asyncio.timeout(ANALYSIS_TIMEOUT_S):
                await llm.connect()
                return await analyze(llm, request)
        except TimeoutError as exc:
            raise _Retry(f"{llm.vendor} did not answer within {ANALYSIS_TIMEOUT_S:.0f} s") from exc
        except AnalysisOutputError as exc:
            raise _Retry(str(exc)) from exc

    async def _announce(
        self, record: CallRecord, analysis: dict[str, Any], cost: dict[str, Any]
    ) -> None:
        payload = {
            "call_id": str(record.id),
            "agent_id": None if record.agent_id is None else str(record.agent_id),
            "direction": record.direction,
            "from_number": record.from_number,
            "to_number": record.to_number,
            "status": record.status,
            "occurred_at": datetime.fromtimestamp(time.time(), UTC).isoformat(),
            "analysis": analysis,
            "cost": cost,
        }
        await self._events.publish(
            CallEvent(
                id=event_id(record.id, ANALYZED),
                tenant_id=record.tenant_id,
                type=ANALYZED,
                payload=payload,
            )
        )


def _wants_analysis(agent: Agent, record: CallRecord) -> bool:
    """The agent asks for it and the caller said something to analyse."""
    return bool(agent.analysis.get("enabled")) and any(
        e.get("role") == "caller" and str(e.get("text", "")).strip() for e in record.transcript
    )


def _room_to_answer(config: ProviderConfig, choice: dict[str, Any]) -> ProviderConfig:
    """`config` with at least `ANALYSIS_MAX_TOKENS` for the answer, where the vendor takes a
    limit and the analysis' own choice does not set one."""
    try:
        options = registry.get(ProviderKind.LLM, config.vendor).options_schema
    except LookupError:
        return config
    if "max_tokens" not in options.get("properties", {}):
        return config
    if "max_tokens" in (choice.get("options") or {}):
        return config
    current = config.options.get("max_tokens")
    limit = max(current if isinstance(current, int) else 0, ANALYSIS_MAX_TOKENS)
    return msgspec.structs.replace(config, options={**config.options, "max_tokens": limit})


def _failed(agent: Agent, error: str, attempts: int) -> Analysis:
    choice = agent.analysis.get("llm") or agent.llm
    return Analysis(
        status="failed",
        vendor=str(choice.get("vendor") or "unknown"),
        model=choice.get("model"),
        error=error,
        attempts=attempts,
    )


def _usage(llm: Provider) -> dict[str, Any]:
    counters: dict[str, Any] = msgspec.to_builtins(llm.usage)
    if llm.config.model is not None:
        counters["model"] = llm.config.model
    return counters
