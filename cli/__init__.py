"""`flask <group> <command>`: what operators, editors and staff scripts run."""
from __future__ import annotations


def register(app) -> None:
    from cli import (chat, contacts, db, flows, helpdesk, nlu, privacy, registrations, seed, translations, users,
                     vouchers, worker)

    for module in (chat, contacts, db, flows, helpdesk, nlu, privacy, registrations, seed, translations, users,
                   vouchers, worker):
        app.cli.add_command(module.group)


def deliver_now(runtime) -> None:
    """Without Redis the queue lives in this process: work it before the command exits. With
    Redis the workers deliver; either way the outbox keeps what is not yet sent."""
    if runtime.settings.uses_redis:
        return
    started = runtime.tasks.start_worker(threads=2)
    runtime.tasks.drain()
    if started:
        runtime.tasks.stop_worker()
