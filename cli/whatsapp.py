"""`flask whatsapp sync`: WhatsApp's reply buttons and list pickers, made ahead of time.

Every menu of the flows, in every served language, gets its content at Twilio's Content API
now rather than on the first person's turn (delivery makes any missing one on demand, and
falls back to numbered text when it cannot). Safe to repeat: what exists is reused.
"""
from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from bot.menus import layout
from channels.twilio_content import FAILURES, content_request

group = AppGroup("whatsapp", help="WhatsApp's reply buttons and list pickers (Twilio's Content API).")


@group.command("sync")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def sync(as_json: bool):
    """Make the buttons and lists of every menu in every language; exit 1 if Twilio refused any."""
    runtime = current_app.extensions["dda"]
    channel = runtime.channel
    contents = getattr(channel, "contents", None)
    if contents is None:
        raise click.ClickException("Twilio is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, "
                                   "TWILIO_WHATSAPP_NUMBER): menus go to the local channel as numbered text")
    engine = runtime.bot
    result = {"made": 0, "existing": 0, "numbered": 0, "failed": []}
    for language in runtime.settings.languages.all:
        for flow in engine.flows.flows.values():
            for step in flow.steps.values():
                if step.kind != "menu":
                    continue
                options = [option.to_dict() for option in engine.options_of(step, language)]
                menu = layout(runtime.translator.text(step.get("menu"), language, **engine.placeholders), options)
                if menu is None:  # more than ten options: numbered text, nothing to make
                    result["numbered"] += 1
                    continue
                try:
                    _sid, made = contents.ensure(content_request(menu, language, channel.list_button(language)))
                except FAILURES as error:
                    result["failed"].append({"flow": flow.name, "step": step.id, "language": language,
                                             "error": str(getattr(error, "code", "") or type(error).__name__)})
                    continue
                result["made" if made else "existing"] += 1
    if as_json:
        click.echo(json.dumps(result))
    else:
        for failure in result["failed"]:
            click.echo(f"{failure['flow']}.{failure['step']} [{failure['language']}]: Twilio refused "
                       f"({failure['error']})", err=True)
        click.echo(f"menus as buttons or lists: {result['made']} made, {result['existing']} already there; "
                   f"{result['numbered']} numbered text (more than ten options); {len(result['failed'])} failed")
    if result["failed"]:
        sys.exit(1)
