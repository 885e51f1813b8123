"""How a menu is shown on WhatsApp: reply buttons, a list picker, or numbered text.

Many people this service is for read little: tapping beats reading a numbered list and typing a
number. WhatsApp shows at most three reply buttons (titles of 20 characters) and lists of at most
ten rows (titles of 24 characters, a description of 72), under a body of at most 1,024
characters. One function decides the form for every menu, so the Twilio adapter, the simulator,
`flask chat` and `flask flows check` agree on what a person sees. A menu that fits neither form
stays numbered text, which every channel can show.
"""
from __future__ import annotations

from dataclasses import dataclass

from bot.i18n import N_

MAX_BUTTONS = 3
MAX_ROWS = 10
BUTTON_TITLE = 20
ROW_TITLE = 24
ROW_DESCRIPTION = 72
BODY = 1024
# NOTE: on WhatsApp, the button that opens a list of choices (20 characters at most)
LIST_BUTTON = N_("Choose")
ELLIPSIS = "…"


@dataclass(frozen=True)
class Item:
    id: str  # comes back as ButtonPayload (buttons) or ListId (list rows)
    title: str
    description: str = ""


@dataclass(frozen=True)
class Layout:
    kind: str  # buttons | list
    body: str
    items: tuple[Item, ...]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + ELLIPSIS


def layout(body: str, options: list[dict]) -> Layout | None:
    """The interactive form of a menu (options as {payload, label, short?}), or None for
    numbered text: no body, a body too long, or more than ten options.

    Buttons when there are at most three, every title fits and no two are the same; otherwise a list, whose row
    shows the short label (or the label) and, when that is not the whole label, the label as
    its description. A label a list cannot hold is cut with "…" and written out in the
    description: `flask flows check` keeps the flows' own labels within the limits, so this
    only happens to lists from content."""
    body = body.strip()
    if not options or not body or len(body) > BODY or len(options) > MAX_ROWS:
        return None
    titles = [(option.get("short") or option["label"]).strip() for option in options]
    if len(options) <= MAX_BUTTONS and all(0 < len(title) <= BUTTON_TITLE for title in titles) \
            and len(set(titles)) == len(titles):  # WhatsApp refuses two buttons with one title
        return Layout("buttons", body, tuple(Item(o["payload"], t) for o, t in zip(options, titles, strict=True)))
    items = []
    for option, title in zip(options, titles, strict=True):
        label = option["label"].strip()
        description = label if label != title or len(title) > ROW_TITLE else ""
        items.append(Item(option["payload"], _clip(title, ROW_TITLE), _clip(description, ROW_DESCRIPTION)))
    return Layout("list", body, tuple(items))


def too_long(count: int, title: str, label: str) -> tuple[str, int] | None:
    """For `flask flows check`: what of one option of a menu of `count` options breaks a limit
    (what, limit), or None. Menus of more than ten options are numbered text: no limit."""
    if count > MAX_ROWS:
        return None
    if count <= MAX_BUTTONS and len(title) > BUTTON_TITLE:
        return "button title", BUTTON_TITLE
    if count > MAX_BUTTONS and len(title) > ROW_TITLE:
        return "list row title", ROW_TITLE
    if count > MAX_BUTTONS and title != label and len(label) > ROW_DESCRIPTION:
        return "list row description (the full label)", ROW_DESCRIPTION
    return None
