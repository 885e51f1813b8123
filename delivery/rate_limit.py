"""One message rate per WhatsApp sender, shared by every worker through Redis: WhatsApp
allows about 80 per second per sender, and going over gets messages refused."""
from __future__ import annotations

import time


class RateLimiter:
    def __init__(self, redis, key: str, per_second: int):
        self.redis = redis
        self.key = key
        self.per_second = per_second

    def wait_for_slot(self) -> None:
        """Block until this second (or a later one) has room, then take the slot."""
        while True:
            now = time.time()
            second = int(now)
            window = f"{self.key}:{second}"
            # One round trip: this runs once per message at the full send rate.
            pipe = self.redis.pipeline(transaction=False)
            pipe.incr(window)
            pipe.expire(window, 2)
            taken, _ = pipe.execute()
            if taken <= self.per_second:
                return
            time.sleep(second + 1 - now + 0.001)
