"""What the OpenAI-compatible client adds: time to first delta and cost per streamed delta.

Streams replies from the local fake server (tests/fakes/openai_compatible.py) over loopback,
so the figures include the fake's own work and are upper bounds for the client's.

    uv run --frozen --no-sync python -m bench.providers_openai_compatible [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from providers.base import Message, ProviderConfig
from providers.llm.openai_compatible import OpenAICompatibleLLM
from tests.fakes.openai_compatible import FAKE_API_KEY, FakeOpenAI

HISTORY = [Message("user", "Tell me about your opening hours.")]
REPLY_WORDS = 300


async def main(runs: int) -> None:
    fake = FakeOpenAI(reply=" ".join(["word"] * REPLY_WORDS))
    base_url = await fake.start()
    config = ProviderConfig(
        vendor="openai_compatible", api_key=FAKE_API_KEY, options={"base_url": base_url}
    )
    llm = OpenAICompatibleLLM(config)
    await llm.connect()
    firsts, per_delta = [], []
    for _ in range(runs):
        started = time.perf_counter()
        first = None
        count = 0
        async for _delta in llm.stream(HISTORY, "Be brief."):
            first = first or time.perf_counter() - started
            count += 1
        total = time.perf_counter() - started
        firsts.append(first or 0.0)
        per_delta.append((total - (first or 0.0)) / max(1, count - 1))
    await llm.close()
    await fake.stop()
    print(f"OpenAI-compatible client and local fake, {runs} replies of {REPLY_WORDS} deltas:")
    first_ms = statistics.median(firsts) * 1e3
    delta_us = statistics.median(per_delta) * 1e6
    print(f"  request -> first delta (connection reused)  median {first_ms:6.2f} ms")
    print(f"  per delta, client and fake together         median {delta_us:6.1f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    asyncio.run(main(parser.parse_args().runs))
