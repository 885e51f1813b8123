"""Releases of what the bot says: flows and their texts, checked as a whole and numbered."""
