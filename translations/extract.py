"""A Babel extractor for flow files, so `pybabel extract` finds the texts in flows/*.yml.

Registered as the `flows` extraction method (pyproject.toml, babel.cfg). Each text gets a
comment naming its flow and step, which is what a translator needs to see it in context.
"""
from __future__ import annotations

from pathlib import Path

from bot.flows import _parse_flow, read_flow_file


def extract_flows(fileobj, keywords, comment_tags, options):
    path = Path(getattr(fileobj, "name", "flow.yml"))
    data, errors = read_flow_file(path)
    if data is None:
        return
    flow = _parse_flow(path, data, [])
    if flow is None:
        return
    for text, line, where in flow.texts():
        yield line, "_", text, [where]
