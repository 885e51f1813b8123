"""The queue jobs, declared on the broker the runtime was given.

Actors are made per runtime rather than at import, so one process can hold a Redis-backed
runtime (production, CI) or an in-process one (`make run`, tests) without global state.
"""
from __future__ import annotations

import logging
import threading
import time

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name

log = logging.getLogger(__name__)

REPLIES = "replies"
INBOUND = "inbound"
BULK = "bulk"
QUEUES = (INBOUND, REPLIES, BULK)


class Tasks:
    def __init__(self, runtime, broker: dramatiq.Broker):
        from delivery.send import BACKOFF_MS, MAX_BACKOFF_MS, deliver_batch, deliver_contact, stale_work
        from inbox.process import process_contact
        from privacy.retention import purge_once_a_day
        from vouchers.schedule import remind_once_a_day, run_when_due

        self.broker = broker
        retries = {"max_retries": runtime.settings.delivery.max_attempts, "min_backoff": BACKOFF_MS,
                   "max_backoff": MAX_BACKOFF_MS}
        def process_contact_job(contact_id: int) -> None:
            process_contact(runtime, contact_id)

        def deliver_job(contact_id: int) -> None:
            deliver_contact(runtime, contact_id)

        def deliver_bulk_job(contact_ids: list[int]) -> None:
            deliver_batch(runtime, contact_ids)

        self.process_contact = dramatiq.actor(actor_name="process_contact", queue_name=INBOUND, broker=broker,
                                              **retries)(process_contact_job)
        self.deliver = dramatiq.actor(actor_name="deliver", queue_name=REPLIES, broker=broker,
                                      **retries)(deliver_job)
        # Voucher notices, invitations and reminders: many people per job, on a queue worked by
        # threads of its own, so a batch of 40,000 never stands between a person and the answer
        # to what they just wrote.
        self.deliver_bulk = dramatiq.actor(actor_name="deliver_bulk", queue_name=BULK, broker=broker,
                                           **retries)(deliver_bulk_job)
        self.batch_size = runtime.settings.delivery.bulk_batch
        self._stale_work = lambda: stale_work(runtime)
        # Scheduled work: each runs at most once per day or week across all workers.
        self._scheduled = {"privacy purge": lambda: purge_once_a_day(runtime),
                           "weekly voucher cycle": lambda: run_when_due(runtime),
                           "reminders": lambda: remind_once_a_day(runtime)}
        self._workers: list[dramatiq.Worker] = []
        self._sweeper: threading.Thread | None = None
        self._stopping = threading.Event()

    def sweep(self) -> int:
        """Queue again what a lost queue message left behind; safe to run at any time."""
        stale = self._stale_work()
        for contact_id in stale.deliver:
            self.deliver.send(contact_id)
        self.send_bulk(stale.deliver_bulk)
        for contact_id in stale.process:
            self.process_contact.send(contact_id)
        return len(stale.deliver) + len(stale.deliver_bulk) + len(stale.process)

    def send_bulk(self, contact_ids) -> None:
        """Queue delivery of what waits in the outbox for these people, in batch jobs."""
        contact_ids = sorted(set(contact_ids))
        for start in range(0, len(contact_ids), self.batch_size):
            self.deliver_bulk.send(contact_ids[start:start + self.batch_size])

    def start_worker(self, threads: int = 4, bulk_threads: int = 1, sweep_every: float = 30.0) -> bool:
        """Start working the queues in this process, bulk sends on threads of their own; False
        if a worker already runs here."""
        if self._workers:
            return False
        self._workers = [dramatiq.Worker(self.broker, queues={INBOUND, REPLIES}, worker_threads=threads,
                                         worker_timeout=100),
                         dramatiq.Worker(self.broker, queues={BULK}, worker_threads=bulk_threads, worker_timeout=100)]
        for worker in self._workers:
            worker.start()
        self._stopping.clear()
        self._sweeper = threading.Thread(target=self._sweep_loop, args=(sweep_every,), daemon=True,
                                         name="outbox-sweeper")
        self._sweeper.start()
        return True

    def _sweep_loop(self, every: float) -> None:
        while not self._stopping.wait(every):
            try:
                self.sweep()
            except Exception:
                log.exception("sweep failed")
            for name, job in self._scheduled.items():
                try:
                    job()
                except Exception:
                    log.exception("%s failed", name)

    def stop_worker(self) -> None:
        """Both pools at once: each waits for its threads to finish the job in hand."""
        self._stopping.set()
        stoppers = [threading.Thread(target=worker.stop) for worker in self._workers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        self._workers = []

    def drain(self, timeout_ms: int = 30_000) -> None:
        """Wait until every queue is empty and the worker idle (tests, `flask chat`)."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            for queue in QUEUES:
                timeout = max(1, int((deadline - time.monotonic()) * 1000))
                if isinstance(self.broker, RedisBroker):
                    self.broker.join(queue, interval=10, timeout=timeout)
                else:
                    self.broker.join(queue, timeout=timeout)
            for worker in self._workers:
                worker.join()
            if not any(self.waiting(queue) for queue in QUEUES):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("queues did not drain")

    def waiting(self, queue: str) -> int:
        """Jobs in a queue not yet finished (on Redis: not yet taken by a worker)."""
        if isinstance(self.broker, StubBroker):
            return self.broker.queues[queue].unfinished_tasks + self.broker.queues[dq_name(queue)].unfinished_tasks
        assert isinstance(self.broker, RedisBroker)
        return int(self.broker.do_qsize(queue))


def make_broker(redis_url: str) -> dramatiq.Broker:
    if not redis_url:
        broker = StubBroker()
        broker.emit_after("process_boot")
        return broker
    return RedisBroker(url=redis_url, namespace="dda-tasks")
