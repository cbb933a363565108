"""`tone:` playbacks of the fake Asterisk: a tone string (`440/250|0/2750`, segments split by
'|' or ',', `f1+f2/ms`) played to a channel's far party in 20 ms frames, looping until the
playback is stopped, as Asterisk 22.10.1 did (a 440 Hz beep of ~3500 peak every 3 s)."""

from __future__ import annotations

import asyncio
import math
import struct
from dataclasses import dataclass, field
from typing import Final

from tests.fakes.asterisk.caller import ScriptedCaller

RATE: Final = 8000
FRAME: Final = 160  # 20 ms at 8 kHz
AMPLITUDE: Final = 3500  # the peak of the real one's tone


def tone_pcm(tone: str) -> bytes:
    """One period of a tone string as slin 8 kHz; ValueError when it is not one."""
    out = bytearray()
    for segment in tone.replace("|", ",").split(","):
        freqs, _, ms = segment.partition("/")
        hz = [float(f) for f in freqs.split("+")]
        n = RATE * int(ms) // 1000
        for i in range(n):
            value = sum(math.sin(2 * math.pi * f * i / RATE) for f in hz if f) / len(hz)
            out += struct.pack("<h", int(AMPLITUDE * value))
    if not out:
        raise ValueError(tone)
    return bytes(out)


@dataclass
class TonePlayback:
    """A looping tone to one far party until `stop`."""

    id: str
    channel_id: str
    media_uri: str
    stopped: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, far: ScriptedCaller) -> None:
        pcm = tone_pcm(self.media_uri.removeprefix("tone:"))
        loop = asyncio.get_running_loop()
        at, offset = loop.time(), 0
        while not self.stopped.is_set():
            frame = bytes(pcm[offset : offset + FRAME * 2])
            offset = (offset + FRAME * 2) % len(pcm)
            far.hear(frame)
            at += FRAME / RATE
            await asyncio.sleep(max(0.0, at - loop.time()))
