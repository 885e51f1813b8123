"""Writing replies to the outbox, inside the caller's transaction."""
from __future__ import annotations

from dataclasses import replace

from bot.menus import BODY, layout
from bot.messages import Reply
from store.models import Contact, Message, OutboxItem

PARAGRAPH = "\n\n"


def split_text(text: str, limit: int) -> list[str]:
    """Cut a long text into parts of at most `limit` characters, at a paragraph, line or
    word boundary where there is one, so each part reads on its own."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), -1)
        if cut < limit // 2:
            cut = window.rfind("\n")
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _plain(reply: Reply) -> bool:
    """Only text: no buttons, picture, map pin or tag (a tag makes delivery act on that message)."""
    return not (reply.options or reply.media_url or reply.location or reply.tag) and bool(reply.text.strip())


def _joined(texts: list[str]) -> str:
    return PARAGRAPH.join(text.strip() for text in texts if text.strip())


def _menu_fits(text: str, menu: Reply, max_body: int) -> bool:
    """`menu` with `text` as its words keeps the form a person would have seen (buttons or list
    within WhatsApp's 1,024 characters above them) and, as numbered text, fits one message."""
    candidate = replace(menu, text=text)
    if len(candidate.rendered()) > max_body:
        return False
    options = [option.to_dict() for option in menu.options]
    was_interactive = layout(menu.text, options) is not None
    return not was_interactive or (len(text.strip()) <= BODY and layout(text, options) is not None)


def compose(replies: list[Reply], max_body: int) -> list[Reply]:
    """A turn's replies as few WhatsApp messages as its limits allow, in the same order.

    Every message costs the person a notification, and a first contact used to be six of them
    (language note, welcome, safety line, about, privacy, consent question): at thirty first
    contacts a second that is 180 messages against a sender limit of 70-80 a second, so people
    waited. Consecutive plain texts become one message, paragraphs apart, up to `max_body`
    (Twilio's body limit); the texts just before a menu go into the menu's own words while they
    stay within WhatsApp's 1,024 characters above buttons or a list (filled from the menu
    backwards, so what is left over is as short as can be). A picture, a map pin or a tagged
    message (its delivery status acts on it: a voucher is claimed when it arrives) is never
    joined with anything."""
    composed: list[Reply] = []
    run: list[str] = []  # plain texts not yet placed

    def flush(texts: list[str]) -> None:
        group: list[str] = []
        for text in texts:
            if group and len(_joined([*group, text])) > max_body:
                composed.append(Reply(text=_joined(group)))
                group = []
            group.append(text)
        if group:
            composed.append(Reply(text=_joined(group)))

    for reply in replies:
        if _plain(reply):
            run.append(reply.text)
            continue
        if reply.options and not (reply.media_url or reply.location or reply.tag):
            taken = 0
            while taken < len(run) and _menu_fits(_joined([*run[len(run) - taken - 1:], reply.text]), reply,
                                                    max_body):
                taken += 1
            if taken:
                reply = replace(reply, text=_joined([*run[len(run) - taken:], reply.text]))
                run = run[:len(run) - taken]
        flush(run)
        run = []
        composed.append(reply)
    flush(run)
    return composed


def queue_replies(session, settings, contact: Contact, replies: list[Reply], *, sender: str = "bot",
                  queue: str = "replies", flush: bool = True) -> list[OutboxItem]:
    """One outbox row per message, in order. The bot's replies of one turn are composed into as
    few messages as WhatsApp allows (`compose`). A volunteer's (`sender="agent"`) are not: each is
    something a person wrote and sent, and the helpdesk shows the conversation as they sent it.
    Replies of different calls are never joined either: each call is its own moment in the
    conversation, and its rows may already be on their way."""
    items = []
    if sender == "bot":
        replies = compose(replies, settings.delivery.max_body_chars)
    for reply in replies:
        bodies = split_text(reply.rendered(), settings.delivery.max_body_chars) or [""]
        options = [option.to_dict() for option in reply.options] or None
        for number, body in enumerate(bodies):
            last = number == len(bodies) - 1
            message = Message(contact_id=contact.id, direction="out", kind="media" if reply.media_url else "text",
                              body=body, media_url=reply.media_url if last else None,
                              options=options if last else None, sender=sender, status="pending",
                              language=contact.language if options and last else None,
                              location=reply.location.to_dict() if reply.location and last else None,
                              tag=reply.tag if last else None)
            item = OutboxItem(message=message, queue=queue)
            session.add_all([message, item])
            items.append(item)
    if flush:  # callers that queue for many people at once leave it to their commit
        session.flush()
    return items
