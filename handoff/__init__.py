"""Handing a conversation to a person: tickets and the helpdesk queue."""
