from __future__ import annotations

import logging
import uuid

import click
from flask import current_app
from flask.cli import with_appcontext

from bot.menus import LIST_BUTTON, Layout, layout
from bot.messages import prompt_of
from channels.twilio_payload import BadRequest, read_inbound, test_sender
from inbox.receive import receive


def menu_of(reply: dict) -> Layout | None:
    """The reply buttons or list a menu shows on WhatsApp (bot/menus.py); None for plain text."""
    options = reply.get("options") or []
    prompt = prompt_of(reply.get("body") or "", [option["label"] for option in options]) if options else None
    return layout(prompt, options) if prompt else None


def shown(reply: dict, list_button: str) -> list[str]:
    """A reply as lines for the terminal: buttons as [1: title], a list under its button."""
    menu = menu_of(reply)
    if menu is None:
        return (reply.get("body") or "").splitlines() or [""]
    lines = menu.body.splitlines()
    if menu.kind == "buttons":
        return [*lines, "  ".join(f"[{number}: {item.title}]" for number, item in enumerate(menu.items, 1))]
    rows = [f"  {number}. {item.title}" + (f" — {item.description}" if item.description else "")
            for number, item in enumerate(menu.items, 1)]
    return [*lines, f"☰ {list_button}", *rows]


@click.command("chat")
@click.option("--as", "name", default="terminal", show_default=True,
              help="The test person you write as (letters, digits, dashes); a new name is a new person.")
@with_appcontext
def group(name):
    """Talk to the bot in this terminal, through the same pipeline as WhatsApp, as a test person
    (a sim: address, never a phone number: no real person can be spoken for)."""
    runtime = current_app.extensions["dda"]
    settings = runtime.settings
    local = runtime.local_channel
    try:
        phone = test_sender(name)
    except BadRequest as error:
        raise click.BadParameter(str(error), param_hint="--as") from None
    logging.getLogger().setLevel(logging.WARNING)  # the conversation, not the log, belongs on this screen
    started = runtime.tasks.start_worker(threads=2)
    click.echo(f"You are the test person {phone}. Type a message and press Enter; numbers choose from a menu, "
               "/tap N taps button or row N as on WhatsApp; Ctrl-D or /quit leaves.")
    menu: Layout | None = None
    try:
        while True:
            try:
                text = click.prompt("you", prompt_suffix="> ", default="", show_default=False)
            except (click.Abort, EOFError):
                break
            if text.strip() == "/quit":
                break
            form = {"MessageSid": "LOCAL" + uuid.uuid4().hex, "From": phone, "Body": text}
            command, _, number = text.strip().partition(" ")
            if command == "/tap":
                if menu is None or not number.isdigit() or not 1 <= int(number) <= len(menu.items):
                    click.echo("bot> (nothing to tap: /tap takes the number of a button or row of the last menu)")
                    continue
                item = menu.items[int(number) - 1]
                tapped = {"ButtonPayload": item.id, "ButtonText": item.title} if menu.kind == "buttons" \
                    else {"ListId": item.id, "ListTitle": item.title}
                form.update(Body=item.title, **tapped)
            received = read_inbound(form, settings.program.default_region, settings.conversation.max_inbound_chars,
                                    from_test_person=True)
            contact_id = receive(runtime, received).contact_id
            runtime.tasks.arrived(contact_id)
            runtime.tasks.drain()
            replies = local.received(phone, timeout=5)
            for reply in replies:
                for line in shown(reply, runtime.translator.text(LIST_BUTTON, reply.get("language"))):
                    click.echo(f"bot> {line}")
                menu = menu_of(reply) or menu
                if reply.get("location"):
                    pin = reply["location"]
                    click.echo(f"bot> 📍 {pin['label']} (map: geo:{pin['latitude']},{pin['longitude']})")
            if not replies:
                click.echo("bot> (no answer: the bot is silent while a person from the team has this chat, "
                           "or after STOP)")
    finally:
        if started:
            runtime.tasks.stop_worker()
