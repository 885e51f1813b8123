"""The queue jobs, declared on brokers made per runtime.

Actors are made per runtime rather than at import, so one process can hold a Redis-backed
runtime (production, CI) or an in-process one (`make run`, tests) without global state.

Everything a job is queued for is in the database first (a message not yet processed, an
outbox row not yet sent), so queueing never fails the caller: when Redis cannot be reached
the job is left to the sweeper. The sweeper watches every second: when the queue lost its jobs
(Redis restarted, flushed, or unreachable for a while) it queues again everything that waits,
at once; rows a stopped worker left `sending` are settled within seconds
(delivery/liveness.py); the rest it checks every `sweep_every` seconds.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name
from dramatiq.errors import BrokerError, QueueJoinTimeout
from dramatiq.middleware import TimeLimit, default_middleware
from redis import Redis
from redis.exceptions import RedisError

from delivery.liveness import BEAT_SECONDS, InFlight, beat, new_worker_id, settle_dead_claims
from delivery.send import BACKOFF_MS, MAX_BACKOFF_MS, deliver_batch, deliver_contact, stale_work

if TYPE_CHECKING:
    from store.conversation import Services

log = logging.getLogger(__name__)

REPLIES = "replies"
INBOUND = "inbound"
BULK = "bulk"
JOBS = "jobs"  # work staff start from a page that takes minutes (issuing a week's vouchers)
# A job queues work only on its own queue or one after it here (a staff job the bulk sends, a
# bulk send a reply asking to open the window): looked at in this order, work that moves on
# while `drain` looks is seen where it arrives.
QUEUES = (JOBS, INBOUND, BULK, REPLIES)
JOB_TIME_LIMIT_MS = 2 * 3600 * 1000
IDLE_IN = ("/threading.py", "/queue.py", "/dramatiq/worker.py")  # a worker thread waiting for a job
UNREACHABLE = (RedisError, BrokerError)
# A key that lives as long as Redis keeps its data: when it is gone, so are the queued jobs.
QUEUE_MARKER = "dda:queue-alive"
# The people who wrote, as the webhook lists them for the workers to queue (`Tasks.arrived`).
ARRIVALS = "dda:arrivals"
ARRIVALS_BATCH = 100
# How long the dispatcher waits for an arrival before it looks whether it should stop: stopping a
# worker waits for it (a test's app stops one per test).
ARRIVALS_WAIT_SECONDS = 0.1


class _Queued:
    """An actor whose `send` never fails the caller (see the module's docstring)."""

    def __init__(self, actor: dramatiq.Actor):
        self.actor = actor

    def send(self, *args) -> None:
        self.send_with_options(args=args)

    def send_with_options(self, *, args=(), **options) -> None:
        try:
            self.actor.send_with_options(args=args, **options)
        except UNREACHABLE as error:
            log.warning("queue unreachable (%s): %s left to the sweeper", type(error).__name__,
                        self.actor.actor_name)

    def __getattr__(self, name: str):
        return getattr(self.actor, name)


class Tasks:
    """The three queues and the worker pools that work them in this process.

    Bulk sends have a broker object of their own (the same Redis, or a second in-process
    queue), because a dramatiq Worker joins its broker as a middleware: two pools on one broker
    would add that middleware twice. What the jobs do beyond delivery (processing an inbound
    message, the scheduled work) is handed in by the composition root, so this module needs
    nothing above the infrastructure.
    """

    def __init__(self, runtime: Services, redis_url: str, redis: Redis, *, process: Callable[[int], object],
                 scheduled: dict[str, Callable[[], object]], jobs: dict[str, Callable[..., object]] | None = None):
        self.broker = make_broker(redis_url)
        self.bulk_broker = make_broker(redis_url)
        self.redis = redis
        self.worker_id = new_worker_id()  # names this process's claims (delivery/liveness.py)
        self.in_flight = InFlight()
        self._beat = lambda: beat(runtime, self.worker_id)
        self._settle_dead = lambda: settle_dead_claims(runtime, self.worker_id, self.in_flight)
        retries: dict[str, Any] = {"max_retries": runtime.settings.delivery.max_attempts, "min_backoff": BACKOFF_MS,
                                   "max_backoff": MAX_BACKOFF_MS}

        def process_contact_job(contact_id: int) -> None:
            process(contact_id)

        def deliver_job(contact_id: int) -> None:
            deliver_contact(runtime, contact_id)

        self._deliver_here = deliver_job

        def deliver_bulk_job(contact_ids: list[int]) -> None:
            deliver_batch(runtime, contact_ids)

        self.process_contact = _Queued(dramatiq.actor(actor_name="process_contact", queue_name=INBOUND,
                                                      broker=self.broker, **retries)(process_contact_job))
        self.deliver = _Queued(dramatiq.actor(actor_name="deliver", queue_name=REPLIES, broker=self.broker,
                                              **retries)(deliver_job))
        # Voucher notices, invitations and reminders: many people per job, on a queue worked by
        # threads of its own, so a batch of 40,000 never stands between a person and the answer
        # to what they just wrote. A batch may take long when Twilio is slow (a hundred sends, each
        # allowed `send_timeout_seconds`), so its time limit is the staff jobs' rather than ten minutes.
        self.deliver_bulk = _Queued(dramatiq.actor(actor_name="deliver_bulk", queue_name=BULK,
                                                   broker=self.bulk_broker, time_limit=JOB_TIME_LIMIT_MS,
                                                   **retries)(deliver_bulk_job))
        # Long work a staff page starts (jobs/staff.py), by name: the page answers at once and shows
        # progress, a worker does the work. Not retried by the queue: each job is idempotent, and
        # the page says when one failed so staff start it again.
        named_jobs = dict(jobs or {})

        def run_job(name: str, *args) -> None:
            named_jobs[name](*args)

        self.run_job = _Queued(dramatiq.actor(actor_name="run_job", queue_name=JOBS, broker=self.broker,
                                              max_retries=0, time_limit=JOB_TIME_LIMIT_MS)(run_job))
        self.batch_size = runtime.settings.delivery.bulk_batch
        self._stale_work = lambda everything: stale_work(runtime, everything)
        self._queue_was_down = False
        # Scheduled work (jobs/scheduled.py): each runs at most once per day or week across all workers.
        self._scheduled = scheduled
        self._workers: list[dramatiq.Worker] = []
        self._sweeper: threading.Thread | None = None
        self._dispatcher: threading.Thread | None = None
        self._dispatching = threading.Event()  # arrivals taken off the list, not yet queued as jobs
        self._stopping = threading.Event()
        self._thread = threading.local()

    def arrived(self, contact_id: int) -> None:
        """Someone wrote, and what they sent is stored: have it processed.

        On Redis the caller (the webhook, at a campaign peak) only appends the person to a list,
        one command, and the workers' dispatcher makes the process_contact jobs: making and
        queueing a Dramatiq job cost the webhook a quarter of its time (`python -m bench
        webhook`). The dispatcher takes a hundred at a time, so someone who wrote three times in
        that moment gets one job, which processes all three. In process (no Redis) the job is
        queued at once. Like every queueing, this never fails the caller: what Redis did not
        take, the sweeper finds (the message is in the database, waiting)."""
        if isinstance(self.broker, StubBroker):
            self.process_contact.send(contact_id)
            return
        try:
            self._own_connection().rpush(ARRIVALS, contact_id)
        except RedisError as error:
            log.warning("queue unreachable (%s): an arrival left to the sweeper", type(error).__name__)

    def _own_connection(self) -> Redis:
        """This thread's own Redis connection, for `arrived`: each of the webhook's threads keeps
        one, because taking a connection from redis-py's pool and giving it back cost a third of
        the command itself."""
        client = getattr(self._thread, "redis", None)
        if client is None:
            client = self._thread.redis = Redis(connection_pool=self.redis.connection_pool,
                                                single_connection_client=True)
        return client

    def deliver_now(self, contact_id: int) -> None:
        """Deliver a person's waiting replies in this thread: for the job that has just committed
        their turn. A queued job would add the queue's polling (up to a tenth of a second when
        it is quiet) and a job's own work (fetch, acknowledge) to every answer. Whatever goes
        wrong here is left to a queued job, which retries as before."""
        try:
            self._deliver_here(contact_id)
        except Exception as error:
            log.warning("delivering at once failed (%s): queued", type(error).__name__)
            self.deliver.send(contact_id)

    def sweep(self, everything: bool = False) -> int:
        """Queue again what a lost queue message left behind; safe to run at any time.
        `everything`: the queue lost its jobs, so all that waits, however new."""
        stale = self._stale_work(everything)
        for contact_id in stale.deliver:
            self.deliver.send(contact_id)
        self.send_bulk(stale.deliver_bulk)
        for contact_id in stale.process:
            self.process_contact.send(contact_id)
        for contact_id, bulk, delay_ms in stale.later:
            if bulk:
                self.deliver_bulk.send_with_options(args=([contact_id],), delay=delay_ms)
            else:
                self.deliver.send_with_options(args=(contact_id,), delay=delay_ms)
        return len(stale.deliver) + len(stale.deliver_bulk) + len(stale.process) + len(stale.later)

    def send_bulk(self, contact_ids) -> None:
        """Queue delivery of what waits in the outbox for these people, in batch jobs."""
        contact_ids = sorted(set(contact_ids))
        for start in range(0, len(contact_ids), self.batch_size):
            self.deliver_bulk.send(contact_ids[start:start + self.batch_size])

    def start_worker(self, threads: int = 4, bulk_threads: int = 1, sweep_every: float = 30.0,
                     idle_ms: int = 100) -> bool:
        """Start working the queues in this process, bulk sends on threads of their own; False
        if a worker already runs here. `idle_ms`: how long an idle thread waits for a job before
        it looks again (and sees it should stop): stopping takes twice that."""
        if self._workers:
            return False
        _watch_time_limits()
        try:  # before the first claim: a claim by a process never seen looks like a stopped one's
            self._beat()
        except Exception:
            log.exception("could not record this worker as alive")
        self._workers = [dramatiq.Worker(self.broker, queues={INBOUND, REPLIES, JOBS}, worker_threads=threads,
                                         worker_timeout=idle_ms),
                         dramatiq.Worker(self.bulk_broker, queues={BULK}, worker_threads=bulk_threads,
                                         worker_timeout=idle_ms)]
        for worker in self._workers:
            worker.start()
        self._stopping.clear()
        self._sweeper = threading.Thread(target=self._sweep_loop, args=(sweep_every,), daemon=True,
                                         name="outbox-sweeper")
        self._sweeper.start()
        if isinstance(self.broker, RedisBroker):
            self._dispatcher = threading.Thread(target=self._dispatch_loop, daemon=True, name="arrivals")
            self._dispatcher.start()
        return True

    def _dispatch_loop(self) -> None:
        """Queue a process_contact job for each person the webhook listed (`arrived`). The wait
        for the first arrival leaves it on the list (moved from its head to its tail), so that
        `drain` never sees an arrival that is neither listed nor marked as being queued."""
        while not self._stopping.is_set():
            try:
                # redis-py types BLMOVE's timeout as whole seconds; Redis takes a fraction
                if self.redis.execute_command("BLMOVE", ARRIVALS, ARRIVALS, "LEFT", "RIGHT",
                                              ARRIVALS_WAIT_SECONDS) is None:
                    continue
                self._dispatching.set()
                taken = self.redis.lpop(ARRIVALS, ARRIVALS_BATCH) or []
                for contact_id in dict.fromkeys(int(value) for value in taken):
                    self.process_contact.send(contact_id)
            except RedisError as error:  # the sweeper queues what waits once Redis is back
                log.warning("arrivals unreachable (%s)", type(error).__name__)
                self._stopping.wait(1)
            except Exception:
                log.exception("queueing arrivals failed")
                self._stopping.wait(1)
            finally:
                self._dispatching.clear()

    def _sweep_loop(self, every: float) -> None:
        last = time.monotonic()
        while not self._stopping.wait(BEAT_SECONDS):
            try:
                self._beat()
                for contact_id in self._settle_dead():
                    self.deliver.send(contact_id)
                if self._queue_lost():
                    log.warning("the queue lost its jobs (Redis restarted or was unreachable): queueing again")
                    self.sweep(everything=True)
            except Exception:
                log.exception("watch failed")
            if time.monotonic() - last < every:
                continue
            last = time.monotonic()
            try:
                self.sweep()
            except Exception:
                log.exception("sweep failed")
            for name, job in self._scheduled.items():
                try:
                    job()
                except Exception:
                    log.exception("%s failed", name)

    def _queue_lost(self) -> bool:
        """True once each time Redis comes back empty or after being unreachable. An in-process
        queue is lost only with the process."""
        if isinstance(self.broker, StubBroker):
            return False
        try:
            fresh = self.redis.set(QUEUE_MARKER, "1", nx=True)
        except RedisError:
            self._queue_was_down = True
            return False
        was_down, self._queue_was_down = self._queue_was_down, False
        return bool(fresh) or was_down

    def stop_worker(self) -> None:
        """Both pools at once: each waits for its threads to finish the job in hand."""
        self._stopping.set()
        stoppers = [threading.Thread(target=worker.stop) for worker in self._workers]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        if self._dispatcher is not None:  # it waits for arrivals no longer than ARRIVALS_WAIT_SECONDS
            self._dispatcher.join()
            self._dispatcher = None
        for worker in self._workers:
            # A dramatiq Worker joins its broker as a middleware and never leaves: without this
            # a stopped pool would still be told of new queues, and the next start would warn
            # that the middleware is there twice.
            middleware = worker.broker.middleware
            middleware[:] = [m for m in middleware if getattr(m, "worker", None) is not worker]
        self._workers = []

    def drain(self, timeout_ms: int = 30_000) -> None:
        """Wait until every queue is empty and the worker idle (tests, `flask chat`)."""
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            while self._arriving() and time.monotonic() < deadline:
                time.sleep(0.01)
            for queue in QUEUES:
                timeout = max(1, int((deadline - time.monotonic()) * 1000))
                broker = self._broker_of(queue)
                try:
                    if isinstance(broker, RedisBroker):
                        broker.join(queue, interval=10, timeout=timeout)
                    else:
                        broker.join(queue, timeout=timeout)
                except QueueJoinTimeout:
                    raise TimeoutError(f"the {queue} queue did not drain in {timeout_ms} ms; {self._doing()}") from None
            for worker in self._workers:
                worker.join()
            if not self._arriving() and not any(self.waiting(queue) for queue in QUEUES):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"queues did not drain in {timeout_ms} ms; {self._doing()}")

    def _doing(self) -> str:
        """What waits and where each worker thread is, for a drain that timed out: a job that
        hangs and one that never started look alike from outside. Code locations only."""
        frames = sys._current_frames()
        threads = []
        for worker in self._workers:
            for thread in worker.workers:
                frame = frames.get(thread.ident or 0)
                if frame is None:
                    continue
                stack = traceback.extract_stack(frame)[-5:]
                if all(entry.filename.endswith(IDLE_IN) for entry in stack):
                    threads.append("idle")
                    continue
                threads.append(" < ".join(f"{entry.filename.rsplit('/', 1)[-1]}:{entry.lineno} {entry.name}"
                                          for entry in reversed(stack)))
        waiting = {queue: self.waiting(queue) for queue in QUEUES}
        return f"jobs waiting: {waiting}; worker threads: " + " | ".join(threads)

    def waiting(self, queue: str) -> int:
        """Jobs in a queue not yet finished (on Redis: not yet taken by a worker)."""
        broker = self._broker_of(queue)
        if isinstance(broker, StubBroker):
            return broker.queues[queue].unfinished_tasks + broker.queues[dq_name(queue)].unfinished_tasks
        assert isinstance(broker, RedisBroker)
        arrivals = int(self.redis.llen(ARRIVALS)) if queue == INBOUND else 0
        return int(broker.do_qsize(queue)) + arrivals

    def _arriving(self) -> bool:
        """Arrivals not yet queued as jobs, by this process's dispatcher or any other.

        The list is read before the flag: the dispatcher sets the flag before it takes from the
        list and clears it after queueing, so an empty list and then a clear flag mean queued.
        The other order missed an arrival taken between the two looks, and a test read the
        replies to one message among those to the next."""
        if isinstance(self.broker, StubBroker):
            return False
        return bool(self.redis.llen(ARRIVALS)) or self._dispatching.is_set()

    def _broker_of(self, queue: str) -> dramatiq.Broker:
        return self.bulk_broker if queue == BULK else self.broker

    def close(self) -> None:
        self.stop_worker()
        self.broker.close()
        self.bulk_broker.close()


