"""The queue jobs, declared on the broker the runtime was given.

Actors are made per runtime rather than at import, so one process can hold a Redis-backed
runtime (production, CI) or an in-process one (`make run`, tests) without global state.
"""
from __future__ import annotations

import logging
import threading

import dramatiq
from dramatiq.brokers.stub import StubBroker

log = logging.getLogger(__name__)

REPLIES = "replies"
INBOUND = "inbound"


class Tasks:
    def __init__(self, runtime, broker: dramatiq.Broker):
        from delivery.send import deliver, stale_work
        from inbox.process import process_contact

        self.broker = broker
        retries = {"max_retries": runtime.settings.delivery.max_attempts, "min_backoff": 500, "max_backoff": 300_000}
        def process_contact_job(contact_id: int) -> None:
            process_contact(runtime, contact_id)

        def deliver_job(outbox_id: int) -> None:
            deliver(runtime, outbox_id)

        self.process_contact = dramatiq.actor(process_contact_job, actor_name="process_contact",
                                              queue_name=INBOUND, broker=broker, **retries)
        self.deliver = dramatiq.actor(deliver_job, actor_name="deliver", queue_name=REPLIES, broker=broker,
                                      **retries)
        self._stale_work = lambda: stale_work(runtime)
        self._worker: dramatiq.Worker | None = None
        self._sweeper: threading.Thread | None = None
        self._stopping = threading.Event()

    def enqueue_delivery(self, outbox_id: int) -> None:
        self.deliver.send(outbox_id)

    def sweep(self) -> int:
        """Queue again what a lost queue message left behind; safe to run at any time."""
        outbox, contacts = self._stale_work()
        for outbox_id in outbox:
            self.deliver.send(outbox_id)
        for contact_id in contacts:
            self.process_contact.send(contact_id)
        return len(outbox) + len(contacts)

    def start_worker(self, threads: int = 4, sweep_every: float = 30.0) -> dramatiq.Worker:
        self._worker = dramatiq.Worker(self.broker, worker_threads=threads, worker_timeout=100)
        self._worker.start()
        self._stopping.clear()
        self._sweeper = threading.Thread(target=self._sweep_loop, args=(sweep_every,), daemon=True,
                                         name="outbox-sweeper")
        self._sweeper.start()
        return self._worker

    def _sweep_loop(self, every: float) -> None:
        while not self._stopping.wait(every):
            try:
                self.sweep()
            except Exception:
                log.exception("sweep failed")

    def stop_worker(self) -> None:
        self._stopping.set()
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    def drain(self, timeout_ms: int = 20_000) -> None:
        """Wait until every queue is empty and the worker idle (tests, `flask chat`)."""
        for _ in range(5):
            for queue in list(self.broker.get_declared_queues()):
                self.broker.join(queue, timeout=timeout_ms)
            if self._worker is not None:
                self._worker.join()
            if all(self._queue_empty(q) for q in self.broker.get_declared_queues()):
                return

    def _queue_empty(self, queue: str) -> bool:
        if isinstance(self.broker, StubBroker):
            return self.broker.queues[queue].unfinished_tasks == 0
        return True


def make_broker(redis_url: str) -> dramatiq.Broker:
    if not redis_url:
        broker = StubBroker()
        broker.emit_after("process_boot")
        return broker
    from dramatiq.brokers.redis import RedisBroker

    return RedisBroker(url=redis_url, namespace="dda-tasks")
