"""What several command groups need: working the queue before exiting, finding a person by number,
showing a listing."""
from __future__ import annotations

import json
from collections.abc import Callable

import click

from channels.twilio_payload import BadRequest, phone_from_address
from store.identifiers import find_contact_id


def deliver_now(runtime) -> None:
    """Without Redis the queue lives in this process: work it before the command exits. With
    Redis the workers deliver; either way the outbox keeps what is not yet sent."""
    if runtime.settings.uses_redis:
        return
    started = runtime.tasks.start_worker(threads=2)
    runtime.tasks.drain()
    if started:
        runtime.tasks.stop_worker()


def contact_id_for(runtime, session, phone: str) -> int | None:
    """The contact a staff member means by `--phone`, written any way people write numbers;
    during a key rotation the number is found under the old key too."""
    try:
        phone = phone_from_address(f"whatsapp:{phone}", runtime.settings.program.default_region)
    except BadRequest as error:
        raise click.BadParameter(str(error), param_hint="--phone") from None
    return find_contact_id(session.connection(), phone)


def show_rows(rows: list[dict], as_json: bool, line: Callable[[dict], str], empty: str) -> None:
    """A listing: JSON for scripts (--json), otherwise a line per row, and `empty` when there is none."""
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(empty)
    for row in rows:
        click.echo(line(row))
