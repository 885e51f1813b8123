"""Dependencies point one way: edges (channels/, web views, cli/) -> application (inbox/, jobs)
-> domain (registration/ vouchers/ handoff/ referrals/ privacy/) -> infrastructure (delivery/,
store/, settings/). bot/ and nlu/ know nothing of the service. Read from the source with `ast`,
so a lazy import inside a function counts as much as one at the top."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_SERVICE = {"tests", "migrations", "node_modules", "var"}
DOMAIN = {"registration", "vouchers", "handoff", "referrals", "privacy"}
# Only the composition root and the edges may build on the whole runtime.
MAY_IMPORT_RUNTIME = {"webhook", "cli", "channels", "staff", "helpdesk_web", "bench"}


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[0] in NOT_SERVICE or parts[0].startswith("."):
            continue
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = modules()


def imported_by(name: str, path: Path) -> set[str]:
    """The project's own modules `name` imports (outside `if TYPE_CHECKING:` blocks)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(block.test) for node in ast.walk(block)}
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets.update(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names)
    own = set()
    for target in targets:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and target != name:
            own.add(target)
    return own


GRAPH = {name: imported_by(name, path) for name, path in MODULES.items()}


def top(name: str) -> str:
    return name.partition(".")[0]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_project_has_no_import_cycle():
    assert cycles(GRAPH) == []


def test_delivery_bot_and_nlu_import_no_domain_package():
    wrong = sorted((name, target) for name, targets in GRAPH.items() for target in targets
                   if top(name) in ("delivery", "bot", "nlu") and top(target) in DOMAIN)
    assert wrong == []


def test_bot_and_nlu_import_nothing_of_the_service():
    wrong = sorted((name, target) for name, targets in GRAPH.items() for target in targets
                   if top(name) in ("bot", "nlu") and top(target) not in ("bot", "nlu"))
    assert wrong == []


def test_only_the_composition_root_and_the_edges_import_runtime():
    wrong = sorted((name, "runtime") for name, targets in GRAPH.items()
                   if "runtime" in targets and top(name) not in MAY_IMPORT_RUNTIME)
    assert wrong == []


def test_the_checks_see_a_domain_import_in_delivery(tmp_path):
    module = tmp_path / "probe.py"
    module.write_text("from vouchers.delivery import mark_claimed\n\ndef f():\n    import runtime\n")
    assert imported_by("delivery.probe", module) == {"vouchers.delivery", "runtime"}
