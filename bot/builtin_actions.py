"""Actions that change only the person's profile; the host stores the profile after the turn."""
from __future__ import annotations

from typing import Any, Protocol

from bot.actions import ActionContext, Actions, Choices


class Erasable(Protocol):
    """A host that can erase the person once the turn is committed."""

    erase: bool


def set_language(context: ActionContext[Any]) -> str:
    context.profile.language = str(context.value)
    return "ok"


def opt_out(context: ActionContext[Any]) -> str:
    context.profile.opted_out = True
    return "ok"


def opt_in(context: ActionContext[Any]) -> str:
    context.profile.opted_out = False
    return "ok"


def erase_data(context: ActionContext[Erasable]) -> str:
    """The host erases after the turn, keeping only the confirmation until it is delivered."""
    context.host.erase = True
    return "ok"


def pending_flow(context: ActionContext[Any]) -> str | None:
    """The flow the first message asked for, once the welcome is done (outcome = its name),
    with the meaning that asked for it."""
    intent = context.slots.pop("_pending_intent", None)
    if intent:
        context.slots["_intent"] = intent
    pending: str | None = context.slots.pop("_pending", None)
    return pending


def register(actions: Actions[Any], choices: Choices[Any]) -> None:
    actions.add("set_language", set_language)
    actions.add("opt_out", opt_out)
    actions.add("opt_in", opt_in)
    actions.add("erase_data", erase_data)
    actions.add("pending_flow", pending_flow)
