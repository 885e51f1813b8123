"""The dialogue engine: flows, state and turns. Knows no web framework and no transport."""
