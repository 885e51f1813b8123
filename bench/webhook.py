"""The webhook benchmark: can one small machine take WhatsApp traffic at campaign peaks?

Signed inbound messages go to the full webhook (signature check, store in PostgreSQL, the person
listed on Redis for the workers, empty TwiML) and to a bare Flask endpoint served the same way in
the same run, so the ratio between the two says what the service costs on top of the HTTP stack
on this machine, whatever the machine. A third server, the durable floor (bench/durable_floor.py:
one plain INSERT committed before the 200, nothing else), says how much of that durability alone
takes on the same machine (on two cores shared with PostgreSQL, about a third of the bare app's
throughput), and webhook/floor what the service's own work costs on top of it. No queue workers
run: the webhook's answer time is what Twilio waits for, and workers would only compete with it
for the CPU.

Goals: the webhook keeps at least half the bare endpoint's throughput, and its p99 stays within
25 ms at 200 messages/s.

Both servers run at once and are saturated in turns (bare, webhook, bare, webhook, ...): on a
machine shared with other work the load drifts over a minute, and two measurements taken back to
back see the same drift. The ratio is the median of the rounds' ratios.
"""
from __future__ import annotations

import json
import os
import random
import statistics
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from bench import RESULTS, ROOT, durable_floor
from bench.load import MakeRequest, paced, saturate
from bench.server import free_port, gunicorn
from bench.services import DATABASE_URL, REDIS_URL, keyring_url, prepare_database, prepare_redis

PATH = "/twilio/whatsapp"
FIXTURE = ROOT / "tests" / "fixtures" / "inbound_text.json"
AUTH_TOKEN = "bench-auth-token-0123456789abcde"
CONTACTS = 3000

WORKERS = 2
CONNECTIONS = 8
WARMUP_SECONDS = 2.0
SATURATE_SECONDS = 6.0
ROUNDS = int(os.environ.get("BENCH_ROUNDS") or 3)
RATE = 200
RATE_SECONDS = 10.0

GOAL_RATIO = 0.5
GOAL_P99_MS = 25.0

SERVERS = {
    "bare": "bench.bare_app:app",
    "floor": "bench.durable_floor:app",
    "webhook": "webhook:create_app()",
}
# BENCH_COMPARE=/path/to/another/checkout (its .venv-less code is served by this venv) adds that
# version's webhook to the same rounds: on a shared machine two versions measured minutes apart
# differ by more than most changes do, and only the same rounds compare them.
COMPARE = os.environ.get("BENCH_COMPARE", "")


def run() -> bool:
    prepare_database(DATABASE_URL)
    durable_floor.empty(DATABASE_URL)
    prepare_redis(REDIS_URL)
    measured = _measure()
    verdict = _verdict(measured)
    context = _context(measured)
    _print(measured, verdict, context)
    _write(measured, verdict, context)
    return verdict["pass"]


def _measure() -> dict:
    servers = [(name, app, ROOT) for name, app in SERVERS.items()]
    if COMPARE:
        servers.append(("compared", SERVERS["webhook"], Path(COMPARE).resolve()))
    return measure(servers, ROUNDS, at_rate=True)


