"""Twilio calls' shared state in Redis.

A Twilio call reaches us as several independent requests (voice webhook, stream, status and
AMD callbacks) that may land on different processes; what they share lives here. Claims are
`SET NX`, so exactly one stream runs a call and exactly one writer records it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Final

import msgspec
from redis.asyncio import Redis

from ari_app.call import Call
from store.redis import KEY_PREFIX

# Longer than any call (Twilio's own default time limit is 4 h).
STATE_TTL_S: Final = 6 * 3600
# How often a stream waiting for an AMD result looks for it.
AMD_POLL_S: Final = 0.05


class TwilioCall(msgspec.Struct, kw_only=True):
    """A call as the adapter knows it between requests."""

    call: Call
    call_sid: str = ""
    amd: bool = False  # placed with answering-machine detection


def _key(kind: str, call_id: uuid.UUID) -> str:
    return f"{KEY_PREFIX}twilio:{kind}:{call_id}"


class TwilioCallStore:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._decoder = msgspec.json.Decoder(TwilioCall)

    async def put(self, state: TwilioCall) -> None:
        await self._redis.set(
            _key("call", state.call.id), msgspec.json.encode(state), ex=STATE_TTL_S
        )

    async def get(self, call_id: uuid.UUID) -> TwilioCall | None:
        raw = await self._redis.get(_key("call", call_id))
        return None if raw is None else self._decoder.decode(raw)

    async def record_amd(self, call_id: uuid.UUID, answered_by: str) -> None:
        await self._redis.set(_key("amd", call_id), answered_by, ex=STATE_TTL_S)

    async def amd_result(self, call_id: uuid.UUID) -> str | None:
        raw = await self._redis.get(_key("amd", call_id))
        if raw is None:
            return None
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def wait_amd(self, call_id: uuid.UUID, timeout_s: float) -> str | None:
        """The AMD result once it arrived (on any process), or None after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = await self.amd_result(call_id)
            if result is not None or time.monotonic() >= deadline:
                return result
            await asyncio.sleep(AMD_POLL_S)

    async def claim_stream(self, call_id: uuid.UUID) -> bool:
        """True for the first stream of a call only (a replayed token gets False)."""
        return bool(await self._redis.set(_key("stream", call_id), b"1", nx=True, ex=STATE_TTL_S))

    async def streamed(self, call_id: uuid.UUID) -> bool:
        return bool(await self._redis.exists(_key("stream", call_id)))

    async def claim_record(self, call_id: uuid.UUID) -> bool:
        """True for the one writer of the call's final record."""
        return bool(await self._redis.set(_key("done", call_id), b"1", nx=True, ex=STATE_TTL_S))
