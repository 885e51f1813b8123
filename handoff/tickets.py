"""Opening and closing helpdesk tickets; one open ticket per person at a time."""
from __future__ import annotations

from sqlalchemy import select

from store.models import Ticket, utcnow


def open_ticket(session, contact, reason: str, language: str | None, priority: int = 0) -> Ticket:
    ticket = session.scalar(select(Ticket).where(Ticket.contact_id == contact.id, Ticket.status == "open"))
    if ticket is None:
        ticket = Ticket(contact_id=contact.id, reason=reason, language=language, priority=priority)
        session.add(ticket)
        session.flush()
    elif priority > ticket.priority:  # danger during a handoff: the open ticket becomes urgent, first in the queue
        ticket.priority, ticket.reason = priority, reason
    return ticket


def close_ticket(session, ticket: Ticket, outcome: str = "resolved") -> None:
    ticket.status, ticket.outcome = "closed", outcome
    ticket.open_marker = None
    ticket.closed_at = utcnow()


def queue(session) -> list[Ticket]:
    return list(session.scalars(select(Ticket).where(Ticket.status == "open")
                                .order_by(Ticket.priority.desc(), Ticket.created_at)))
