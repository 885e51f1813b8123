"""Per-person locks across every worker process, in Redis.

A lock only spares work: two workers taking the same person's turn or delivery at once would
waste effort, never send twice or apply a message twice, because the database decides that
(a message is marked processed, a row claimed, by a statement only one transaction can win).
So a lock lives a few seconds and is renewed while its holder works: a worker killed while
holding one, or a Redis restart that drops them all, holds a person up for seconds at most.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from redis.exceptions import LockError, RedisError

LIFETIME_SECONDS = 5


class Locks:
    def __init__(self, redis, wait_seconds: float):
        self.redis = redis
        self.wait_seconds = wait_seconds

    @contextmanager
    def hold(self, contact_id: int, purpose: str = "turn") -> Iterator[Callable[[], None]]:
        """One holder per person and purpose; yields `renew`, to call between units of work.
        Raises TimeoutError when the person stays busy for `wait_seconds`."""
        lock = self.redis.lock(f"dda:lock:{purpose}:{contact_id}", timeout=LIFETIME_SECONDS,
                               blocking_timeout=self.wait_seconds)
        if not lock.acquire():
            raise TimeoutError("contact is busy")

        def renew() -> None:
            try:
                lock.reacquire()
            except LockError:  # it expired while we worked (or Redis restarted): take it again if free
                lock.acquire(blocking=False)
            except RedisError:  # Redis is away: work on without it, the database keeps things right
                pass

        try:
            yield renew
        finally:
            try:
                lock.release()
            except (LockError, RedisError):  # expired, or gone with Redis; the database kept things right
                pass
