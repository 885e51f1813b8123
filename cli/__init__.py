"""`flask <group> <command>`: what operators, editors and staff scripts run."""
from __future__ import annotations


def register(app) -> None:
    from cli import chat, db, flows, helpdesk, nlu, seed, translations, worker

    for module in (chat, db, flows, helpdesk, nlu, seed, translations, worker):
        app.cli.add_command(module.group)
