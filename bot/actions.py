"""Named actions: the only way a flow changes anything outside the conversation.

Capabilities (language, handoff, privacy, vouchers…) register their actions here; `flask
flows check` refuses a flow that names an action nobody registered.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bot.messages import Option

R = TypeVar("R")


@dataclass
class ActionContext:
    turn: Any            # bot.engine.Turn: state, profile and replies so far
    host: Any            # whatever the host passed in: storage, settings
    value: Any           # the value of the option or step that called the action
    say: Callable[..., None]

    @property
    def slots(self) -> dict:
        return self.turn.state.slots

    @property
    def profile(self):
        return self.turn.profile


class Registry(Generic[R]):
    """Named functions a flow may call: actions (their outcome steers the flow) or lists of
    choices (what a `choose` step offers)."""

    def __init__(self) -> None:
        self._functions: dict[str, Callable[[ActionContext], R]] = {}

    def register(self, name: str) -> Callable[[Callable[[ActionContext], R]], Callable[[ActionContext], R]]:
        def decorate(function: Callable[[ActionContext], R]) -> Callable[[ActionContext], R]:
            if name in self._functions:
                raise ValueError(f"{name!r} registered twice")
            self._functions[name] = function
            return function
        return decorate

    def names(self) -> set[str]:
        return set(self._functions)

    def run(self, name: str, context: ActionContext) -> R:
        return self._functions[name](context)


Actions = Registry[str | None]
Choices = Registry[list[Option]]


ACTIONS = Actions()
# Named lists a `choose` step offers: each returns the Options for this moment (regions,
# offers…), so the choices can come from content rather than from the flow file.
CHOICES = Choices()
