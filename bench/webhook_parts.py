"""What each part of the webhook costs under gunicorn: `python -m bench webhook_parts`.

The webhook benchmark gives one ratio; on two cores shared with PostgreSQL, Redis and the load
generator, the parts of a request cost several times what they cost alone (a thread that waits
on a socket comes back to cold caches and a contended interpreter lock), so a profile taken in
one process does not say what removing a part would give. This serves the real webhook several
times, each with one part taken out, beside the bare app and the durable floor, saturated in the
same rounds, and prints each one's throughput against the bare app's.

It is a measurement for deciding where to work, not a goal: the variants drop things the service
must do (the signature check, encryption at rest, the hand-over to the workers), so none of them
could be shipped. Not run by a plain `make bench`; name it.
"""
from __future__ import annotations

import statistics
from contextlib import ExitStack

from bench import RESULTS, durable_floor
from bench.load import saturate
from bench.server import free_port, gunicorn
from bench.services import DATABASE_URL, REDIS_URL, prepare_database, prepare_redis
from bench.webhook import AUTH_TOKEN, CONNECTIONS, PATH, SATURATE_SECONDS, WARMUP_SECONDS, _environment, signed_inbound

ROUNDS = 4
PARTS = {
    "signature": "the signature check",
    "handover": "the hand-over to the workers (one Redis command)",
    "encryption": "encryption of the body",
    "store": "our store (the floor's plain INSERT instead)",
}
VARIANTS = {
    "bare": "bench.bare_app:app",
    "floor": "bench.durable_floor:app",
    "webhook": "webhook:create_app()",
    **{f"without {part}": f"bench.webhook_parts:without('{part}')" for part in PARTS},
    "without all four": f"bench.webhook_parts:without('{','.join(PARTS)}')",
}


def without(parts: str):
    """The webhook app with the named parts (comma-separated keys of PARTS) taken out; for
    gunicorn, in a process of its own."""
    import channels.twilio_webhook
    import delivery.tasks
    import inbox.receive
    import inbox.store_postgresql
    import webhook
    from inbox.stored import Stored

    taken = set(parts.split(","))
    if "signature" in taken:
        channels.twilio_webhook._signed = lambda *_: True  # type: ignore[assignment]
    if "handover" in taken:
        delivery.tasks.Tasks.arrived = lambda self, contact_id: None  # type: ignore[method-assign]
    if "encryption" in taken:
        inbox.store_postgresql.encrypt = lambda value, key_id: value  # type: ignore[assignment]
    if "store" in taken:
        def plain_insert(engine, received, now):
            durable_floor._connection().execute(durable_floor._INSERT, (received.sid, received.body))
            return Stored(0, 0, new=True, waiting=True)

        inbox.receive.in_one_statement = plain_insert  # type: ignore[assignment]
    return webhook.create_app()


def run() -> bool:
    prepare_database(DATABASE_URL)
    durable_floor.empty(DATABASE_URL)
    prepare_redis(REDIS_URL)
    with ExitStack() as stack:
        servers = {}
        for name, app in VARIANTS.items():
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            log = RESULTS / f"webhook-parts-{name.replace(' ', '-')}.log"
            print(f"{name}: {app} (log: {log.name})", flush=True)
            stack.enter_context(gunicorn(app, port, _environment(url), log))
            servers[name] = (port, signed_inbound(url + PATH, AUTH_TOKEN))
        rounds: dict[str, list[float]] = {name: [] for name in servers}
        for number in range(ROUNDS):
            for name, (port, make_request) in servers.items():
                result = saturate(port, make_request, CONNECTIONS, SATURATE_SECONDS,
                                  WARMUP_SECONDS if number == 0 else 0.0)
                rounds[name].append(result.summary()["messages_per_s"])
    print(f"\n{'server':<58} {'/ bare':>7}  rounds (messages/s)")
    for name, rates in rounds.items():
        ratio = statistics.median(rate / bare for rate, bare in zip(rates, rounds["bare"], strict=True) if bare)
        label = name if not name.startswith("without ") else "without " + PARTS.get(name[8:], name[8:])
        print(f"{label:<58} {ratio:>7.0%}  {', '.join(f'{rate:.0f}' for rate in rates)}")
    return True
