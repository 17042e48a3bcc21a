"""The shape of the code: imports point down only, and no module imports one that imports it back.

Read from the source files (never imported), so a change that breaks the layering fails
here before it costs anything at run time. Layers, bottom up: ``perseus_core`` (the
compiled kernels), ``perseus.http`` and ``perseus.stores``, the engine
(``perseus.turbine``), the adapters (``perseus.server``).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("perseus", "perseus_core")
ENGINE = "perseus.turbine"
ADAPTERS = "perseus.server"
# Below the engine: they may import each other and the kernels, never upwards.
LOWER = ("perseus.http", "perseus.stores", "perseus_core")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, name: str | None = None) -> set[str]:
    """Every module that ``path`` (module ``name``) imports, at its top or inside a function."""
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # ``from . import x`` may name a module x of the package.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def import_graph() -> dict[str, set[str]]:
    files = [path for package in PACKAGES for path in (REPO / package).rglob("*.py")]
    modules = {module_name(path): path for path in files}
    graph = {}
    for name, path in modules.items():
        graph[name] = {target for target in imports_of(path) if target in modules and target != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (found := visit(target)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 50  # the whole tree was read
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_nothing_below_the_engine_imports_it_or_the_adapters() -> None:
    upward = [
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        for target in targets
        if any(_within(module, lower) for lower in LOWER)
        and (_within(target, ENGINE) or _within(target, ADAPTERS))
    ]
    assert upward == []


def test_the_engine_never_imports_the_adapters() -> None:
    upward = [f"{module} imports {target}" for module, targets in import_graph().items()
              for target in targets if _within(module, ENGINE) and _within(target, ADAPTERS)]
    assert upward == []


def test_the_checks_see_an_upward_import(tmp_path: Path) -> None:
    # The graph is made from the same reader these checks use: a store that imported the
    # engine would be an edge in it.
    module = tmp_path / "probe.py"
    module.write_text("from perseus.turbine.engine import Engine\nimport perseus.server.rsgi\n")
    assert {"perseus.turbine.engine", "perseus.server.rsgi"} <= imports_of(module, "perseus.stores.probe")
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
