"""The local channel: replies go to a Redis list per number, read by `flask chat` and the
simulator, so the whole pipeline runs without a Twilio account."""
from __future__ import annotations

import json
import uuid

from channels.base import Outgoing, Sent

PREFIX = "dda:local:outbox:"


class LocalChannel:
    name = "local"

    def __init__(self, redis):
        self.redis = redis

    def send(self, message: Outgoing) -> Sent:
        sid = "LC" + uuid.uuid4().hex
        self.redis.rpush(PREFIX + message.to, json.dumps({
            "sid": sid, "body": message.body, "media_url": message.media_url,
            "content_sid": message.content_sid, "content_variables": message.content_variables,
            "location": message.location, "options": list(message.options or []), "language": message.language}))
        self.redis.expire(PREFIX + message.to, 86400)
        return Sent(provider_sid=sid, status="delivered")

    def received(self, phone: str, timeout: float = 0) -> list[dict]:
        """Messages sent to `phone` so far, waiting up to `timeout` seconds for the first."""
        key = PREFIX + phone
        found = []
        if timeout:
            first = self.redis.blpop([key], timeout=timeout)
            if first is None:
                return []
            found.append(json.loads(first[1]))
        while (raw := self.redis.lpop(key)) is not None:
            found.append(json.loads(raw))
        return found
