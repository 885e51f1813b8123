"""Counting where conversations go, for editors: which step people reach, where they stop, where
the bot did not understand them and where the chat went to a person.

Only counts are kept, per day, flow step, language and event, in the same transaction as the
turn: no contact, no message text, nothing finer than the day (privacy: the statistics must not
become a record of a person's path). Test people (the simulator, `flask chat`) are not counted.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import bindparam, text

from bot.engine import State, Turn
from store.models import StepCount, utcnow

REACHED, ANSWERED, ENDED, NOT_UNDERSTOOD, HANDOFF = "reached", "answered", "ended", "not_understood", "handoff"
EVENTS = (REACHED, ANSWERED, ENDED, NOT_UNDERSTOOD, HANDOFF)


def events_of(before: State, turn: Turn) -> list[tuple[str, str, str]]:
    """(flow, step, event) for one turn: `before` is where the person was when they wrote."""
    waiting = (before.flow or "", before.step or "")  # ("", "did_you_mean"): the bot's "Did you mean" question
    found: list[tuple[str, str, str]] = []
    moved_on = (turn.state.flow, turn.state.step) != (before.flow, before.step) or bool(turn.visited)
    if before.flow and turn.handled_by == "bot" and moved_on:  # asked again is not answered: it stays reached once
        found.append((*waiting, ANSWERED))
    if turn.misunderstood:
        found.append((*waiting, NOT_UNDERSTOOD))
    for place in dict.fromkeys(turn.visited):  # a step run twice in one turn is reached once
        found.append((*place, REACHED))
    if turn.handoff:
        last = turn.visited[-1] if turn.visited and turn.handoff != "fallback" else waiting
        found.append((*last, HANDOFF))
    elif turn.visited and turn.state.flow is None and turn.handled_by == "bot":
        found.append((*turn.visited[-1], ENDED))
    return found


# The same upsert on PostgreSQL and SQLite, compiled once: it runs on every turn.
_COUNT = text("""
    INSERT INTO step_counts (day, flow, step, language, event, count)
    VALUES (:day, :flow, :step, :language, :event, 1)
    ON CONFLICT (day, flow, step, language, event) DO UPDATE SET count = step_counts.count + 1""").bindparams(
    bindparam("day", type_=StepCount.day.type))


def record_turn(session, before: State, turn: Turn, language: str | None, day: date | None = None) -> None:
    """Add one to each count this turn touched. Every worker's turn locks the same few rows (today's
    welcome, say), so they are taken in one order: two turns never wait on each other in a circle."""
    day = day or utcnow().date()
    rows = sorted({(flow[:64], step[:64], event) for flow, step, event in events_of(before, turn)})
    if rows:
        session.execute(_COUNT, [{"day": day, "flow": flow, "step": step, "language": (language or "")[:8],
                                  "event": event} for flow, step, event in rows])
