"""One message rate per WhatsApp sender, shared by every worker through Redis: WhatsApp
allows about 80 per second per sender, and going over gets messages refused.

Replies come first. Each second has a counter in Redis of what was taken (all, and bulk) and
of what replies asked for. Bulk sends (voucher notices, invitations) take their slots a batch at
a time (one round trip for many messages) and never more than `per_second` less `reserve` less
what replies asked for in this second or the one before (the more of the two): while people are
writing, bulk slows down by as much as their answers need, and when nobody writes it takes the
whole rate but `reserve`. A fixed share for replies would either leave people queued behind a
40,000-message voucher run (the share too small for a busy moment) or slow every run down (too
large). The previous second counts because bulk takes its batch as a second begins, before that
second's replies ask; `reserve` stays free on top, for replies coming faster than a second ago,
which would otherwise wait for the next second. And bulk takes a second's share a quarter at a
time (by the end of the first quarter a quarter of it, and so on): what it has not taken yet is
there for a reply that comes later in the second.
"""
from __future__ import annotations

import time

QUARTERS = 4
# KEYS[1]: this second's counters, KEYS[2]: the previous second's. ARGV: wanted, per_second,
# reserve, 1 for bulk, the quarter of the second it is (1-4). Grants up to `wanted` slots of this
# second; returns how many. Bulk keeps one slot a second however many replies ask, so a run
# always ends.
_GRANT = f"""
local QUARTERS = {QUARTERS}
local wanted, per_second = tonumber(ARGV[1]), tonumber(ARGV[2])
local counts = redis.call('HMGET', KEYS[1], 'all', 'bulk', 'asked')
local taken, bulk_taken, asked = tonumber(counts[1] or '0'), tonumber(counts[2] or '0'), tonumber(counts[3] or '0')
local grant = per_second - taken
if ARGV[4] == '1' then
  local before = tonumber(redis.call('HGET', KEYS[2], 'asked') or '0')
  local ceiling = math.max(1, per_second - tonumber(ARGV[3]) - math.max(asked, before))
  grant = math.min(grant, math.ceil(ceiling * tonumber(ARGV[5]) / QUARTERS) - bulk_taken)
else
  redis.call('HINCRBY', KEYS[1], 'asked', wanted)
end
grant = math.min(wanted, grant)
if grant > 0 then
  redis.call('HINCRBY', KEYS[1], 'all', grant)
  if ARGV[4] == '1' then redis.call('HINCRBY', KEYS[1], 'bulk', grant) end
else
  grant = 0
end
redis.call('EXPIRE', KEYS[1], 3)
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
        returns how many were taken (at least one). One round trip to Redis per try."""
        while True:
            now = time.time()
            second = int(now)
            quarter = int((now - second) * QUARTERS) + 1
            granted = int(self._grant(keys=[f"{self.key}:{second}", f"{self.key}:{second - 1}"],
                                      args=[wanted, self.per_second, self.reserve, 1 if bulk else 0, quarter]))
            if granted:
                return granted
            # bulk may get more in the next quarter of this second; a reply only in the next second
            until = second + (quarter / QUARTERS if bulk and quarter < QUARTERS else 1)
            time.sleep(until - now + 0.001)


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
