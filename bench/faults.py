"""The fault benchmark: do conversations survive a killed worker and a Redis restart, and how
fast does the service heal?

Everything runs as in production: gunicorn serving the webhook, two `flask worker` processes,
PostgreSQL (the bench's own database) and a private redis-server started here, so restarting
it touches nothing else; Twilio is bench/fault_twilio.py, which calls back every message's
status like Twilio. Several hundred people register at once, each writing their next answer a
few seconds after the bot's reply, while a bulk send goes out. Then one worker is killed with
SIGKILL (and another started a few seconds later), and Redis is stopped and started again
empty.

Reported: messages lost (an answer never given, an outbox row never sent), sent twice,
reordered (a person's messages arriving out of the order they were written), conversations
reset (a person whose answer got something else than the flow's next question), and the reply
time (from the person's message to the reply at Twilio) at the 95th percentile during the
faults and after them. Goals: 0 / 0 / 0 / 0, p95 <= 10 s during and <= 1 s after.

`python -m bench faults --people 40` for a quick run; 300 people by default.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import redis as redis_lib
import yaml
from sqlalchemy import func, insert, select
from twilio.request_validator import RequestValidator

from bench import RESULTS, ROOT
from bench.delivery import _clean_env, people_option
from bench.load import _percentile
from bench.server import free_port, gunicorn
from bench.services import keyring_url, prepare_database

DATABASE_URL = os.environ.get("BENCH_FAULTS_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/dda_bench_faults")
AUTH_TOKEN = "bench-auth-token-0123456789abcde"
SENDER = "+14155238886"
PEOPLE = 300
BULK_PER_PERSON = 5  # bulk-only people per person in a conversation, plus a notice to each of those
WORKERS = 2
THREADS = 8
BULK_THREADS = 2
RATE, REPLY_RESERVE = 150, 80  # the bulk sends at up to 70/s, as on WhatsApp; replies are never starved
PATIENCE_SECONDS = 180  # a person waits this long for an answer, then stops writing
SETTLE_SECONDS = 120  # after the last person, the service has this long to answer and send everything
NOTICE = "Your voucher for this week is ready."
GOAL_DURING_S, GOAL_AFTER_S = 10.0, 1.0

# A registration, as a person writes it; each answer waits for the flow's next question.
SCRIPT = [("hello", "Choose your language"), ("2", "What can I do for you"), ("1", "Do you agree"),
          ("1", "What is your name"), ("Amina", "best way to reach you"), ("1", "Which organisation"),
          ("Red Cross", "Is this right"), ("1", "You are registered"), ("balance", "no voucher"),
          ("menu", "What can I do for you")]


@dataclass
class Timeline:
    """When the faults happen, in seconds from the first message; scaled to how long people
    take to answer, so a quick run has every phase too."""
    think: tuple[float, float]

    @property
    def kill(self) -> float:
        return 2 * self.think[1]

    @property
    def worker_back(self) -> float:
        return self.kill + 3

    @property
    def redis_restart(self) -> float:
        return 4 * self.think[1]

    @property
    def healed(self) -> float:
        """The end of the fault phase: answers sent after this count as after the faults."""
        return self.redis_restart + max(10.0, self.think[1])


@dataclass
class Turn:
    text: str
    expect: str
    since: int = 0  # how many messages the person had before this turn
    sent_at: float = 0.0


@dataclass
class Person:
    phone: str
    turns: list[Turn] = field(default_factory=list)
    webhook_errors: int = 0


class Inbox:
    """What the mock Twilio received, per recipient, read once every 50 ms. Each person waits
    on an event of their own, so hundreds of waiting people cost the machine nothing."""

    def __init__(self, mock_url: str):
        self.url, self.seen = mock_url, 0
        self.by_phone: dict[str, list[dict]] = {}
        self.all: list[dict] = []
        self.lock = threading.Lock()
        self.events: dict[str, threading.Event] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.stopping.wait(0.05):
            try:
                with urllib.request.urlopen(f"{self.url}/log?since={self.seen}", timeout=10) as answer:
                    new = json.loads(answer.read())
            except OSError:
                continue
            with self.lock:
                for record in new:
                    phone = record["to"].removeprefix("whatsapp:")
                    self.by_phone.setdefault(phone, []).append(record)
                    self.all.append(record)
                    self._event(phone).set()
                self.seen += len(new)

    def _event(self, phone: str) -> threading.Event:
        return self.events.setdefault(phone, threading.Event())

    def wait_for(self, phone: str, since: int, expect: str, until: float) -> dict | None:
        """The first message from index `since` on containing `expect`, or None by `until`."""
        while True:
            with self.lock:
                event = self._event(phone)
                event.clear()
                received = [r for r in self.by_phone.get(phone, [])[since:] if r["body"] != NOTICE]
            for record in received:
                if expect.casefold() in record["body"].casefold():
                    return record
            if time.time() >= until:
                return None
            event.wait(min(1.0, until - time.time()))

    def count(self, phone: str) -> int:
        with self.lock:
            return len(self.by_phone.get(phone, []))

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()


def run() -> bool:
    people = people_option(PEOPLE)
    think = (10.0, 20.0) if people >= 150 else (2.0, 5.0)
    load_before = os.getloadavg()[0]
    result = _run(people, Timeline(think))
    result["load_average"] = {"before": round(load_before, 1), "after": round(os.getloadavg()[0], 1)}
    _print(result)
    _write(result)
    return result["pass"]


def _run(count: int, timeline: Timeline) -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    prepare_database(DATABASE_URL)
    with ExitStack() as stack:
        redis_server = _PrivateRedis(stack)
        mock = _mock(stack)
        port = free_port()
        public_url = f"http://127.0.0.1:{port}"
        env = _environment(mock, redis_server.url, public_url)
        runtime = _runtime(env)
        stack.callback(runtime.close)
        people = [Person(f"+3165{n:07d}") for n in range(count)]
        bulk_ids = _contacts(runtime, [p.phone for p in people] + [f"+3166{n:07d}" for n in
                                                                   range(count * BULK_PER_PERSON)])
        stack.enter_context(gunicorn("webhook:create_app()", port, env, RESULTS / "faults-web.log"))
        workers = [_worker(stack, env, n) for n in range(WORKERS)]
        inbox = Inbox(mock)
        stack.callback(inbox.stop)
        _warm_up(inbox, public_url)
        start = time.time()
        threads = [threading.Thread(target=_converse, args=(person, inbox, public_url, start, timeline), daemon=True)
                   for person in people]
        for thread in threads:
            thread.start()
        faults = _faults(runtime, bulk_ids, workers, stack, env, redis_server, start, timeline)
        for thread in threads:
            thread.join()
        settled = _settle(runtime, SETTLE_SECONDS)
        time.sleep(2)  # the last messages reach the inbox
        return _measure(runtime, people, inbox, start, timeline, faults, settled, len(bulk_ids))


def _faults(runtime, bulk_ids, workers, stack, env, redis_server, start, timeline) -> dict:
    """The bulk send a few seconds in, then the faults on the timeline; when each happened."""
    done = {}

    def at(moment: float) -> None:
        time.sleep(max(0.0, start + moment - time.time()))

    at(timeline.think[1] / 2)
    _queue_notices(runtime, bulk_ids)
    done["bulk_queued"] = round(time.time() - start, 1)
    at(timeline.kill)
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait()
    done["worker_killed"] = round(time.time() - start, 1)
    at(timeline.worker_back)
    workers[0] = _worker(stack, env, WORKERS)
    done["worker_started"] = round(time.time() - start, 1)
    at(timeline.redis_restart)
    redis_server.restart()
    done["redis_restarted"] = round(time.time() - start, 1)
    return done


def _warm_up(inbox: Inbox, public_url: str) -> None:
    """Each worker process loads its language models on its first message: a few people write
    first and are answered before the measured ones start."""
    phones = [f"+3167{n:07d}" for n in range(3 * WORKERS)]
    for phone in phones:
        _post(public_url, phone, "hello, how are you today")
    for phone in phones:
        inbox.wait_for(phone, 0, "", time.time() + 120)


def _converse(person: Person, inbox: Inbox, public_url: str, start: float, timeline: Timeline) -> None:
    rng = random.Random(person.phone)
    time.sleep(max(0.0, start + rng.uniform(0, timeline.think[1]) - time.time()))
    for text, expect in SCRIPT:
        turn = Turn(text, expect)
        person.turns.append(turn)
        turn.since = inbox.count(person.phone)
        turn.sent_at = time.time()
        person.webhook_errors += _post(public_url, person.phone, text)
        if inbox.wait_for(person.phone, turn.since, expect, turn.sent_at + PATIENCE_SECONDS) is None:
            return  # nobody goes on without an answer
        time.sleep(rng.uniform(*timeline.think))


def _post(public_url: str, phone: str, text: str) -> int:
    """Like Twilio: a message the webhook did not take (an error, no answer) is sent again,
    with the same MessageSid, a few times. Returns how many attempts failed."""
    sid = "SM" + uuid.uuid4().hex
    params = {"SmsMessageSid": sid, "NumMedia": "0", "ProfileName": "Bench", "MessageType": "text",
              "SmsSid": sid, "WaId": phone[1:], "SmsStatus": "received", "Body": text, "To": f"whatsapp:{SENDER}",
              "NumSegments": "1", "MessageSid": sid, "AccountSid": "AC" + "0123456789abcdef" * 2,
              "From": f"whatsapp:{phone}", "ApiVersion": "2010-04-01"}
    path = "/twilio/whatsapp"
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(public_url + path, params)}
    failed = 0
    for attempt in range(5):
        connection = http.client.HTTPConnection("127.0.0.1", int(public_url.rsplit(":", 1)[1]), timeout=30)
        try:
            connection.request("POST", path, urlencode(params), headers)
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                return failed
        except (OSError, http.client.HTTPException):
            pass
        finally:
            connection.close()
        failed += 1
        time.sleep(1 + attempt)
    return failed


def _settle(runtime, seconds: float) -> bool:
    """Wait until every inbound message is processed and every outbox row sent."""
    from store.models import Message, OutboxItem

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with runtime.session() as session:
            waiting = session.scalar(select(func.count()).select_from(Message).where(
                Message.direction == "in", Message.processed_at.is_(None)))
            unsent = session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.state != "sent"))
        if not waiting and not unsent:
            return True
        time.sleep(0.5)
    return False


def _measure(runtime, people: list[Person], inbox: Inbox, start: float, timeline: Timeline, faults: dict,
             settled: bool, bulk: int) -> dict:
    from store.models import Message, OutboxItem

    with runtime.session() as session:
        rows = set(session.scalars(select(OutboxItem.id)))
        unsent = session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.state != "sent"))
        unprocessed = session.scalar(select(func.count()).select_from(Message).where(
            Message.direction == "in", Message.processed_at.is_(None)))
    times = Counter(record["outbox"] for record in inbox.all)
    answered, unanswered, reset = _judge(people, inbox)
    never_started = sum(len(SCRIPT) - len(person.turns) for person in people)
    lost = len(rows - set(times)) + unanswered + unprocessed
    duplicated = sum(n - 1 for n in times.values() if n > 1)
    reordered = 0
    for records in inbox.by_phone.values():
        order = [r["outbox"] for r in records if r["outbox"] is not None]
        reordered += sum(1 for a, b in zip(order, order[1:], strict=False) if b < a)
    phases: dict[str, list[float]] = {"before": [], "during": [], "after": []}
    buckets: dict[int, list[float]] = {}
    kill = faults["worker_killed"]
    for turn, seconds in answered:
        moment = turn.sent_at - start
        phase = "before" if moment < kill else "during" if moment < timeline.healed else "after"
        phases[phase].append(seconds)
        buckets.setdefault(int(moment // 5) * 5, []).append(seconds)
    p95 = {phase: round(_percentile(sorted(values), 95), 2) for phase, values in phases.items()}
    timeline_p95 = {f"{at}s": round(_percentile(sorted(values), 95), 2) for at, values in sorted(buckets.items())}
    result = {
        "people": len(people), "turns": sum(len(person.turns) for person in people), "bulk_notices": bulk,
        "think_seconds": list(timeline.think), "faults_at_s": faults, "healed_at_s": timeline.healed,
        "lost": lost, "lost_detail": {"outbox_rows_never_sent": len(rows - set(times)), "unanswered_turns": unanswered,
                                      "unprocessed_messages": unprocessed, "rows_unsent_at_end": unsent,
                                      "settled": settled},
        "turns_not_written": never_started, "answered_after_patience": sum(
            1 for _, seconds in answered if seconds > PATIENCE_SECONDS),
        "duplicated": duplicated, "reordered": reordered, "conversations_reset": reset,
        "webhook_retries": sum(person.webhook_errors for person in people),
        "sent_without_outbox_row": times[None],
        "reply_p95_s": p95, "replies_per_phase": {phase: len(values) for phase, values in phases.items()},
        "reply_max_s": {phase: round(max(values), 2) if values else 0.0 for phase, values in phases.items()},
        "reply_p95_s_by_5s_sent": timeline_p95,
    }
    result["pass"] = (lost == 0 and duplicated == 0 and reordered == 0 and reset == 0 and never_started == 0
                      and p95["during"] <= GOAL_DURING_S and p95["after"] <= GOAL_AFTER_S)
    return result


def _judge(people: list[Person], inbox: Inbox) -> tuple[list[tuple[Turn, float]], int, int]:
    """Each turn by everything the person received after it, until their next message (or the
    end, everything being sent by then): answered (with how long it took), unanswered (nothing
    came), or set back (other messages came, never the flow's next question). Returns the
    answered turns, how many went unanswered and how many people were set back."""
    answered: list[tuple[Turn, float]] = []
    unanswered = 0
    reset: set[str] = set()
    for person in people:
        records = inbox.by_phone.get(person.phone, [])
        for n, turn in enumerate(person.turns):
            until = person.turns[n + 1].since if n + 1 < len(person.turns) else len(records)
            received = [r for r in records[turn.since:until] if r["body"] != NOTICE]
            match = next((r for r in received if turn.expect.casefold() in r["body"].casefold()), None)
            if match is not None:
                answered.append((turn, match["at"] - turn.sent_at))
            elif received:
                reset.add(person.phone)
            else:
                unanswered += 1
    return answered, unanswered, len(reset)


def _print(result: dict) -> None:
    def line(text: str, goal: str, passed: bool) -> str:
        return f"  {'PASS' if passed else 'FAIL'}  {text:<62} ({goal})"

    faults = result["faults_at_s"]
    print(f"\nFaults: {result['people']} people registering at once ({result['turns']} answers), "
          f"{result['bulk_notices']:,} bulk notices; worker killed at {faults['worker_killed']} s "
          f"(another started at {faults['worker_started']} s), Redis restarted at {faults['redis_restarted']} s")
    print(line(f"lost {result['lost']}, sent twice {result['duplicated']}, reordered {result['reordered']}, "
               f"conversations reset {result['conversations_reset']}", "goal 0 / 0 / 0 / 0",
               not (result["lost"] or result["duplicated"] or result["reordered"] or result["conversations_reset"])))
    if result["turns_not_written"] or result["answered_after_patience"]:
        print(f"  {result['answered_after_patience']} answers came after {PATIENCE_SECONDS} s, when the person had "
              f"stopped writing ({result['turns_not_written']} answers never written)")
    p95 = result["reply_p95_s"]
    print(line(f"reply p95 {p95['during']:.2f} s during the faults (max {result['reply_max_s']['during']:.1f} s)",
               f"goal <= {GOAL_DURING_S:.0f} s", p95["during"] <= GOAL_DURING_S))
    print(line(f"reply p95 {p95['after']:.2f} s after them (before them: {p95['before']:.2f} s)",
               f"goal <= {GOAL_AFTER_S:.0f} s", p95["after"] <= GOAL_AFTER_S))
    print(f"  reply p95 by when the message was sent (s from the start): {result['reply_p95_s_by_5s_sent']}")
    print(f"  machine load average {result['load_average']['before']} -> {result['load_average']['after']} "
          f"on {os.cpu_count()} cores (latency counts only on an otherwise idle machine)")


def _write(result: dict) -> None:
    path = RESULTS / "faults.json"
    document = {"benchmark": "faults", "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "machine": {"cpus": os.cpu_count()}, "workers": WORKERS, "threads": THREADS} | result
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"results: {path.relative_to(ROOT)}")


class _PrivateRedis:
    """A redis-server of the bench's own, without persistence: a restart empties it."""

    def __init__(self, stack: ExitStack):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.start()
        stack.callback(self.stop)

    def start(self) -> None:
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis_lib.Redis(port=self.port)
        for _ in range(200):
            try:
                if client.ping():
                    return
            except redis_lib.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        time.sleep(1)
        self.start()


def _mock(stack: ExitStack) -> str:
    port = free_port()
    log = RESULTS / "faults-twilio.log"
    process = subprocess.Popen([sys.executable, "-m", "bench.fault_twilio", str(port), AUTH_TOKEN], cwd=ROOT,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT)
    stack.callback(_stop, process)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{url}/log", timeout=1).read()
            return url
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the mock Twilio did not start")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _config() -> Path:
    settings = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    settings["delivery"]["rate_per_second"] = RATE
    settings["delivery"]["reply_reserve"] = REPLY_RESERVE
    path = RESULTS / "faults-config.yml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False), encoding="utf-8")  # the first kind is the default
    return path


def _environment(mock_url: str, redis_url: str, public_url: str) -> dict[str, str]:
    return {"DATABASE_URL": DATABASE_URL, "DDA_KEYRING_URL": keyring_url(DATABASE_URL), "REDIS_URL": redis_url,
            "DDA_CONFIG": str(_config()),
            "SECRET_KEY": "bench-secret-key-0123456789abcde", "DDA_ENCRYPTION_KEY": "bench-encryption-key-0123456789a",
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
            "TWILIO_WHATSAPP_NUMBER": SENDER, "TWILIO_API_BASE_URL": mock_url, "PUBLIC_BASE_URL": public_url}


def _runtime(env: dict[str, str]):
    from runtime import Runtime
    from settings import load_settings

    return Runtime(load_settings(environ=_clean_env(env)))


def _worker(stack: ExitStack, env: dict[str, str], n: int) -> subprocess.Popen:
    log = RESULTS / f"faults-worker{n}.log"
    process = subprocess.Popen([sys.executable, "-m", "flask", "worker", "--threads", str(THREADS), "--bulk-threads",
                                str(BULK_THREADS)], cwd=ROOT, env=_clean_env(env), stdout=log.open("wb"),
                               stderr=subprocess.STDOUT)
    stack.callback(_stop, process)
    return process


def _contacts(runtime, phones: list[str]) -> list[int]:
    """Everyone who gets the bulk notice, in WhatsApp's 24-hour window (people in the
    conversations among them, found by their number when they write)."""
    from store.models import PHONE, Contact, ContactIdentifier, utcnow
    from store.personal import lookup_key, seal

    secret = runtime.settings.secrets.encryption_key
    now = utcnow()
    keys = runtime.data_keys.create(len(phones))
    with runtime.session() as session:
        ids = list(session.scalars(insert(Contact).returning(Contact.id, sort_by_parameter_order=True), [
            {"data_key_id": key, "opted_out": False, "created_at": now, "last_inbound_at": now} for key in keys]))
        session.execute(insert(ContactIdentifier), [
            {"contact_id": cid, "kind": PHONE, "key": lookup_key(secret, phone), "value": seal(phone, key),
             "created_at": now} for cid, phone, key in zip(ids, phones, keys, strict=True)])
        session.commit()
    return ids


def _queue_notices(runtime, contact_ids: list[int]) -> None:
    from store.models import Contact, Message, OutboxItem, utcnow
    from store.personal import seal

    now = utcnow()
    with runtime.session() as session:
        key_of = dict(session.execute(select(Contact.id, Contact.data_key_id).where(Contact.id.in_(contact_ids))).all())
        message_ids = session.scalars(insert(Message).returning(Message.id), [
            {"contact_id": cid, "direction": "out", "kind": "text", "body": seal(NOTICE, key_of[cid]), "sender": "bot",
             "status": "pending", "created_at": now, "updated_at": now} for cid in contact_ids]).all()
        session.execute(insert(OutboxItem), [{"message_id": mid, "queue": "bulk", "state": "pending", "attempts": 0,
                                              "created_at": now} for mid in message_ids])
        session.commit()
    runtime.tasks.send_bulk(contact_ids)