def measure(servers: list[tuple[str, str, Path]], rounds: int, *, at_rate: bool) -> dict:
    """Each (name, gunicorn app, checkout) served at once and saturated in turns for `rounds`
    rounds; `at_rate`: then each paced at RATE too. Name -> its rounds, median round and pace."""
    with ExitStack() as stack:
        requests = {}
        for name, app, checkout in servers:
            port = free_port()
            public_url = f"http://127.0.0.1:{port}"
            log = RESULTS / f"webhook-{name.replace(' ', '-')}.log"
            print(f"{name}: gunicorn {app} from {checkout} on {public_url} (log: {log.relative_to(ROOT)})", flush=True)
            stack.enter_context(gunicorn(app, port, environment(public_url), log, workers=WORKERS, cwd=checkout))
            requests[name] = (app, port, signed_inbound(public_url + PATH, AUTH_TOKEN))
        runs: dict[str, list[dict]] = {name: [] for name in requests}
        for number in range(rounds):
            for name, (_, port, make_request) in requests.items():
                warmup = WARMUP_SECONDS if number == 0 else 0.0
                runs[name].append(saturate(port, make_request, CONNECTIONS, SATURATE_SECONDS, warmup).summary())
        measured = {}
        for name, (app, port, make_request) in requests.items():
            median = sorted(runs[name], key=lambda run: run["messages_per_s"])[len(runs[name]) // 2]
            measured[name] = {"app": app, "saturated": median, "rounds": runs[name]}
            if at_rate:
                measured[name]["paced"] = paced(port, make_request, RATE, RATE_SECONDS).summary()
    return measured


def environment(public_url: str) -> dict[str, str]:
    """The production configuration on the bench's services. TWILIO_API_BASE_URL points at a
    closed local port: nothing is sent during the bench, and if something were, it must not
    reach Twilio."""
    return {
        "DATABASE_URL": DATABASE_URL, "DDA_KEYRING_URL": keyring_url(DATABASE_URL),
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": "bench-secret-key-0123456789abcde",
        "DDA_ENCRYPTION_KEY": "bench-encryption-key-0123456789a",
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
        "TWILIO_WHATSAPP_NUMBER": "+14155238886",
        "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
        "PUBLIC_BASE_URL": public_url,
    }


def signed_inbound(url: str, token: str, contacts: int = CONTACTS) -> MakeRequest:
    """Twilio's inbound text from the test fixture, each time with a new MessageSid (a repeated
    one takes the cheaper duplicate path) from one of `contacts` senders (so both new and known
    contacts occur), signed for `url` as Twilio signs for the public URL."""
    template = json.loads(FIXTURE.read_text(encoding="utf-8"))
    validator = RequestValidator(token)

    def make() -> tuple[str, bytes, dict[str, str]]:
        sid = "SM" + uuid.uuid4().hex
        phone = f"+3161{random.randrange(contacts):07d}"
        params = template | {"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid,
                             "From": f"whatsapp:{phone}", "WaId": phone[1:]}
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": validator.compute_signature(url, params)}
        return PATH, urlencode(params).encode(), headers

    return make


def ratio(measured: dict, name: str, against: str = "bare") -> float:
    """The median over the rounds of the server's throughput against the other's in that round."""
    return statistics.median(
        server["messages_per_s"] / other["messages_per_s"] if other["messages_per_s"] else 0.0
        for other, server in zip(measured[against]["rounds"], measured[name]["rounds"], strict=True))


def _context(measured: dict) -> dict:
    """Where the webhook's cost lies against the durable floor; reported, not judged."""
    return {"floor_over_bare": round(ratio(measured, "floor"), 3),
            "webhook_over_floor": round(ratio(measured, "webhook", against="floor"), 3)}


def _verdict(measured: dict) -> dict:
    full = measured["webhook"]
    webhook_ratio = ratio(measured, "webhook")
    errors = sum(run["errors"] for run in full["rounds"]) + full["paced"]["errors"]
    paced = full["paced"]
    checks = {
        "throughput_ratio": {"value": round(webhook_ratio, 3), "goal": f">= {GOAL_RATIO}",
                             "pass": webhook_ratio >= GOAL_RATIO},
        # A p99 of nothing answered is no pass.
        "p99_ms_at_rate": {"value": paced["p99_ms"], "goal": f"<= {GOAL_P99_MS}",
                           "pass": paced["messages"] > 0 and paced["p99_ms"] <= GOAL_P99_MS},
        "errors": {"value": errors, "goal": "== 0", "pass": errors == 0},
    }
    return {"checks": checks, "pass": all(check["pass"] for check in checks.values())}


def _print(measured: dict, verdict: dict, context: dict) -> None:
    print()
    print(f"{'server':<8}  {'load':<16}  {'messages/s':>10}  {'p50 ms':>7}  {'p99 ms':>7}  {'errors':>6}")
    for name, result in measured.items():
        for load, label in (("saturated", f"max, {CONNECTIONS} conns"), ("paced", f"{RATE}/s")):  # median round
            row = result[load]
            print(f"{name:<8}  {label:<16}  {row['messages_per_s']:>10.1f}  {row['p50_ms']:>7.2f}  "
                  f"{row['p99_ms']:>7.2f}  {row['errors']:>6}")
    for name, result in measured.items():
        rates = ", ".join(f"{run['messages_per_s']:.0f}" for run in result["rounds"])
        print(f"{name:<8}  rounds (messages/s): {rates}")
    checks = verdict["checks"]
    print()
    print(_line(f"throughput webhook/bare: {checks['throughput_ratio']['value']:.0%}",
                f"goal >= {GOAL_RATIO:.0%}", checks["throughput_ratio"]["pass"]))
    print(_line(f"webhook p99 at {RATE}/s: {checks['p99_ms_at_rate']['value']:.2f} ms",
                f"goal <= {GOAL_P99_MS:g} ms", checks["p99_ms_at_rate"]["pass"]))
    print(_line(f"webhook errors: {checks['errors']['value']}", "goal 0", checks["errors"]["pass"]))
    print(f"durable floor/bare: {context['floor_over_bare']:.0%}, "
          f"webhook/durable floor: {context['webhook_over_floor']:.0%} (context, no goal)")
    if "compared" in measured:
        print(f"compared ({COMPARE}) /bare: {ratio(measured, 'compared'):.0%} in the same rounds")
    for name, result in measured.items():
        for load in ("saturated", "paced"):
            if result[load]["errors"]:
                print(f"  {name} {load}: {result[load]['error_kinds']}")
    print(f"\nwebhook benchmark: {'PASS' if verdict['pass'] else 'FAIL'}")


def _line(measured: str, goal: str, passed: bool) -> str:
    return f"{measured:<40} ({goal})  {'PASS' if passed else 'FAIL'}"


def _write(measured: dict, verdict: dict, context: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "webhook.json"
    document = {
        "benchmark": "webhook",
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count()},
        "load": {"connections": CONNECTIONS, "warmup_s": WARMUP_SECONDS, "saturate_s": SATURATE_SECONDS,
                 "rounds": ROUNDS,
                 "rate_per_s": RATE, "rate_s": RATE_SECONDS, "contacts": CONTACTS, "gunicorn_workers": WORKERS},
        "servers": measured,
        "context": context,
        **verdict,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"results: {path.relative_to(ROOT)}")
