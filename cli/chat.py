from __future__ import annotations

import logging
import uuid

import click
from flask import current_app
from flask.cli import with_appcontext

from channels.twilio_payload import BadRequest, read_inbound
from inbox.receive import receive


@click.command("chat")
@click.option("--phone", default="+31612345678", show_default=True, help="The test number you write from.")
@with_appcontext
def group(phone):
    """Talk to the bot in this terminal, through the same pipeline as WhatsApp."""
    runtime = current_app.extensions["dda"]
    settings = runtime.settings
    local = runtime.local_channel
    try:
        phone = read_inbound({"MessageSid": "LOCALCHECK", "From": f"local:{phone}", "Body": "x"},
                             settings.program.default_region, 10).phone
    except BadRequest as error:
        raise click.BadParameter(str(error), param_hint="--phone") from None
    logging.getLogger().setLevel(logging.WARNING)  # the conversation, not the log, belongs on this screen
    started = runtime.tasks.start_worker(threads=2)
    click.echo(f"You are {phone}. Type a message and press Enter; numbers choose from a menu; "
               "Ctrl-D or /quit leaves.")
    try:
        while True:
            try:
                text = click.prompt("you", prompt_suffix="> ", default="", show_default=False)
            except (click.Abort, EOFError):
                break
            if text.strip() == "/quit":
                break
            form = {"MessageSid": "LOCAL" + uuid.uuid4().hex, "From": f"local:{phone}", "Body": text}
            received = read_inbound(form, settings.program.default_region, settings.conversation.max_inbound_chars)
            contact_id = receive(runtime, received).contact_id
            runtime.tasks.process_contact.send(contact_id)
            runtime.tasks.drain()
            replies = local.received(phone, timeout=5)
            for reply in replies:
                for line in (reply["body"] or "").splitlines() or [""]:
                    click.echo(f"bot> {line}")
                if reply.get("location"):
                    pin = reply["location"]
                    click.echo(f"bot> 📍 {pin['label']} (map: geo:{pin['latitude']},{pin['longitude']})")
            if not replies:
                click.echo("bot> (no answer: the bot is silent while a person from the team has this chat, "
                           "or after STOP)")
    finally:
        if started:
            runtime.tasks.stop_worker()
