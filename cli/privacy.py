"""`flask privacy …`: key rotation, the retention purge and erasure on request.

Counts only: these commands never print a number, name or message, because their output
ends up in terminals, CI logs and tickets.
"""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from cli.common import contact_id_for, deliver_now
from privacy.audit import record
from privacy.erase import erase
from privacy.retention import purge
from privacy.rotate import BATCH, rotate, rows_to_visit
from store.models import Contact
from store.personal import keyring

group = AppGroup("privacy", help="Encryption keys, retention limits and erasure of personal data.")


@group.command("rotate-key")
@click.option("--batch-size", default=BATCH, show_default=True, type=click.IntRange(1, 100_000),
              help="Rows per transaction.")
def rotate_key(batch_size):
    """Re-wrap every person's data key under DDA_ENCRYPTION_KEY, recompute the phone lookup
    hashes, and move values from before data keys per person to their person's key, while
    the service keeps running.

    First set DDA_ENCRYPTION_KEY to the new key and DDA_PREVIOUS_ENCRYPTION_KEYS to the old
    one(s) on every process and restart them; run this; then remove the old keys. Without
    previous keys it is the data migration after `flask db upgrade` (revision 0012): values
    under the master-derived key, or in plain text from an older version, go under their
    person's data key. Safe to run again.
    """
    runtime = current_app.extensions["dda"]
    previous = len(keyring().previous)
    if previous:
        click.echo(f"moving data keys from {previous} previous key(s) to the current key")
    else:
        click.echo("no DDA_PREVIOUS_ENCRYPTION_KEYS: moving personal values to their person's data key")
    with click.progressbar(length=rows_to_visit(runtime.db), label="re-encrypting", show_pos=True) as bar:
        result = rotate(runtime.db, batch_size=batch_size, progress=bar.update)
    click.echo(f"re-wrapped {result.keys_rewrapped} data key(s), {result.keys_current} already current; "
               f"re-encrypted {result.values} value(s) under their person's data key, {result.unchanged} already, "
               f"{result.phone_keys} lookup hash(es) recomputed, {result.skipped} changed meanwhile (already current)")
    if result.duplicates:
        raise click.ClickException(
            f"{result.duplicates} contact(s) kept their old lookup hash because another contact with the same "
            "number was made under the new key during the rotation; erase the duplicate (flask privacy erase) "
            "and run this again")
    click.echo("done: the previous keys can now be removed from DDA_PREVIOUS_ENCRYPTION_KEYS")


@group.command("purge")
def purge_command():
    """Apply the retention limits in config.yml (privacy): erase old message texts, warn
    inactive registrations, erase those warned long enough ago. The workers run it daily."""
    runtime = current_app.extensions["dda"]
    counts = purge(runtime)
    deliver_now(runtime)
    for what, count in counts.items():
        click.echo(f"{what}: {count}")


@group.command("erase")
@click.option("--phone", help="The person's number, e.g. +31612345678.")
@click.option("--contact", "contact", type=int, help="Or the contact's id (someone known only by a WhatsApp username).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_command(phone, contact, yes):
    """Erase everything about one person, every number and WhatsApp user ID included, as "delete
    my data" in the chat does (without the confirmation message: they may not have asked
    through the chat)."""
    runtime = current_app.extensions["dda"]
    if (phone is None) == (contact is None):
        raise click.UsageError("give --phone or --contact")
    with runtime.session() as session:
        contact_id = contact_id_for(runtime, session, phone) if phone else session.scalar(
            select(Contact.id).where(Contact.id == contact))
    if contact_id is None:
        raise click.ClickException("nobody with that number" if phone else "no such contact")
    if not yes:
        click.confirm("Erase everything about this person? This cannot be undone", abort=True)
    with runtime.locks.hold(contact_id), runtime.session() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise click.ClickException("nobody with that number (erased meanwhile)")
        erased = erase(session, contact)
        record(session, "cli", "erased person", f"contact:{contact_id}", "on request, by staff")
        session.commit()
    click.echo(f"erased contact #{contact_id}: {erased.messages} message(s), {erased.tickets} ticket(s), "
               f"{erased.registrations} registration(s); {erased.vouchers} voucher(s) kept without the person")
