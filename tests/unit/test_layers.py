"""The layers read top-down (api → services → store/domain), and no modules import each other in a circle.

Every import is counted, those under `if TYPE_CHECKING:` and inside functions too: a type-only
or deferred import is still a dependency, and it is how the circles used to hide.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hub", "workers")
# The program's entry: it puts the hub and its jobs together, and nothing imports it.
ENTRY = "hub.__main__"


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imported_names(name: str, path: Path) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _imports(name: str) -> set[str]:
    """The modules of hub/ and workers/ that `name` imports (a name imported from a package
    counts as its submodule when there is one)."""
    result: set[str] = set()
    for imported in _imported_names(name, MODULES[name]):
        while imported and imported not in MODULES:
            imported = imported.rpartition(".")[0]
        if imported and imported != name:
            result.add(imported)
    return result


GRAPH = {name: _imports(name) for name in MODULES}


def _under(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _violations(lower: str, *upper: str) -> list[str]:
    return sorted(
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        if _under(name, lower)
        for target in targets
        if _under(target, *upper)
    )


def test_the_graph_sees_the_modules() -> None:
    # Guards the walk itself: a test that finds no modules or no imports cannot fail.
    assert {"hub.context", "hub.jobs.spec", "hub.services.outbound", "workers.registry"} <= set(GRAPH)
    assert "hub.jobs.spec" in GRAPH["workers.registry"]


def test_nothing_in_hub_imports_the_workers() -> None:
    assert [v for v in _violations("hub", "workers") if not v.startswith(ENTRY + " ")] == []


def test_the_domain_imports_no_layer_above_it() -> None:
    assert _violations("hub.domain", "hub.services", "hub.store", "hub.api") == []


def test_the_store_imports_no_service_or_api() -> None:
    assert _violations("hub.store", "hub.services", "hub.api") == []


def test_services_import_no_api() -> None:
    assert _violations("hub.services", "hub.api") == []


def test_the_job_queue_imports_only_what_is_below_it() -> None:
    assert _violations("hub.jobs", "hub.context", "hub.services", "hub.api", "hub.realtime") == []


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert _cycles() == []
