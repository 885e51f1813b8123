"""Reading the editors' YAML files (flows, referral content) so that every mistake reads like a
guide: where it is (`file:line`), what is wrong and how to fix it, once, in file and line order.

PyYAML on its own is no help to an editor here: it silently keeps the last of two identical keys
(one of the two texts just vanishes), and a tab gives "found character '\\t' that cannot start any
token". This loader refuses duplicate keys by name and finds every tab before parsing, and each
mapping remembers the line of itself and of its keys so the checks can point at them.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

META = {"__line__", "__keys__"}
_LOCATION = re.compile(r"^(?P<path>.*?):(?P<line>\d+): ")


class DuplicateKey(yaml.constructor.ConstructorError):
    """A key written twice in one mapping: with PyYAML's default the first text would be lost."""


class _LineLoader(yaml.CSafeLoader):
    """Remembers the line of every mapping and its keys; refuses a key written twice."""


def _construct_mapping(loader, node, deep=False):
    seen: dict = {}
    for key_node, _value in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        key, line = key_node.value, key_node.start_mark.line + 1
        if key in seen:
            raise DuplicateKey(None, None, f"the key '{key}' is written twice in the same place (first on line "
                                           f"{seen[key]}): keep one of them and delete the other, or rename it",
                               key_node.start_mark)
        seen[key] = line
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    mapping["__line__"] = node.start_mark.line + 1
    mapping["__keys__"] = dict(seen)
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def line_of(mapping: dict, key: str) -> int:
    """The line where `key` is written in `mapping`, or where the mapping starts."""
    return mapping.get("__keys__", {}).get(key, mapping.get("__line__", 1))


def tab_problems(path: Path | str, text: str) -> list[str]:
    """Every line with a tab outside a quoted text: YAML indents with spaces only."""
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        before_quote = re.split(r"""['"#]""", line, maxsplit=1)[0]
        if "\t" in before_quote:
            problems.append(f"{path}:{number}: there is a tab character on this line; YAML files may only be "
                            f"indented with spaces: replace the tab with spaces (as many as the lines around it)")
    return problems


def load_text(path: Path | str, text: str) -> tuple[object, list[str]]:
    """The parsed document, or None and the problems that stop reading it."""
    tabs = tab_problems(path, text)
    if tabs:
        return None, tabs
    try:
        return yaml.load(text, Loader=_LineLoader), []
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        if isinstance(error, DuplicateKey):
            return None, [f"{path}:{line}: {error.problem}"]
        return None, [f"{path}:{line}: this is not valid YAML ({getattr(error, 'problem', error)}); look for a "
                      f"missing quote or colon, or a line indented differently from the lines around it"]


def read_yaml_mapping(path: Path, expected: str, text: str | None = None) -> tuple[dict | None, list[str]]:
    """A YAML file (or its `text`, as a release holds it, named `path`) whose mappings remember
    their lines, or the problems that stop reading it."""
    try:
        text = path.read_text(encoding="utf-8") if text is None else text
    except UnicodeDecodeError:
        return None, [f"{path}:1: not UTF-8 text: save the file as UTF-8"]
    data, problems = load_text(path, text)
    if problems:
        return None, problems
    if not isinstance(data, dict):
        return None, [f"{path}:1: {expected}"]
    return data, []


def plain(data):
    """The document without the line bookkeeping, as it would be written back."""
    if isinstance(data, dict):
        return {key: plain(value) for key, value in data.items() if key not in META}
    if isinstance(data, list):
        return [plain(value) for value in data]
    return data


def in_order(problems: list[str]) -> list[str]:
    """Each problem once, by file and then by line number (line 10 after line 9, not after 1)."""
    def key(problem: str):
        match = _LOCATION.match(problem)
        return (match["path"], int(match["line"])) if match else ("", 0)

    return sorted(dict.fromkeys(problems), key=key)
