"""The `handoff` action: a flow step, a request for a human, repeated misunderstanding or an
urgent word puts the conversation in the helpdesk queue, and the person is told what to
expect: a wait while helpers are working, or when they are."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.actions import ActionContext, Actions, Choices
from bot.i18n import N_
from bot.messages import Reply
from handoff.hours import describe, is_open, next_opening, weekday_and_time
from handoff.tickets import open_ticket
from store.conversation import Conversation
from store.models import Message, Ticket, utcnow

TOLD_OPEN = N_("I have asked a person from our team to help you. They will answer here, in this chat, usually "
               "within {minutes} minutes. You do not need to do anything.")
TOLD_CLOSED = N_("I have asked a person from our team to help you. Our helpers work at these times: {hours}. "
                 "They will answer here, in this chat, as soon as they are back.")
TOLD_URGENT = N_("If you are in danger now, call 112 (free). A person from our team will answer you here as soon "
                 "as possible.")
HELPLINES = {  # helpdesk.urgent_helplines names a line per topic
    "violence": N_("Violence at home, abuse, or a child in danger: call {name} on {number} (free, day and night)."),
    "suicide": N_("If you think of ending your life: call {name} on {number} (free, day and night)."),
}
URGENT = "urgent"
REACHED_OPEN = N_("Your message has reached our team. Our helpers are working now and will answer you here.")
REACHED_CLOSED = N_("Your message has reached our team. Our helpers are not working right now. They work {hours}, "
                    "and will answer you here from {next_opening}.")
ACKNOWLEDGED = "_acknowledged"  # slot: [ticket id, when the person was last told their message arrived]


def handoff(context: ActionContext[Conversation]) -> str:
    conversation = context.host
    helpdesk = conversation.runtime.settings.helpdesk
    reason = str(context.value or "asked")
    open_ticket(conversation.session, conversation.contact, reason=reason, language=context.profile.language,
                priority=2 if reason == URGENT else 0)
    context.profile.in_handoff = True
    if reason == URGENT:
        _tell_urgent(context, helpdesk.urgent_helplines)
    if is_open(helpdesk.hours, helpdesk.timezone, utcnow()):
        context.say(TOLD_OPEN, minutes=str(helpdesk.expected_wait_minutes))
    else:
        context.say(TOLD_CLOSED, hours=describe(helpdesk.hours, context.profile.language))
    return "ok"


def handoff_acknowledge(context: ActionContext[Conversation]) -> str:
    """While a person from the team has the chat: the first message after the hand-over, and the
    first after a quiet time with no word from the team, hear that it arrived and when helpers
    work. Outcome: told, or quiet (the team wrote or the bot told them recently: nothing to add)."""
    conversation = context.host
    session, contact, helpdesk = conversation.session, conversation.contact, conversation.runtime.settings.helpdesk
    ticket = session.scalar(select(Ticket).where(Ticket.contact_id == contact.id, Ticket.status == "open"))
    if ticket is None:
        return "quiet"
    now = utcnow()
    helper_wrote = session.scalar(select(func.max(Message.created_at)).where(
        Message.contact_id == contact.id, Message.direction == "out", Message.sender == "agent",
        Message.created_at >= ticket.created_at))
    told = context.slots.get(ACKNOWLEDGED)
    last_told = datetime.fromisoformat(told[1]) if told and told[0] == ticket.id else None
    latest = max((_aware(moment) for moment in (helper_wrote, last_told) if moment), default=None)
    if latest is not None and now - latest < timedelta(minutes=helpdesk.acknowledge_quiet_minutes):
        return "quiet"
    context.slots[ACKNOWLEDGED] = [ticket.id, now.isoformat()]
    language = context.profile.language
    opening = next_opening(helpdesk.hours, helpdesk.timezone, now)
    if is_open(helpdesk.hours, helpdesk.timezone, now) or opening is None:
        context.say(REACHED_OPEN)
    else:
        context.say(REACHED_CLOSED, hours=describe(helpdesk.hours, language),
                    next_opening=weekday_and_time(opening, language))
    return "told"


def _aware(moment: datetime) -> datetime:
    """SQLite hands back times without their zone; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _tell_urgent(context: ActionContext[Conversation], helplines) -> None:
    """112 and the helplines the program names, in one message: the first thing the person reads."""
    translate = context.host.runtime.translator.text
    language = context.profile.language
    lines = [translate(TOLD_URGENT, language)]
    lines += [translate(HELPLINES[line.topic], language, name=line.name, number=line.number) for line in helplines]
    context.turn.replies.append(Reply(text="\n\n".join(lines)))


def register(actions: Actions[Conversation], choices: Choices[Conversation]) -> None:
    actions.add("handoff", handoff)
    actions.add("handoff_acknowledge", handoff_acknowledge)