# Dramatiq's time limits are watched by a thread that never stops, started when a broker hears
# that the process booted: one per broker leaked a thread each time a runtime was made (each test
# makes one), and a Redis broker, never told, enforced no limit. One watcher serves the process,
# started with its first worker (a web process only queues jobs: it needs none).
_TIME_LIMIT = TimeLimit()
_TIME_LIMIT_STARTED = threading.Lock()  # taken once, by the first worker, and never given back


def _watch_time_limits() -> None:
    if _TIME_LIMIT_STARTED.acquire(blocking=False):
        _TIME_LIMIT.manager.start()


def _middleware() -> list:
    return [_TIME_LIMIT if kind is TimeLimit else kind() for kind in default_middleware]


def make_broker(redis_url: str) -> dramatiq.Broker:
    if not redis_url:
        return StubBroker(middleware=_middleware())
    # A worker that stops sending heartbeats for 5 s is dead: Redis gives its unfinished jobs to
    # the others (checked on about 1 in 100 broker calls, which an idle worker makes ~10 times
    # a second), so a killed worker holds nobody up for long. Jobs are safe to run twice.
    return RedisBroker(url=redis_url, namespace="dda-tasks", heartbeat_timeout=5_000, maintenance_chance=10_000,
                       middleware=_middleware())
