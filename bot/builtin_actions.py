"""Actions that change only the person's profile; the host stores the profile after the turn."""
from __future__ import annotations

from bot.actions import ACTIONS, ActionContext


@ACTIONS.register("set_language")
def set_language(context: ActionContext) -> str:
    context.profile.language = str(context.value)
    return "ok"


@ACTIONS.register("opt_out")
def opt_out(context: ActionContext) -> str:
    context.profile.opted_out = True
    return "ok"


@ACTIONS.register("opt_in")
def opt_in(context: ActionContext) -> str:
    context.profile.opted_out = False
    return "ok"


@ACTIONS.register("erase_data")
def erase_data(context: ActionContext) -> str:
    """The host erases after the turn, keeping only the confirmation until it is delivered."""
    context.host.erase = True
    return "ok"


@ACTIONS.register("pending_flow")
def pending_flow(context: ActionContext) -> str | None:
    """The flow the first message asked for, once the welcome is done (outcome = its name),
    with the meaning that asked for it."""
    intent = context.slots.pop("_pending_intent", None)
    if intent:
        context.slots["_intent"] = intent
    return context.slots.pop("_pending", None)
