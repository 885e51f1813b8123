"""Publishing flows and their texts: the files are a draft, a release is what people are told.

A flows release is one bundle: every flows/*.yml file, the text template (messages.pot) and the
`.po` catalog of every served language, as text. It is checked as a whole before it is stored
(the flows check with file:line, placeholders, WhatsApp's length limits in every language, and
every text translated in every program language; a reworded English text whose translation
waits for review counts as translated, see bot/i18n.py), so a mistake keeps the previous release
live and the editor is told why. Releases are numbered per kind in the database (store/releases.py,
shared with referral content); every server and worker serves the newest one within
`content.refresh_seconds` of its publication, without a restart. At start-up the service serves
the last published release, not the files; on a first start (no release yet) the files are
checked and published as release 1.

The API, for the CLI (`flask flows publish|releases|rollback N`) and the editors' web pages:

- `check(runtime, bundle=None) -> FlowSet`: check the draft on disk (or `bundle`); raises
  FlowError whose `.problems` are `file:line: problem; the fix` lines, in file:line order.
- `publish(runtime, actor) -> Published`: check the draft files and make them live. Raises
  FlowError (nothing changes) if they are wrong. `Published.number` is None when the live
  release already is exactly this content.
- `releases(runtime) -> list[ReleaseInfo]`: every release, newest (the live one) first.
- `rollback(runtime, number, actor) -> Published`: make release `number` live again (as a new
  release, a copy of it, noted "rollback to N"); the copy is checked against this version of the
  service first. Raises LookupError for an unknown number, FlowError if it no longer checks out.
- `LiveFlows`: what one process serves (`current()` -> Live: the flows, the translator, the engine).

`runtime` is the composition root (runtime.Runtime): settings, session, actions, choices, flows.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from bot.flows import FlowError, FlowSet, load_flows
from bot.i18n import Served, Translator, parse_catalog, placeholders, served
from bot.yaml_source import in_order
from nlu.intents import INTENTS
from privacy.audit import record
from store import releases as stored
from store.releases import ReleaseInfo

log = logging.getLogger(__name__)
KIND = "flows"
TEMPLATE = "messages.pot"
E = TypeVar("E")


def collect(settings) -> dict:
    """The draft on disk as a bundle: flow files, the text template and every language's catalog."""
    catalogs = {}
    folder = settings.content.translations
    for language in settings.languages.all:
        path = folder / language / "LC_MESSAGES" / "messages.po"
        if path.exists():
            catalogs[language] = path.read_text(encoding="utf-8")
    template = folder / TEMPLATE
    return {"flows": _flow_files(settings.content.flows), "catalogs": catalogs,
            "template": template.read_text(encoding="utf-8") if template.exists() else ""}


def _flow_files(folder: Path) -> dict[str, str]:
    files = {}
    for path in sorted(folder.glob("*.yml")):
        try:
            files[path.name] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise FlowError([f"{path}:1: not UTF-8 text: save the file as UTF-8"]) from None
    return files


def _named(settings, bundle: dict) -> dict[str, str]:
    """Flow texts named by their file in the flows folder, so a problem says where to fix it."""
    return {str(settings.content.flows / name): text for name, text in bundle["flows"].items()}


def summary(bundle: dict) -> str:
    return f"{len(bundle['flows'])} flow files, {len(bundle['catalogs'])} languages"


def check(runtime, bundle: dict | None = None) -> FlowSet:
    """The whole check of a release (the draft on disk when `bundle` is None)."""
    bundle = collect(runtime.settings) if bundle is None else bundle
    settings = runtime.settings
    values = settings.placeholders()
    translator = Translator(catalogs=bundle["catalogs"], source_language=settings.languages.source)
    template = parse_catalog(bundle["template"]) if bundle["template"] else []
    known = frozenset(m.id for m in template if m.id)
    problems: list[str] = []
    flows = None
    try:
        flows = load_flows(_named(settings, bundle), runtime.actions.names(), choices=runtime.choices.names(),
                           known_texts=known, intents=INTENTS, placeholders=values, languages=settings.languages.all,
                           translate=lambda text, language: translator.text(text, language, **values))
    except FlowError as error:
        problems += error.problems
    places = {m.id: f"{settings.content.translations / TEMPLATE}:{m.lineno or 1}" for m in template if m.id}
    if flows is not None:
        for flow in flows.flows.values():
            for text, line, _where in flow.texts():
                places[text] = f"{flow.path}:{line}"
    problems += _catalog_problems(bundle, sorted(known), settings.languages.program, settings.languages.source,
                                  places)
    if problems or flows is None:
        raise FlowError(in_order(problems))
    return flows


