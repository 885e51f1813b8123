"""What a flow's actions may reach during one turn, and what the domain may use of the running
service. The composition root (runtime.py) builds the parts; the application (inbox/) opens a
Conversation per inbound message and hands it to the engine, which passes it to every action
untouched. Typed here, below the domain, so that registration/, vouchers/, referrals/… can name
what they use without importing the runtime."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from redis import Redis
from sqlalchemy.orm import Session, sessionmaker

from bot.i18n import Translator
from settings import Settings
from store.models import Contact

if TYPE_CHECKING:
    from bot.engine import Engine
    from channels.base import Channel
    from delivery.hooks import DeliveryHooks
    from delivery.rate_limit import RateLimiter
    from delivery.tasks import Tasks
    from referrals.release import ReferralContent
    from store.locks import Locks
    from vouchers.provider import VoucherProvider


class Services(Protocol):
    """The running service's parts (runtime.Runtime), as the domain and the application see them."""

    settings: Settings
    session: sessionmaker[Session]

    @property
    def translator(self) -> Translator: ...
    locks: Locks
    tasks: Tasks
    redis: Redis

    @property
    def vouchers(self) -> VoucherProvider: ...
    referrals: ReferralContent
    rate_limiter: RateLimiter | None
    delivery_hooks: DeliveryHooks

    @property
    def bot(self) -> Engine[Conversation]: ...

    def channel_for(self, contact: Contact) -> Channel: ...

    def reload_if_changed(self) -> None: ...


@dataclass
class Conversation:
    """One turn's host: the open transaction, the person, the service's parts; `erase` asks the
    host to erase the person once the turn is committed."""

    session: Session
    contact: Contact
    runtime: Services
    erase: bool = False
