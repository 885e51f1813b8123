"""Delivery under faults: Redis and PostgreSQL restarted mid-batch, Twilio answering 500 and 429
storms, a worker process killed half-way through 1,000 sends, duplicate and out-of-order status
callbacks. After recovery every message reached the Twilio stand-in exactly once (counted by the
outbox row its StatusCallback URL names) and every status is right.

Redis and PostgreSQL are private servers started here on free ports, so restarting them
touches nothing else on the machine.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import redis as redis_lib
import yaml
from sqlalchemy import insert, select
from sqlalchemy.exc import OperationalError

from delivery.tasks import QUEUE_MARKER
from store.migrate import upgrade
from store.models import Contact, ContactIdentifier, Message, OutboxItem, utcnow
from store.sealing import seal_rows
from tests.conftest import ENVIRONMENT, PUBLIC_URL, _empty_tables, fixture, sign

ROOT = Path(__file__).resolve().parent.parent
INITDB = Path("/usr/local/bin/initdb")
PG_CTL = INITDB.parent / "pg_ctl"
FAST = {"delivery.send_timeout_seconds": 1, "delivery.uncertain_grace_seconds": 0.5,
        "delivery.sweep_after_seconds": 1, "delivery.rate_per_second": 5000}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, seconds: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(step)


class PrivateRedis:
    def __init__(self, folder: Path):
        self.port, self.folder, self.process = free_port(), folder, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis_lib.Redis(port=self.port)
        wait_until(lambda: _pings(client), 10, "private redis-server up")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def _pings(client) -> bool:
    try:
        return client.ping()
    except redis_lib.ConnectionError:
        return False


class PrivatePostgres:
    """A throwaway cluster. PostgreSQL refuses to run as root, so under root (CI containers) it
    runs as the `postgres` user, in a folder that user owns."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="dda-faults-pg-"))
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        self.port, self.data = free_port(), self.folder / "data"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        subprocess.run([*self.as_owner, str(INITDB), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                        "--no-sync"], check=True, capture_output=True)

    def _ctl(self, *args: str) -> None:
        subprocess.run([*self.as_owner, str(PG_CTL), "-D", str(self.data), "-l", str(self.folder / "log"), "-w",
                        "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                        *args], check=True, capture_output=True)

    def start(self) -> None:
        self._ctl("start")

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory):
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def private_postgres():
    if not INITDB.exists() or shutil.which(str(PG_CTL)) is None:
        pytest.skip(f"{INITDB} is not installed: the PostgreSQL restart test needs its own cluster")
    server = PrivatePostgres()
    server.start()
    upgrade(server.url)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def private_keyring(tmp_path_factory) -> str:
    """The keyring beside the private cluster, shared with the worker processes the tests start;
    never the developer's var/ (made with their key)."""
    return f"sqlite:///{tmp_path_factory.mktemp('keyring') / 'keyring.sqlite3'}"


@pytest.fixture
def services(private_postgres, private_redis, private_keyring, twilio, monkeypatch):
    """An app on the private PostgreSQL and Redis, emptied, with short delivery timings."""
    _empty_tables(private_postgres.url)
    redis_lib.Redis.from_url(private_redis.url).flushdb()
    redis_lib.Redis.from_url(private_redis.url).set(QUEUE_MARKER, "1")  # up all along: nothing to sweep yet
    monkeypatch.setenv("DATABASE_URL", private_postgres.url)
    monkeypatch.setenv("DDA_KEYRING_URL", private_keyring)
    monkeypatch.setenv("REDIS_URL", private_redis.url)
    return private_postgres, private_redis


@pytest.fixture
def make_runtime(services):
    made = []

    def make(threads: int = 8):
        from webhook import create_app

        app = create_app(FAST, embedded_worker=False)
        app.config["TESTING"] = True
        runtime = app.extensions["dda"]
        runtime.test_client = app.test_client
        runtime.tasks.start_worker(threads=threads, bulk_threads=threads, sweep_every=3600)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()


def seed(runtime, people: int, each: int) -> list[int]:
    """`people` contacts who just wrote, each with `each` messages waiting; returns contact ids."""
    now = utcnow()
    with runtime.session() as session:
        ids = list(session.scalars(insert(Contact).returning(Contact.id, sort_by_parameter_order=True), seal_rows(
            session.connection(), Contact, [{"opted_out": False, "created_at": now, "last_inbound_at": now}
                                            for n in range(people)])))
        session.execute(insert(ContactIdentifier), seal_rows(session.connection(), ContactIdentifier, [
            {"contact_id": cid, "kind": "phone", "key": f"fault{n}", "value": f"+3162{n:07d}", "created_at": now}
            for n, cid in enumerate(ids)]))
        message_ids = list(session.scalars(insert(Message).returning(Message.id), seal_rows(
            session.connection(), Message, [
            {"contact_id": cid, "direction": "out", "kind": "text", "body": f"{cid}:{k}", "sender": "bot",
             "status": "pending", "created_at": now, "updated_at": now} for k in range(each) for cid in ids])))
        session.execute(insert(OutboxItem), [{"message_id": mid, "queue": "bulk", "state": "pending", "attempts": 0,
                                              "created_at": now} for mid in sorted(message_ids)])
        session.commit()
    return ids


def outbox_id(request: dict) -> int:
    return int(parse_qs(urlsplit(request["StatusCallback"]).query)["outbox"][0])


def all_sent(runtime) -> bool:
    with runtime.session() as session:
        return session.scalar(select(OutboxItem.id).where(OutboxItem.state != "sent").limit(1)) is None


def recover(runtime, stall: float = 40, log: Path | None = None) -> None:
    """What the workers' sweeper does every half minute, as often as needed until all is sent.
    Fails when nothing moved (no row sent, no attempt made) for `stall` seconds: a loaded
    machine may recover slowly, but it must keep recovering."""
    progress, moved, rows = None, time.monotonic(), []
    while True:
        try:  # like the sweeper, a connection the restart cut is only a reason to try again
            with runtime.session() as session:
                rows = session.execute(select(OutboxItem.state, OutboxItem.attempts)).all()
            if all(state == "sent" for state, _ in rows):
                return
            now = (sum(state == "sent" for state, _ in rows), sum(attempts for _, attempts in rows))
            if now != progress:
                progress, moved = now, time.monotonic()
            runtime.tasks.sweep()
        except (redis_lib.ConnectionError, OperationalError):
            pass
        if time.monotonic() - moved > stall:
            left = Counter(state for state, _ in rows)
            tail = f"\n{log.read_text(errors='replace')[-3000:]}" if log is not None else ""
            raise AssertionError(f"nothing moved for {stall} s: {dict(left)}{tail}")
        time.sleep(0.3)


def assert_each_sent_once_in_order(runtime, twilio) -> None:
    sent = twilio.sent()
    counts = Counter(outbox_id(request) for request in sent)
    with runtime.session() as session:
        rows = session.execute(select(OutboxItem.id, OutboxItem.state, Message.provider_sid, Message.status,
                                      Message.body).join(Message).order_by(OutboxItem.id)).all()
    assert {row.id for row in rows} == set(counts), "a message was lost or one not ours was sent"
    assert [n for n in counts.values() if n != 1] == [], "a message was sent twice"
    sid_of = {outbox_id(request): request["Sid"] for request in sent}
    assert all(row.state == "sent" and row.provider_sid == sid_of[row.id] for row in rows)
    assert {row.status for row in rows} <= {"queued", "sent"}
    order: dict[str, list[int]] = {}
    for request in sent:  # bodies are "<contact>:<k>": each person's arrive in the order written
        person, k = request["Body"].split(":")
        order.setdefault(person, []).append(int(k))
    assert all(ks == sorted(ks) for ks in order.values())


def restart_redis(services) -> None:
    """Every queued job, lock and rate counter is gone with it (no persistence)."""
    services[1].stop()
    time.sleep(0.5)
    services[1].start()


def restart_postgresql(services) -> None:
    """Every pooled connection breaks; transactions under way are aborted."""
    services[0].restart()


@pytest.mark.parametrize("restart", [restart_redis, restart_postgresql], ids=["redis", "postgresql"])
def test_a_service_restarted_mid_batch_loses_nothing_and_doubles_nothing(make_runtime, services, twilio, restart):
    runtime = make_runtime()
    contacts = seed(runtime, people=100, each=3)
    runtime.tasks.send_bulk(contacts)
    wait_until(lambda: len(twilio.requests) >= 60, 20, "the batch under way")
    restart(services)
    assert len(twilio.requests) < 300  # it happened mid-batch
    recover(runtime)
    assert_each_sent_once_in_order(runtime, twilio)


def test_500_and_429_storms_are_retried_until_each_is_sent_once(make_runtime, twilio):
    for _ in range(15):
        twilio.fail_next(500, 20500, times=2)
        twilio.fail_next(429, 20429, times=2)
    runtime = make_runtime(threads=4)
    contacts = seed(runtime, people=20, each=5)
    runtime.tasks.send_bulk(contacts)
    recover(runtime)
    assert twilio.failures == []  # the whole storm was answered
    assert_each_sent_once_in_order(runtime, twilio)
    with runtime.session() as session:
        assert sum(session.scalars(select(OutboxItem.attempts))) == 100 + 60


def test_a_slow_twilio_gets_each_message_of_a_batch_once_in_one_attempt(make_runtime, twilio):
    """Twilio takes 0.4 s a message: the last of 12 sent one after another leaves 4 s after its
    claim, longer than a request may take (1 s here). A live worker's claim is still its own, so
    the sweeper must not settle it as if that worker had stopped, which sent rows twice."""
    twilio.stall_next(0.4, times=12)
    runtime = make_runtime(threads=1)
    contacts = seed(runtime, people=12, each=1)
    runtime.tasks.send_bulk(contacts)
    recover(runtime)
    assert_each_sent_once_in_order(runtime, twilio)
    with runtime.session() as session:
        assert list(session.scalars(select(OutboxItem.attempts))) == [1] * 12


def worker_process(services, twilio, config: Path, log: Path) -> subprocess.Popen:
    """`flask worker` against the private services, once it says it is working (starting one
    takes seconds, and many more on a loaded machine: that is not what these tests time)."""
    private_postgres, private_redis = services
    env = {k: v for k, v in os.environ.items()} | ENVIRONMENT | {
        "DATABASE_URL": private_postgres.url, "DDA_KEYRING_URL": os.environ["DDA_KEYRING_URL"],
        "REDIS_URL": private_redis.url, "DDA_CONFIG": str(config),
        "TWILIO_API_BASE_URL": twilio.url}
    worker = subprocess.Popen([sys.executable, "-m", "flask", "worker", "--threads", "8"], cwd=ROOT, env=env,
                              stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: b"worker running" in log.read_bytes() or worker.poll() is not None, 180,
                   "the worker started")
    except AssertionError:
        worker.kill()
        raise AssertionError(log.read_text(errors="replace")[-3000:]) from None
    assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
    return worker


def test_a_worker_killed_half_way_through_1000_sends(make_runtime, services, twilio, tmp_path):
    settings = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    for dotted, value in FAST.items():
        settings["delivery"][dotted.split(".")[1]] = value
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")  # the first kind is the default
    runtime = make_runtime(threads=1)
    runtime.tasks.stop_worker()  # this process only enqueues and sweeps; the subprocesses deliver
    contacts = seed(runtime, people=250, each=4)
    runtime.tasks.send_bulk(contacts)
    first_log, second_log = tmp_path / "worker1.log", tmp_path / "worker2.log"
    first = worker_process(services, twilio, config, first_log)
    try:
        wait_until(lambda: len(twilio.requests) >= 500 or first.poll() is not None, 90, "half the batch sent",
                   step=0.01)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert 500 <= len(twilio.requests) < 1000, first_log.read_text()[-2000:]
        second = worker_process(services, twilio, config, second_log)
        try:
            recover(runtime, log=second_log)
        finally:
            second.terminate()
            second.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert_each_sent_once_in_order(runtime, twilio)


def callback(client, request: dict, status: str, error_code: str | None = None):
    url = urlsplit(request["StatusCallback"])
    params = fixture("status_delivered") | {"MessageSid": request["Sid"], "SmsSid": request["Sid"],
                                            "MessageStatus": status, "SmsStatus": status}
    if error_code:
        params["ErrorCode"] = error_code
    path = f"{url.path}?{url.query}"
    response = client.post(path, data=params, headers={"X-Twilio-Signature": sign(PUBLIC_URL + path, params)})
    assert response.status_code == 204


def test_duplicate_and_out_of_order_callbacks_leave_each_status_right(make_runtime, twilio):
    runtime = make_runtime(threads=4)
    # Four sends end in doubt: only their callbacks can settle them. The timeout leaves room for a
    # loaded machine (the suite runs in parallel workers): an ordinary send must never reach it.
    runtime.channel.client.http_client.timeout = 2
    twilio.stall_next(4, times=4)
    contacts = seed(runtime, people=20, each=2)
    runtime.tasks.send_bulk(contacts)
    runtime.tasks.drain()
    assert len(twilio.requests) == 36  # four people's second message waits behind the one in doubt
    client = runtime.test_client()
    rng = random.Random(9)
    final = {}
    for _ in range(3):  # settle what was in doubt, which lets the blocked ones go, and so on
        calls = []
        for request in twilio.sent():
            fate = final.setdefault(request["Sid"], rng.choice(["read", "delivered", "undelivered"]))
            steps = ["sent", "delivered", "read"] if fate == "read" else ["sent", fate]
            calls += [(request, step) for step in steps for _ in range(rng.choice([1, 2, 3]))]
        rng.shuffle(calls)
        for request, step in calls:
            callback(client, request, step, "30003" if step == "undelivered" else None)
        runtime.tasks.drain()
    assert all_sent(runtime)
    assert_each_sent_once_in_order_with_status(runtime, twilio, final)


def assert_each_sent_once_in_order_with_status(runtime, twilio, final: dict) -> None:
    counts = Counter(outbox_id(request) for request in twilio.sent())
    assert len(counts) == 40 and set(counts.values()) == {1}
    with runtime.session() as session:
        got = {m.provider_sid: (m.status, m.error_code) for m in session.scalars(
            select(Message).where(Message.direction == "out"))}
    assert got == {sid: (fate, "30003" if fate == "undelivered" else None) for sid, fate in final.items()}
