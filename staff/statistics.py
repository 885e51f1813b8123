"""Editors' statistics: per flow step, how many times people reached it, where they stopped
answering, where the bot did not understand them and where the chat went to a person, per
language, so an editor sees which text confuses people.

Read from the step counts (inbox/step_counts.py), which hold counts only; the chart is SVG drawn
here on the server, so it passes the staff pages' Content-Security-Policy without a script.
"""
from __future__ import annotations

from datetime import timedelta

from babel.numbers import format_percent
from flask import Blueprint, current_app, render_template, request
from sqlalchemy import func, select

from inbox.step_counts import ANSWERED, ENDED, HANDOFF, NOT_UNDERSTOOD, REACHED
from staff.auth import role_required
from store.models import StepCount, utcnow
from translations.editing import read_flows

VIEWERS = ("admin", "editor", "supervisor")
PERIODS = {"7": 7, "30": 30, "90": 90, "all": None}
WAITING_KINDS = ("ask", "menu", "choose")
SPEAKING = (*WAITING_KINDS, "say", "handoff")
SERIES = ((REACHED, "Reached"), (NOT_UNDERSTOOD, "Not understood"), (HANDOFF, "To a person"))
# Chart geometry in SVG user units (the viewBox scales it to the page).
LABEL_WIDTH, PLOT_WIDTH, BAR, GAP, ROW_GAP, TOP = 190, 420, 7, 1, 10, 8
OUTSIDE = {"": "(outside a flow)", "did_you_mean": "(Did you mean…?)"}  # where the bot is between flows
CONFUSING = 0.2  # a step where one reach in five is not understood stands out

blueprint = Blueprint("statistics", __name__, url_prefix="/statistics")


def _counts(session, since, language: str | None) -> tuple[dict, dict]:
    """{(flow, step): {event: n}} and {language: {event: n}} for the period and language."""
    query = select(StepCount.flow, StepCount.step, StepCount.event, func.sum(StepCount.count))
    by_language = select(StepCount.language, StepCount.event, func.sum(StepCount.count))
    if since is not None:
        query, by_language = query.where(StepCount.day >= since), by_language.where(StepCount.day >= since)
    if language is not None:
        query = query.where(StepCount.language == language)
    steps: dict[tuple[str, str], dict[str, int]] = {}
    for flow, step, event, total in session.execute(query.group_by(StepCount.flow, StepCount.step, StepCount.event)):
        steps.setdefault((flow, step), {})[event] = int(total or 0)
    languages: dict[str, dict[str, int]] = {}
    for code, event, total in session.execute(by_language.group_by(StepCount.language, StepCount.event)):
        languages.setdefault(code, {})[event] = int(total or 0)
    return steps, languages


def _row(flow: str, step: str, kind: str, counts: dict[str, int]) -> dict:
    reached = counts.get(REACHED, 0)
    stopped = max(0, reached - counts.get(ANSWERED, 0)) if kind in WAITING_KINDS else 0
    confused = counts.get(NOT_UNDERSTOOD, 0)
    rate = confused / reached if reached else (1.0 if confused else 0.0)
    return {"id": f"{flow}-{step}", "flow": flow, "step": OUTSIDE.get(step, step), "kind": kind, "reached": reached,
            "answered": counts.get(ANSWERED, 0), "stopped": stopped, "ended": counts.get(ENDED, 0),
            "not_understood": confused, "handoff": counts.get(HANDOFF, 0),
            "rate": format_percent(rate, "#,##0 %", locale="en"), "confusing": rate >= CONFUSING and confused > 0}


def _chart(rows: list[dict]) -> dict:
    """Grouped horizontal bars: per step, how often reached, not understood and handed over."""
    top = max((row[key] for row in rows for key, _ in SERIES), default=0) or 1
    group = len(SERIES) * (BAR + GAP) + ROW_GAP
    bars = []
    for i, row in enumerate(rows):
        y0 = TOP + i * group
        for j, (key, name) in enumerate(SERIES):
            bars.append({"key": key, "name": name, "value": row[key], "x": LABEL_WIDTH,
                         "y": y0 + j * (BAR + GAP), "width": round(PLOT_WIDTH * row[key] / top, 1)})
    labels = [{"text": f"{row['flow']} › {row['step']}" if row["flow"] else row["step"],
               "y": TOP + i * group + (len(SERIES) * (BAR + GAP)) / 2 + 4} for i, row in enumerate(rows)]
    return {"width": LABEL_WIDTH + PLOT_WIDTH + 50, "height": TOP * 2 + len(rows) * group, "x0": LABEL_WIDTH,
            "label_x": LABEL_WIDTH - 6, "bar": BAR, "bars": bars, "labels": labels, "series": SERIES}


@blueprint.get("/")
@role_required(*VIEWERS)
def index():
    runtime = current_app.extensions["dda"]
    codes = runtime.settings.languages.all
    period = request.args.get("period", "30")
    period = period if period in PERIODS else "30"
    language = request.args.get("language") or None
    language = language if language in codes else None
    days = PERIODS[period]
    since = None if days is None else utcnow().date() - timedelta(days=days - 1)
    with runtime.session() as session:
        counts, languages = _counts(session, since, language)
    flows = read_flows(runtime.settings.content.flows)
    rows = []
    for name, flow in flows.items():
        for step in flow.steps.values():
            found = counts.pop((name, step.id), None)
            # Steps that say nothing (branch, set, goto, action) only matter when something happened there.
            if found and (step.kind in SPEAKING or found.get(NOT_UNDERSTOOD) or found.get(HANDOFF)):
                rows.append(_row(name, step.id, step.kind, found))
    for (name, step), found in sorted(counts.items()):  # outside a flow, or a step since renamed
        rows.append(_row(name, step, "", found))
    confusing = sorted((row for row in rows if row["not_understood"] or row["handoff"]),
                       key=lambda row: (-(row["not_understood"] + row["handoff"]), row["flow"], row["step"]))[:12]
    per_language = [{"code": code or "unknown", **{key: found.get(key, 0) for key in
                                                  (REACHED, NOT_UNDERSTOOD, HANDOFF, ENDED)}}
                    for code, found in sorted(languages.items())]
    return render_template("staff/statistics.html", rows=rows, chart=_chart(confusing) if confusing else None,
                           periods=list(PERIODS), period=period, languages=codes, language=language,
                           per_language=per_language)
