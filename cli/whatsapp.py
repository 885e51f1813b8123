"""`flask whatsapp sync`: WhatsApp's reply buttons, list pickers and approved templates, made
ahead of time.

Every menu of the flows, in every served language, gets its content at Twilio's Content API
now rather than on the first person's turn (delivery makes any missing one on demand, and
falls back to numbered text when it cannot). Every template config.yml `templates:` names is
made in every served language from the bot's own translated text, submitted for WhatsApp's
approval and its approval state recorded (channels/twilio_templates.py); approved ones are used
from then on. Safe to repeat: what exists is reused, and waiting approvals are asked again.
`flask whatsapp templates` lists the templates and their state.
"""
from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from bot.engine import YES
from bot.menus import layout
from channels import twilio_templates
from channels.twilio_content import FAILURES, content_request
from channels.twilio_templates import TemplateText
from delivery.window import WAITING
from privacy.retention import WARNING
from registration.desk import WELCOME
from registration.invitations import INVITATION
from registration.lifecycle import NOTICES
from registration.reminders import REMINDER
from store.models import WhatsAppTemplate
from vouchers.delivery import CLAIM_PAYLOAD
from vouchers.kinds import texts_of

group = AppGroup("whatsapp", help="WhatsApp's reply buttons, list pickers and approved templates (Twilio's "
                                   "Content API).")
# The tap on "you have a message": any message opens the window (and releases what waited); this payload
# gets the menu, or during a handoff the note that the team has their message, never "I did not understand".
WAITING_PAYLOAD = "cmd.menu"
SAMPLES = {"link": "https://wa.me/14155238886?text=JOIN%20ABCD2345EF", "amount": "€17.50", "days": "14"}


def service_templates(settings) -> dict[str, TemplateText]:
    """The text behind each template the service sends: the notice it stands in for outside the window."""
    found = {
        "invitation": TemplateText(INVITATION, {"link": "1"}),
        "registration_reminder": TemplateText(REMINDER, {}),
        "message_waiting": TemplateText(WAITING, {}, (WAITING_PAYLOAD, YES)),
        "inactivity_warning": TemplateText(WARNING, {"days": "1"}),
        "desk_welcome": TemplateText(WELCOME, {"program": "1"}),
    }
    found.update({f"status_{status}": TemplateText(text, {}) for status, text in NOTICES.items()})
    for name, kind in settings.vouchers.kinds.items():
        found[kind.template] = TemplateText(texts_of(settings, name).ready, {"amount": "1"}, (CLAIM_PAYLOAD, YES))
    return found


@group.command("sync")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def sync(as_json: bool):
    """Make the buttons and lists of every menu, and every template (submitted for approval), in every
    language; exit 1 if Twilio refused any."""
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
    made = _sync_templates(runtime, channel)
    result["templates"] = made
    if as_json:
        click.echo(json.dumps(result))
    else:
        for failure in result["failed"]:
            click.echo(f"{failure['flow']}.{failure['step']} [{failure['language']}]: Twilio refused "
                       f"({failure['error']})", err=True)
        click.echo(f"menus as buttons or lists: {result['made']} made, {result['existing']} already there; "
                   f"{result['numbered']} numbered text (more than ten options); {len(result['failed'])} failed")
        for failure in made["failed"]:
            click.echo(f"template {failure['template']} [{failure['language']}]: Twilio refused "
                       f"({failure['error']})", err=True)
        for rejected in made["rejected"]:
            click.echo(f"template {rejected['template']} [{rejected['language']}]: WhatsApp rejected it "
                       f"({rejected['reason'] or 'no reason given'})", err=True)
        if made["unknown"]:
            click.echo(f"config.yml names templates the service has no text for: {', '.join(made['unknown'])}",
                       err=True)
        click.echo(f"templates: {made['made']} made and submitted, {made['existing']} already there; "
                   f"{made['approved']} approved, {made['waiting']} waiting for WhatsApp, "
                   f"{len(made['rejected'])} rejected, {len(made['failed'])} failed")
    if result["failed"] or made["failed"]:
        sys.exit(1)


def _sync_templates(runtime, channel) -> dict:
    """Make, submit and check every template config.yml names, in every served language."""
    settings, translator = runtime.settings, runtime.translator
    texts = service_templates(settings)
    result: dict = {"made": 0, "existing": 0, "approved": 0, "waiting": 0, "rejected": [], "failed": [],
                    "unknown": sorted(name for name in settings.templates if name not in texts)}
    placeholders = settings.placeholders()
    samples_of = {**SAMPLES, "program": settings.program.name}
    with runtime.session() as session:  # read first: the Content API calls below write rows of their own
        known = {(row.name, row.language): (row.content_sid, row.body_key, row.status, row.rejection_reason)
                 for row in session.scalars(select(WhatsAppTemplate))}
    for name in sorted(n for n in settings.templates if n in texts):
        template = texts[name]
        for language in settings.languages.all:
            variables = {placeholder: "{{" + number + "}}" for placeholder, number in template.variables.items()}
            body = translator.text(template.text, language, **{**placeholders, **variables})
            button = (template.button[0], translator.text(template.button[1], language)) if template.button else None
            samples = {number: samples_of.get(placeholder, placeholder)
                       for placeholder, number in template.variables.items()}
            request = twilio_templates.template_request(name, language, body, button, samples)
            before = known.get((name, language))
            try:
                if before is not None and before[1] == request.key:
                    sid, status, reason = before[0], before[2], before[3]
                    if status in twilio_templates.WAITING:
                        status, reason = twilio_templates.approval(channel.client, sid)
                    result["existing"] += 1
                else:
                    sid, _made = channel.contents.ensure(request)
                    status, reason = twilio_templates.submit(channel.client, sid, name, language)
                    result["made"] += 1
            except FAILURES as error:
                result["failed"].append({"template": name, "language": language,
                                         "error": str(getattr(error, "code", "") or type(error).__name__)})
                continue
            with runtime.session() as session:
                twilio_templates.record(session, name, language, request, sid, status, reason)
                session.commit()
            if status == "approved":
                result["approved"] += 1
            elif status in ("rejected", "paused", "disabled"):
                result["rejected"].append({"template": name, "language": language, "status": status,
                                           "reason": reason or ""})
            else:
                result["waiting"] += 1
    runtime.merge_approved_templates()
    return result


@group.command("templates")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def templates(as_json: bool):
    """Each template and language: its Content SID, WhatsApp's approval state and any rejection reason."""
    runtime = current_app.extensions["dda"]
    settings = runtime.settings
    with runtime.session() as session:
        known = {(row.name, row.language): row for row in session.scalars(select(WhatsAppTemplate))}
    rows = []
    for name in sorted(settings.templates):
        for language in settings.languages.all:
            row = known.get((name, language))
            configured = (settings.templates.get(name) or {}).get(language)
            rows.append({"template": name, "language": language,
                         "content_sid": (row.content_sid if row else None) or configured,
                         "status": row.status if row else ("configured" if configured else "missing"),
                         "reason": (row.rejection_reason if row else None) or ""})
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(f"{row['template']:<28} {row['language']:<3} {row['status']:<11} {row['content_sid'] or '-'}"
                   + (f"  ({row['reason']})" if row["reason"] else ""))
