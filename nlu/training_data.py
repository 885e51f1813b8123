"""Reading training and test data in Rasa's nlu.yml format.

Examples may carry Rasa's entity markup (`[dentist](care_type)` or `[x]{"entity": ...}`);
the classifier learns from the plain text, and the entities are kept for later use.
Synonym, lookup and regex blocks are read, not refused, so files written for Rasa load here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# libyaml when the wheel has it: reading every training file is part of each start.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ENTITY = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<name>[^)]+)\)|\{(?P<json>[^}]*)\})")


class TrainingDataError(ValueError):
    pass


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    language: str
    entities: tuple[tuple[str, str, int, int], ...] = ()  # (entity, value, start, end)


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # variant -> canonical
    lookups: dict[str, list[str]] = field(default_factory=dict)


def strip_markup(text: str) -> tuple[str, tuple]:
    entities, plain, last = [], [], 0
    for match in ENTITY.finditer(text):
        plain.append(text[last:match.start()])
        start = sum(len(p) for p in plain)
        value = match.group("text")
        plain.append(value)
        name = match.group("name") or _entity_from_json(match.group("json"))
        entities.append((name, value, start, start + len(value)))
        last = match.end()
    plain.append(text[last:])
    return "".join(plain), tuple(entities)


def _entity_from_json(raw: str | None) -> str:
    found = re.search(r'"entity"\s*:\s*"([^"]+)"', raw or "")
    return found.group(1) if found else "entity"


def _items(block: str | list | None) -> list[str]:
    if isinstance(block, list):
        return [str(item) for item in block]
    lines = (block or "").splitlines()
    return [line.strip()[2:].strip() for line in lines if line.strip().startswith("- ")]


def read_nlu_file(path: Path, language: str | None = None, into: TrainingData | None = None) -> TrainingData:
    data = into or TrainingData()
    language = language or path.stem
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
    except yaml.YAMLError as error:
        raise TrainingDataError(f"{path}: not valid YAML: {error}") from None
    for number, block in enumerate(document.get("nlu") or [], 1):
        if not isinstance(block, dict):
            raise TrainingDataError(f"{path}: item {number} of nlu must be a mapping")
        if "intent" in block:
            for raw in _items(block.get("examples")):
                text, entities = strip_markup(raw)
                if text.strip():
                    data.examples.append(Example(text=text, intent=str(block["intent"]), language=language,
                                                 entities=entities))
        elif "synonym" in block:
            for variant in _items(block.get("examples")):
                data.synonyms[variant.casefold()] = str(block["synonym"])
        elif "lookup" in block:
            data.lookups.setdefault(str(block["lookup"]), []).extend(_items(block.get("examples")))
        elif "regex" in block:
            continue
        else:
            raise TrainingDataError(f"{path}: item {number} is not an intent, synonym, lookup or regex block")
    return data


def read_folder(folder: Path) -> TrainingData:
    data = TrainingData()
    for path in sorted(folder.glob("*.yml")):
        read_nlu_file(path, into=data)
    return data
