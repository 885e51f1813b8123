"""Inbound messages: stored once on arrival, then processed one at a time per person."""
