"""Which process runs a campaign right now: a lease in Redis per campaign.

Only the holder claims leads and counts the campaign's calls against its concurrency cap, so
two processes sharing a campaign never together exceed it. A holder that dies stops renewing;
another process takes the campaign over once the lease expires.
"""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

from store.redis import KEY_PREFIX

# KEYS: lease. ARGV: owner, ttl_ms. 1 when the owner holds it now (taken or renewed).
_TAKE = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
  return 1
end
return 0
"""

# KEYS: lease. ARGV: owner. Deletes it only when the owner holds it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _key(campaign_id: uuid.UUID) -> str:
    return f"{KEY_PREFIX}campaign:lease:{campaign_id}"


class CampaignLeases:
    def __init__(self, redis: Redis, owner: str, *, ttl_s: float) -> None:
        self._owner = owner
        self._ttl_ms = int(ttl_s * 1000)
        self._take = redis.register_script(_TAKE)
        self._release = redis.register_script(_RELEASE)

    async def hold(self, campaign_id: uuid.UUID) -> bool:
        """Take or renew the campaign's lease; False while another process holds it."""
        return bool(await self._take(keys=[_key(campaign_id)], args=[self._owner, self._ttl_ms]))

    async def release(self, campaign_id: uuid.UUID) -> None:
        await self._release(keys=[_key(campaign_id)], args=[self._owner])
