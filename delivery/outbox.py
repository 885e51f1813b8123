"""Writing replies to the outbox, inside the caller's transaction."""
from __future__ import annotations

from bot.messages import Reply
from store.models import Contact, Message, OutboxItem


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


def queue_replies(session, settings, contact: Contact, replies: list[Reply], *, sender: str = "bot",
                  queue: str = "replies", flush: bool = True) -> list[OutboxItem]:
    items = []
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
