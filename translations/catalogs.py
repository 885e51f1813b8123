"""Reading the catalogs as data: which texts exist and how complete each language is."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

DIRECTORY = Path(__file__).resolve().parent
TEMPLATE = DIRECTORY / "messages.pot"


def catalog_path(language: str, directory: Path = DIRECTORY) -> Path:
    return directory / language / "LC_MESSAGES" / "messages.po"


def read_catalog(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


@lru_cache(maxsize=4)
def _known(template: Path, mtime_ns: int) -> frozenset[str]:
    return frozenset(message.id for message in read_catalog(template) if message.id)


def known_texts(directory: Path = DIRECTORY) -> frozenset[str]:
    """Every source text in the template; a flow text missing here was never extracted."""
    template = directory / TEMPLATE.name
    if not template.exists():
        return frozenset()
    return _known(template, template.stat().st_mtime_ns)
