"""`TwilioLeg` on a hand-driven clock: Twilio's outbound messages, the lead it keeps at
Twilio, marks forwarded after their audio and reached on Twilio's echo, and `clear`."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

from media.leg import Dtmf, MarkReached
from media.pacer import FrameTicker
from twilio_adapter.leg import TwilioLeg


class Wire:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def events(self) -> list[str]:
        return [m["event"] for m in self.sent]


async def _leg(wire: Wire) -> TwilioLeg:
    # A ticker that never runs by itself: the test calls on_tick with its own clock.
    leg = TwilioLeg("MZ1", wire.send, wire.close, ticker=FrameTicker(period_s=3600))
    return leg


async def _flush() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_media_marks_and_lead() -> None:
    wire = Wire()
    leg = await _leg(wire)
    await leg.send(b"\x01" * 400)  # 2.5 frames: the half frame waits for more audio
    leg.mark("s1")
    await leg.send(b"\x02" * 320)
    t0 = time.monotonic()  # the ticker's clock, which `queued_ms` reads too
    leg.on_tick(t0)  # fills Twilio's 60 ms lead: three frames at once
    await _flush()
    assert wire.events() == ["media", "media", "media", "mark"]
    media = [base64.b64decode(m["media"]["payload"]) for m in wire.sent if m["event"] == "media"]
    assert [len(p) for p in media] == [160, 160, 160]
    assert media[2] == b"\x01" * 80 + b"\xff" * 80  # the mark padded the sentence's last frame
    assert all(m["streamSid"] == "MZ1" for m in wire.sent)
    assert wire.sent[3]["mark"] == {"name": "s1"}
    assert 2 * 20 + 50 <= leg.queued_ms <= 2 * 20 + 60  # two frames here, the lead at Twilio
    leg.on_tick(t0 + 0.02)  # on time: one frame
    await _flush()
    assert wire.events()[4:] == ["media"]
    await leg.send(b"\x03" * 640)
    leg.on_tick(t0 + 0.08)  # 40 ms late: Twilio's buffer ran low, the lead is made up at once
    await _flush()
    assert wire.events()[5:] == ["media", "media", "media"]
    events = leg.events()
    leg.on_mark("s1")  # Twilio played the first sentence
    leg.on_mark("unknown")  # marks we never sent are ignored
    leg.on_dtmf("7")
    leg.on_media(b"\x7f" * 160)
    assert await anext(events) == MarkReached("s1")
    assert await anext(events) == Dtmf("7")
    assert await anext(events) == b"\x7f" * 160
    await leg.hangup()
    assert wire.closed == (1000, "hangup from our side")


async def test_clear_drops_local_audio_and_clears_twilio() -> None:
    wire = Wire()
    leg = await _leg(wire)
    await leg.send(b"\x01" * 160)
    leg.mark("sent")
    await leg.send(b"\x02" * 1600)
    leg.mark("local")
    leg.on_tick(5.0)
    await _flush()
    assert wire.events() == ["media", "mark", "media", "media"]
    events = leg.events()
    leg.clear()
    await _flush()
    assert wire.events()[-1] == "clear"
    assert leg.queued_ms == 0
    assert await anext(events) == MarkReached("local")  # never left us: reached at once
    leg.on_mark("sent")  # Twilio returns the marks pending there on clear
    assert await anext(events) == MarkReached("sent")
    leg.on_stop()
    assert [e async for e in events] == []
    assert leg.closed and not leg.failed


async def test_bad_input_closes_with_policy_code() -> None:
    wire = Wire()
    leg = await _leg(wire)
    leg.fail("bad input: malformed message")
    await leg.closed_and_flushed()
    assert wire.closed == (1008, "bad input: malformed message")
    assert leg.failed


async def test_a_stream_that_goes_quiet_is_closed() -> None:
    wire = Wire()
    leg = TwilioLeg("MZ1", wire.send, wire.close, read_timeout_s=0.2)
    try:
        async with asyncio.timeout(5):
            async for _ in leg.events():
                pass  # nothing arrives: the events end when the leg closes
        assert leg.failed
        assert "read timeout" in (leg.close_reason or "")
    finally:
        await leg.hangup()
