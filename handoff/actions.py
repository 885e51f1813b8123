"""The `handoff` action: a flow step, a request for a human, repeated misunderstanding or an
urgent word puts the conversation in the helpdesk queue, and the person is told what to
expect: a wait while helpers are working, or when they are."""
from __future__ import annotations

from bot.actions import ActionContext, Actions, Choices
from bot.i18n import N_
from bot.messages import Reply
from handoff.hours import describe, is_open
from handoff.tickets import open_ticket
from store.conversation import Conversation
from store.models import utcnow

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


def _tell_urgent(context: ActionContext[Conversation], helplines) -> None:
    """112 and the helplines the program names, in one message: the first thing the person reads."""
    translate = context.host.runtime.translator.text
    language = context.profile.language
    lines = [translate(TOLD_URGENT, language)]
    lines += [translate(HELPLINES[line.topic], language, name=line.name, number=line.number) for line in helplines]
    context.turn.replies.append(Reply(text="\n\n".join(lines)))


def register(actions: Actions[Conversation], choices: Choices[Conversation]) -> None:
    actions.add("handoff", handoff)
