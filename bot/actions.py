"""Named actions: the only way a flow changes anything outside the conversation.

Each capability (language, handoff, privacy, vouchers…) offers a `register(actions, choices)`
function and the composition root (runtime.py) calls them all, so the names a flow may use are
listed in one place; `flask flows check` refuses a flow that names an action nobody registered.
`H` is what the host hands every action during a turn (the service passes its Conversation:
the open transaction, the person, the service's parts); the engine never looks inside it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bot.messages import Option

if TYPE_CHECKING:
    from bot.engine import Profile, Turn

H = TypeVar("H")
R = TypeVar("R")


@dataclass
class ActionContext(Generic[H]):
    turn: Turn           # state, profile and replies so far
    host: H              # what the host passed to Engine.handle
    value: Any           # the value of the option or step that called the action
    say: Callable[..., None]

    @property
    def slots(self) -> dict[str, Any]:
        return self.turn.state.slots

    @property
    def profile(self) -> Profile:
        return self.turn.profile


class Registry(Generic[H, R]):
    """Named functions a flow may call: actions (their outcome steers the flow) or lists of
    choices (what a `choose` step offers)."""

    def __init__(self) -> None:
        self._functions: dict[str, Callable[[ActionContext[H]], R]] = {}

    def add(self, name: str, function: Callable[[ActionContext[H]], R]) -> None:
        if name in self._functions:
            raise ValueError(f"{name!r} registered twice")
        self._functions[name] = function

    def names(self) -> set[str]:
        return set(self._functions)

    def run(self, name: str, context: ActionContext[H]) -> R:
        return self._functions[name](context)


class Actions(Registry[H, "str | None"]):
    """Actions: the outcome (a string or None) may choose the flow's next step."""


class Choices(Registry[H, list[Option]]):
    """Named lists a `choose` step offers: each returns the Options for this moment (regions,
    offers…), so the choices can come from content rather than from the flow file."""
