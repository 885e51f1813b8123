"""Outbound messages: the outbox, the workers that deliver it and the statuses that come back."""
