"""`flask <group> <command>`: what operators, editors and staff scripts run."""
from __future__ import annotations


def register(app) -> None:
    from cli import (
        chat,
        contacts,
        content,
        db,
        flows,
        helpdesk,
        inbox,
        nlu,
        privacy,
        registrations,
        seed,
        translations,
        users,
        vouchers,
        whatsapp,
        worker,
    )

    for module in (chat, contacts, content, db, flows, helpdesk, inbox, nlu, privacy, registrations, seed, translations,
                   users, vouchers, whatsapp, worker):
        app.cli.add_command(module.group)
