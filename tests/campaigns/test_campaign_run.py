"""A 500-lead campaign run by a serving process against the fake Asterisk, with mixed
outcomes per number, a test clock for the calling windows, and the caps measured from the
fake's own log of originations."""

from __future__ import annotations

import collections
import csv
import io
import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from providers.loadtest import ENABLE_VARIABLE
from store.campaign_rules import CallingWindow, in_window
from store.repositories.config import WebhookRepository
from tests.campaigns.harness import (
    ARRIVAL_JITTER_S,
    ManualClock,
    create_agent,
    next_due,
    peak_concurrency,
    status,
    tightest_second,
    wait_idle,
)
from tests.fakes.asterisk import Callee, FakeAsterisk
from tests.telephony.serving import serve_settings, serving
from tests.telephony.test_outbound import create_trunk, reload_reads

# CAMPAIGN_LEADS=1000 measures a bigger run (the figures are printed with -s).
LEADS = int(os.environ.get("CAMPAIGN_LEADS", "500"))
CONCURRENCY = 25
# Long enough that the concurrency cap, not the dial rate, limits how many calls are up.
HUMAN_CALL_S = 2.5
CPS = 40
# Every wait for the runner to go idle: a bound on liveness, not a speed (a round of 500 leads
# takes ~40 s on an idle machine, and more than 60 s at a load of 19 on its 2 cores).
ROUND_S = 300.0 * max(1, LEADS // 500)
# Monday 7 December 2026, 14:30 UTC: 15:30 in Paris, 09:30 in New York.
START = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
WINDOW = {"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:00", "holidays": "US"}
ZONES = ("Europe/Paris", "America/New_York")


def _number(i: int) -> str:
    return f"+1555{2000000 + i:07d}"


def _kind(i: int) -> str:
    if i % 50 == 9:
        return "listed"
    return {5: "busy-then-human", 6: "busy", 7: "no-answer", 8: "voicemail"}.get(i % 10, "human")


@pytest.fixture
async def asterisk() -> AsyncIterator[FakeAsterisk]:
    # Unanswered rings last the originate timeout, scaled from 30 s to 0.3 s.
    fake = FakeAsterisk(time_scale=0.01)
    await fake.start()
    yield fake
    await fake.stop()


async def test_a_500_lead_campaign_ends_with_every_lead_final_within_windows_and_caps(
    asterisk: FakeAsterisk,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENABLE_VARIABLE, "1")
    settings = serve_settings(
        database_url, redis_url, tmp_path, ari_url=asterisk.ari_url, ari_password="vocals"
    )
    reload_reads(asterisk, settings)
    kinds = {_number(i): _kind(i) for i in range(LEADS)}
    for number, kind in kinds.items():
        asterisk.callees[number] = {
            "busy-then-human": Callee(outcome="busy"),
            "busy": Callee(outcome="busy"),
            "no-answer": Callee(outcome="no-answer"),
            "voicemail": Callee(amd_status="MACHINE", amd_cause="LONGGREETING-2000-2000"),
        }.get(kind, Callee(hangup_after_s=HUMAN_CALL_S))
    async with serving(settings) as proc:
        pool = proc.runtime.pool
        clock = ManualClock(START)
        proc.telephony.campaigns.clock = clock
        trunk_id = await create_trunk(proc, max_cps=CPS, max_calls=CONCURRENCY + 5)
        agent_id = await create_agent(proc)
        listed = [n for n, k in kinds.items() if k == "listed"]
        imported = await proc.client.post(
            "/api/v1/do-not-call/import",
            json={"csv": "number\n" + "\n".join(listed)},
            headers=proc.headers,
        )
        assert imported.status_code == 201, imported.text
        # A subscriber to the campaign's events (its deliveries are counted, not made).
        await WebhookRepository(pool, proc.runtime.box).create(
            proc.tenant_id,
            {
                "url": "https://hooks.example/campaigns",
                "events": ["campaign.started", "campaign.completed", "campaign.lead.finished"],
                "secret": "s" * 32,
            },
        )
        created = await proc.client.post(
            "/api/v1/campaigns",
            json={
                "name": "reminders",
                "agent_id": agent_id,
                "trunk_id": trunk_id,
                "max_concurrency": CONCURRENCY,
                "calls_per_second": CPS,
                "calling_window": WINDOW,
                "retry_rules": {
                    "busy": {"retries": 1, "after_s": 3600},
                    "no_answer": {"retries": 1, "after_s": 7200},
                },
            },
            headers=proc.headers,
        )
        assert created.status_code == 201, created.text
        campaign_id = created.json()["id"]
        rows = "number,timezone,first_name\n" + "".join(
            f"{n},{ZONES[i // 10 % 2]},Lead{i}\n" for i, n in enumerate(kinds)
        )
        added = await proc.client.post(
            f"/api/v1/campaigns/{campaign_id}/leads/import",
            json={"csv": rows},
            headers=proc.headers,
        )
        assert added.json() == {"added": LEADS, "duplicates": 0, "region": None}, added.text
        started = await proc.client.post(
            f"/api/v1/campaigns/{campaign_id}/start", headers=proc.headers
        )
        assert started.status_code == 200, started.text

        began = time.monotonic()
        await wait_idle(pool, campaign_id, clock, ROUND_S)
        first_round_s = time.monotonic() - began
        # Between the rounds: some busy numbers answer now, and a few others asked (by mail)
        # not to be called again.
        for number, kind in kinds.items():
            if kind == "busy-then-human":
                asterisk.callees[number] = Callee(hangup_after_s=HUMAN_CALL_S)
        late_listed = [n for n, k in kinds.items() if k == "busy"][:10]
        for number in late_listed:
            await proc.client.post(
                "/api/v1/do-not-call", json={"number": number}, headers=proc.headers
            )
        while (due := await next_due(pool, campaign_id)) is not None:
            clock.now = max(clock.now, due)
            await wait_idle(pool, campaign_id, clock, ROUND_S)
        for _ in range(100):
            if await status(proc, campaign_id) == "completed":
                break
            await wait_idle(pool, campaign_id, clock, ROUND_S)
        assert await status(proc, campaign_id) == "completed"
        progress = (
            await proc.client.get(f"/api/v1/campaigns/{campaign_id}/progress", headers=proc.headers)
        ).json()
        results = await proc.client.get(
            f"/api/v1/campaigns/{campaign_id}/results", headers=proc.headers
        )
        attempts = await pool.fetch(
            "SELECT l.number, l.timezone, a.dialled_at, a.disposition FROM campaign_attempts a "
            "JOIN campaign_leads l ON l.id = a.lead_id WHERE a.campaign_id = $1",
            uuid.UUID(campaign_id),
        )
        events = {
            r["event_type"]: r["n"]
            for r in await pool.fetch(
                "SELECT event_type, count(*) AS n FROM webhook_deliveries WHERE tenant_id = $1 "
                "GROUP BY event_type",
                proc.tenant_id,
            )
        }
        leads = {
            r["number"]: (r["state"], r["last_disposition"])
            for r in await pool.fetch(
                "SELECT number, state, last_disposition FROM campaign_leads WHERE campaign_id = $1",
                uuid.UUID(campaign_id),
            )
        }

    dialled = collections.Counter(o.number for o in asterisk.originations)
    # Every lead final, as its numbers' behaviour says.
    expected = {
        "human": ("reached", "human", 1),
        "busy-then-human": ("reached", "human", 2),
        "busy": ("exhausted", "busy", 2),
        "no-answer": ("exhausted", "no_answer", 2),
        "voicemail": ("exhausted", "voicemail_no_message", 1),
        "listed": ("dnc", "on_dnc_list", 0),
    }
    for number, kind in kinds.items():
        state, last, calls = expected[kind]
        if number in late_listed:
            state, last, calls = "dnc", "on_dnc_list", 1
        assert (leads[number][0], leads[number][1], dialled[number]) == (state, last, calls), (
            number,
            kind,
        )
    # No lead dialled twice for one attempt, none dialled without one.
    assert sum(dialled.values()) == len(attempts)
    # Retries inside the window, in each lead's own time zone (the clock went past 17:00 in
    # Paris for the no-answer retries, which waited for Tuesday morning).
    window = CallingWindow(**WINDOW)  # type: ignore[arg-type]
    assert all(in_window(window, a["dialled_at"], a["timezone"]) for a in attempts)
    paris_retries = [
        a["dialled_at"]
        for a in attempts
        if a["timezone"] == "Europe/Paris" and kinds[a["number"]] == "no-answer"
    ]
    assert max(paris_retries) == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    # The caps, from the fake's log.
    assert peak_concurrency(asterisk.originations) <= CONCURRENCY
    assert tightest_second(asterisk.originations, CPS) >= 1.0 - ARRIVAL_JITTER_S
    assert progress["attempts"] == len(attempts)
    assert progress["leads"] == dict(collections.Counter(s for s, _ in leads.values()))
    assert events == {
        "campaign.started": 1,
        "campaign.completed": 1,
        "campaign.lead.finished": LEADS,
    }
    table = list(csv.DictReader(io.StringIO(results.text)))
    starts = sorted(o.started for o in asterisk.originations)
    first_round = [t for t in starts if t <= starts[0] + first_round_s]
    print(
        f"\n{LEADS} leads, {len(starts)} dials: first round {len(first_round)} dials in "
        f"{first_round_s:.1f} s ({len(first_round) / first_round_s * 60:.0f} leads/min, "
        f"{len(first_round) / (first_round[-1] - first_round[0]):.1f} dials/s at a cap of {CPS}); "
        f"peak concurrency {peak_concurrency(asterisk.originations)} (cap {CONCURRENCY}); "
        f"tightest {CPS + 1} dials in {tightest_second(asterisk.originations, CPS):.3f} s"
    )
    assert len(table) == len(attempts) + len(listed)
