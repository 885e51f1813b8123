"""Named actions: the only way a flow changes anything outside the conversation.

Capabilities (language, handoff, privacy, vouchers…) register their actions here; `flask
flows check` refuses a flow that names an action nobody registered.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


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


class Actions:
    def __init__(self) -> None:
        self._actions: dict[str, Callable[[ActionContext], str | None]] = {}

    def register(self, name: str):
        def decorate(function):
            if name in self._actions:
                raise ValueError(f"action {name!r} registered twice")
            self._actions[name] = function
            return function
        return decorate

    def names(self) -> set[str]:
        return set(self._actions)

    def run(self, name: str, context: ActionContext) -> str | None:
        return self._actions[name](context)


ACTIONS = Actions()
# Named lists a `choose` step offers: each returns the Options for this moment (regions,
# offers…), so the choices can come from content rather than from the flow file.
CHOICES = Actions()
