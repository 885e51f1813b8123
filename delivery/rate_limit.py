"""One message rate per WhatsApp sender, shared by every worker through Redis: WhatsApp
allows about 80 per second per sender, and going over gets messages refused.

Bulk sends take their slots a batch at a time (one round trip for many messages) and never
the last `reserve` slots of a second: those stay for replies, so a person who writes during a
40,000-message voucher run is not queued behind it at the rate limit either.
"""
from __future__ import annotations

import time

# Grant up to ARGV[1] slots of this second without taking it past ARGV[2]; returns how many.
_GRANT = """
local taken = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - taken)
if grant <= 0 then return 0 end
redis.call('INCRBY', KEYS[1], grant)
redis.call('EXPIRE', KEYS[1], 2)
return grant
"""


class RateLimiter:
    def __init__(self, redis, key: str, per_second: int, reserve: int = 0):
        self.redis = redis
        self.key = key
        self.per_second = per_second
        self.reserve = reserve
        self._grant = redis.register_script(_GRANT)

    def acquire(self, wanted: int = 1, *, bulk: bool = False) -> int:
        """Block until this second (or a later one) has room, then take up to `wanted` slots;
        returns how many were taken (at least one)."""
        ceiling = self.per_second - self.reserve if bulk else self.per_second
        ceiling = max(1, ceiling)
        while True:
            now = time.time()
            second = int(now)
            granted = int(self._grant(keys=[f"{self.key}:{second}"], args=[wanted, ceiling]))
            if granted:
                return granted
            time.sleep(second + 1 - now + 0.001)


class Slots:
    """The slots one delivery run holds: asked for in batches, spent one per message."""

    def __init__(self, limiter: RateLimiter | None, wanted: int, *, bulk: bool):
        self.limiter = limiter
        self.wanted = wanted
        self.bulk = bulk
        self.held = 0

    def take(self) -> None:
        if self.limiter is None:
            return
        if not self.held:
            self.held = self.limiter.acquire(self.wanted, bulk=self.bulk)
        self.held -= 1
        self.wanted -= 1
