"""The `handoff` action: a flow step, a request for a human or repeated misunderstanding
puts the conversation in the helpdesk queue and tells the person a person will answer."""
from __future__ import annotations

from bot.actions import ACTIONS, ActionContext
from bot.i18n import N_
from handoff.tickets import open_ticket

TOLD = N_("I have asked a person from our team to help you. They will answer here, in this chat. "
          "Please wait, you do not need to do anything.")


@ACTIONS.register("handoff")
def handoff(context: ActionContext) -> str:
    conversation = context.host
    open_ticket(conversation.session, conversation.contact, reason=str(context.value or "asked"),
                language=context.profile.language)
    context.profile.in_handoff = True
    context.say(TOLD)
    return "ok"
