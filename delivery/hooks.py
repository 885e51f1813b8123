"""What a confirmed delivery means, told to whoever asked, without delivery knowing them.

Delivery knows messages, not vouchers: a message carries a tag ("voucher:42") and the
composition root registers, per tag kind, what to do once WhatsApp says the person has it
(runtime.py: "voucher" -> vouchers.delivery.mark_claimed). A hook runs inside the transaction
that records the status, so the claim and the status commit together.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from store.models import Message

DELIVERED = ("delivered", "read")
OnDelivered = Callable[[Session, str], None]  # (the open session, what follows "kind:" in the tag)


class DeliveryHooks:
    def __init__(self) -> None:
        self._on_delivered: dict[str, OnDelivered] = {}

    def on_delivered(self, kind: str, hook: OnDelivered) -> None:
        """`hook(session, rest)` for each message tagged "kind:rest" once it is delivered or read."""
        if kind in self._on_delivered:
            raise ValueError(f"a delivery hook for {kind!r} is registered already")
        self._on_delivered[kind] = hook

    def delivered(self, session: Session, message: Message) -> None:
        """Called whenever a message's status may have moved; acts once it is delivered or read
        (the hooks are idempotent: a status reported twice calls them twice)."""
        if message.status not in DELIVERED or not message.tag or ":" not in message.tag:
            return
        kind, _, rest = message.tag.partition(":")
        hook = self._on_delivered.get(kind)
        if hook is not None:
            hook(session, rest)
