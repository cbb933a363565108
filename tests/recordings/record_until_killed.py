"""Run as a process: records a call in real time into argv[1] until it is killed.

The caller channel carries a steady tone; the agent talks every other second. Prints "recording"
once the first block should be on disk.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from media.formats import SLIN_8K
from media.recorder import StereoRecorder
from tests.fakes.asterisk.caller import tone

FRAME_S = 0.02


def main() -> None:
    executor = ThreadPoolExecutor(max_workers=1)
    recorder = StereoRecorder(SLIN_8K, Path(sys.argv[1]), executor)
    caller, agent = tone(300, FRAME_S), tone(700, FRAME_S)
    start = time.monotonic()
    announced = False
    tick = 0
    while True:
        tick += 1
        time.sleep(max(0.0, start + tick * FRAME_S - time.monotonic()))
        recorder.inbound(caller)
        if (tick // 50) % 2 == 0:
            recorder.outbound(agent)
        if not announced and tick * FRAME_S > 1.5:
            print("recording", flush=True)
            announced = True


if __name__ == "__main__":
    main()
