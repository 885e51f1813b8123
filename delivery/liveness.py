"""Which worker processes are alive, so a row a stopped worker left `sending` is settled in
seconds.

Each worker process says it is alive once a second in the `workers` table, and each claim
names the process that made it (`outbox.claimed_by`). The table is in the database, not Redis,
so a Redis restart cannot make a live worker look dead. A claim older than `DEAD_AFTER` by a
process silent for as long is over: whatever that process sent has reached Twilio by now, and
nothing more will leave it. The row becomes `uncertain` and due at once, so the reply path
reconciles it against Twilio's message list (delivery/send.py) right away instead of after
the grace period a live worker's timeout needs; its status callback, when one comes, settles
it even sooner.

A live process's claim is never settled for being old: the last row of a batch waits for
every send before it, however slow Twilio is, and settling it then sent it twice. A live
process settles its own claims once no job of it holds them (`InFlight`): a job that ended
with its database gone could not record what it sent.
"""
from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, or_, select, update

from store.models import Message, OutboxItem, Worker, utcnow

BEAT_SECONDS = 1.0
DEAD_AFTER = timedelta(seconds=10)
FORGOTTEN_AFTER = timedelta(days=1)


def new_worker_id() -> str:
    return uuid.uuid4().hex


def beat(runtime, worker_id: str) -> None:
    """This process is alive (the workers' watch thread, once a second)."""
    with runtime.session() as session:
        row = session.get(Worker, worker_id)
        if row is None:
            session.add(Worker(id=worker_id, seen_at=utcnow()))
        else:
            row.seen_at = utcnow()
        session.commit()


class InFlight:
    """The rows this process's jobs have claimed and not yet finished with."""

    def __init__(self) -> None:
        self._held: Counter[int] = Counter()
        self._lock = threading.Lock()

    @contextmanager
    def holding(self, outbox_ids: list[int]) -> Iterator[None]:
        """Held from before the claim is committed until the job is done with the rows,
        whether it recorded them or failed to."""
        with self._lock:
            self._held.update(outbox_ids)
        try:
            yield
        finally:
            with self._lock:
                self._held.subtract(outbox_ids)
                self._held = +self._held

    def now(self) -> set[int]:
        with self._lock:
            return set(self._held)


def settle_dead_claims(runtime, worker_id: str, in_flight: InFlight) -> list[int]:
    """Rows left `sending` by a stopped worker, or by a job of this one that has ended, become
    uncertain and due now; returns their people, to queue on the reply path (which
    reconciles). Workers long gone are forgotten."""
    held = in_flight.now()  # before the statement: a row claimed since is younger than DEAD_AFTER
    now = utcnow()
    alive = select(Worker.id).where(Worker.seen_at >= now - DEAD_AFTER)
    with runtime.session() as session:
        rows = session.execute(
            update(OutboxItem).where(OutboxItem.state == "sending", OutboxItem.attempted_at < now - DEAD_AFTER, or_(
                OutboxItem.claimed_by.is_(None), OutboxItem.claimed_by.not_in(alive),
                (OutboxItem.claimed_by == worker_id) & OutboxItem.id.not_in(held)))
            .values(state="uncertain", last_error="worker stopped mid-send", due_at=now)
            .returning(OutboxItem.message_id).execution_options(synchronize_session=False)).scalars().all()
        contacts = sorted(set(session.scalars(select(Message.contact_id).where(Message.id.in_(rows))))) if rows else []
        session.execute(delete(Worker).where(Worker.seen_at < now - FORGOTTEN_AFTER))
        session.commit()
    return contacts
