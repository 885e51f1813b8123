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

from bench import ROOT, durable_floor
from bench.services import DATABASE_URL, REDIS_URL, prepare_database, prepare_redis
from bench.webhook import measure, ratio

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
            durable_floor.store(received.sid, received.body)
            return Stored(0, 0, new=True, waiting=True)

        inbox.receive.in_one_statement = plain_insert  # type: ignore[assignment]
    return webhook.create_app()


def run() -> bool:
    prepare_database(DATABASE_URL)
    durable_floor.empty(DATABASE_URL)
    prepare_redis(REDIS_URL)
    measured = measure([(name, app, ROOT) for name, app in VARIANTS.items()], ROUNDS, at_rate=False)
    print(f"\n{'server':<58} {'/ bare':>7}  rounds (messages/s)")
    for name, result in measured.items():
        label = name if not name.startswith("without ") else "without " + PARTS.get(name[8:], name[8:])
        rates = ", ".join(f"{run['messages_per_s']:.0f}" for run in result["rounds"])
        print(f"{label:<58} {ratio(measured, name):>7.0%}  {rates}")
    return True
