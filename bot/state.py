"""Conversation state per contact, in Redis with a time-to-live.

The record keeps the state before the last applied message as well as after it. The host
saves the new state before it commits the replies; if that commit then fails, the retry
sees that this message was already applied and starts again from the state before it, so
a message is never applied twice and never lost.
"""
from __future__ import annotations

import json
from contextlib import contextmanager

from redis.exceptions import LockNotOwnedError

from bot.engine import State

PREFIX = "dda:conversation:"


class StateStore:
    def __init__(self, redis, ttl_seconds: int, lock_timeout: int = 30):
        self.redis = redis
        self.ttl = ttl_seconds
        self.lock_timeout = lock_timeout

    def state_for(self, contact_id: int, message_id: int) -> State:
        """The state to apply `message_id` to."""
        raw = self.redis.get(f"{PREFIX}{contact_id}")
        if not raw:
            return State()
        record = json.loads(raw)
        if record.get("message") == message_id:
            return State.from_dict(record.get("before"))
        return State.from_dict(record.get("state"))

    def current(self, contact_id: int) -> State:
        raw = self.redis.get(f"{PREFIX}{contact_id}")
        return State.from_dict(json.loads(raw).get("state")) if raw else State()

    def save(self, contact_id: int, message_id: int, before: State, after: State) -> None:
        record = {"state": after.to_dict(), "before": before.to_dict(), "message": message_id}
        self.redis.set(f"{PREFIX}{contact_id}", json.dumps(record), ex=self.ttl)

    def forget(self, contact_id: int) -> None:
        self.redis.delete(f"{PREFIX}{contact_id}")

    @contextmanager
    def lock(self, contact_id: int, purpose: str = "turn"):
        """One job per contact and purpose at a time, across every worker process."""
        lock = self.redis.lock(f"dda:lock:{purpose}:{contact_id}", timeout=self.lock_timeout,
                               blocking_timeout=self.lock_timeout)
        if not lock.acquire():
            raise TimeoutError("contact is busy")
        try:
            yield
        finally:
            try:
                lock.release()
            except LockNotOwnedError:  # it expired while we worked; the next holder is safe anyway
                pass