def _catalog_problems(bundle: dict, sources: list[str], program: list[str], source_language: str,
                      places: dict[str, str]) -> list[str]:
    """One problem per text (not per language): which program languages lack it or change its
    placeholders, said where an editor finds the text (`places`: text -> file:line)."""
    missing: dict[str, list[str]] = {}
    wrong: dict[str, list[str]] = {}
    for language in program:
        if language == source_language:
            continue
        po_text = bundle["catalogs"].get(language)
        shown = served(parse_catalog(po_text)) if po_text else Served()
        for source in sources:
            text = shown.texts.get(source)
            if not text:
                missing.setdefault(source, []).append(language)
            elif source not in shown.needs_review and placeholders(text) != placeholders(source):
                wrong.setdefault(source, []).append(language)
    problems = []
    for source, languages in missing.items():
        problems.append(f"{places[source]}: {source[:60]!r} has no translation in "
                        f"{', '.join(languages)}; translate it for every program language before publishing")
    for source, languages in wrong.items():
        problems.append(f"{places[source]}: the translation of {source[:60]!r} in "
                        f"{', '.join(languages)} does not have the placeholders {placeholders(source)} of the "
                        "English; write each {name} exactly as in the English")
    return problems


@dataclass
class Published:
    number: int | None  # None: the live release already had exactly this content
    summary: str


def _store(runtime, bundle: dict, actor: str, note: str) -> Published:
    with runtime.session() as session:
        release = stored.add(session, KIND, bundle, actor, note)
        if release is None:
            return Published(None, summary(bundle))
        record(session, actor, "flows published", f"flows:{release.number}",
               " ".join(filter(None, [note, summary(bundle)])))
        session.commit()
        number = release.number
    runtime.flows.forget()
    log.info("flows release %s published", number)
    return Published(number, summary(bundle))


def publish(runtime, actor: str, note: str = "") -> Published:
    """Check the draft files and make them live everywhere; FlowError if they are wrong."""
    bundle = collect(runtime.settings)
    check(runtime, bundle)
    return _store(runtime, bundle, actor, note)


def releases(runtime) -> list[ReleaseInfo]:
    with runtime.session() as session:
        return stored.history(session, KIND)


def rollback(runtime, number: int, actor: str) -> Published:
    """Make release `number` live again; LookupError if there is none, FlowError if it no longer
    fits this version of the service (an action it names was removed, say)."""
    with runtime.session() as session:
        release = stored.find(session, KIND, number)
        if release is None:
            raise LookupError(f"there is no flows release {number}")
        bundle = release.bundle
    check(runtime, bundle)
    return _store(runtime, bundle, actor, f"rollback to {number}")


def publish_on_first_start(runtime) -> None:
    """No release yet (a new installation): the files become release 1, if they check out.
    Raises FlowError if they do not; does nothing when the database is not migrated yet."""
    try:
        with runtime.session() as session:
            if stored.latest_number(session, KIND) is not None:
                return
    except SQLAlchemyError:
        return  # `flask db upgrade` is about to run; the files are served meanwhile
    try:
        publish(runtime, "start-up", "first start: the files on disk")
    except stored.ReleaseConflict:
        pass  # another server or worker, starting at the same moment, published them


@dataclass
class Live(Generic[E]):
    flows: FlowSet
    translator: Translator
    engine: E


class LiveFlows(Generic[E]):
    """The flows and texts this process serves: the newest release, looked for at most every
    `content.refresh_seconds`; `make_engine(flows, translator)` builds the dialogue engine."""

    def __init__(self, runtime, make_engine: Callable[[FlowSet, Translator], E]):
        self.runtime, self.make_engine = runtime, make_engine
        settings = runtime.settings
        self._live: stored.LiveRelease[Live[E]] = stored.LiveRelease(
            KIND, runtime.session, lambda: settings.content.refresh_seconds, self._build, self._files)

    def _build(self, bundle: dict) -> Live[E]:
        runtime = self.runtime
        flows = load_flows(_named(runtime.settings, bundle), runtime.actions.names(),
                           choices=runtime.choices.names(), placeholders=runtime.settings.placeholders())
        translator = Translator(catalogs=bundle["catalogs"], source_language=runtime.settings.languages.source)
        return Live(flows, translator, self.make_engine(flows, translator))

    def _files(self) -> Live[E]:
        """Without a database to read releases from: the files, checked (FlowError if wrong)."""
        bundle = collect(self.runtime.settings)
        check(self.runtime, bundle)
        return self._build(bundle)

    def current(self) -> Live[E]:
        live = self._live.current()
        assert live is not None  # _files raises rather than return nothing
        return live

    @property
    def number(self) -> int | None:
        return self._live.number

    def forget(self) -> None:
        self._live.forget()
