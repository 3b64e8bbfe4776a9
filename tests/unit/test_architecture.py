"""Import directions and public surfaces, read from the source with ast so they stay true."""

from __future__ import annotations

import ast
import functools
import gc
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {"streams", "providers", "analytics", "dashboards"}


@functools.cache
def _parse(path: Path) -> ast.Module:
    """ast.parse with the garbage collector held off. On CPython 3.11 the AST constructor keeps its
    recursion count in state shared by every parse, so a finalizer run by a collection in the middle
    of one (earlier tests leave aiokafka futures whose exceptions were never retrieved; logging one
    formats a traceback, and 3.11's traceback parses the source line) corrupted the outer parse:
    "SystemError: AST constructor recursion depth mismatch" in one fresh-clone suite run."""
    gc.disable()
    try:
        return ast.parse(path.read_text())
    finally:
        gc.enable()


def _imports(folder: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / folder).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def _top(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


@pytest.mark.parametrize(("folder", "allowed"), [
    ("providers", {"providers"}),
    ("analytics", {"analytics"}),
    ("dashboards", {"dashboards", "analytics"}),
])
def test_folders_import_only_what_the_layout_allows(folder, allowed):
    for path, names in _imports(folder).items():
        assert (_top(names) & PROJECT) <= allowed, (path, _top(names) & PROJECT)


def test_streams_imports_analytics_only_from_the_cli():
    for path, names in _imports("streams").items():
        if not path.startswith("streams/cli/"):
            assert "analytics" not in _top(names), path


# streams/ is in rooms (streams/__init__.py draws them); each may import only the rooms listed here.
# A request reads top to bottom: ingress or client, app, agents, routing, kafka.
ROOMS = {
    "cli": {"app", "agents", "ingress", "client", "kafka", "routing", "config", "events"},
    "app": {"agents", "ingress", "client", "kafka", "routing", "config", "events"},
    "agents": {"routing", "kafka", "config", "events"},
    "ingress": {"client", "routing", "config", "events"},
    "client": {"kafka", "routing", "config", "events"},
    "kafka": {"config", "events"},
    "routing": {"config", "events"},
    "config": set(),
    "events": set(),
}


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "streams" and len(parts) > 1 else None


def _module_graph() -> dict[str, set[str]]:
    """Every module of streams/ -> the modules of streams/ it imports, anywhere in its body."""
    def name_of(path: Path) -> str:
        parts = path.relative_to(ROOT).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    modules = {name_of(path): path for path in (ROOT / "streams").rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        edges: set[str] = set()
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names if alias.name in modules)
            elif isinstance(node, ast.ImportFrom) and node.module in modules:
                # `from streams.kafka import topics` imports the submodule; `from streams.events import X`, the package
                edges.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                             for a in node.names)
        graph[module] = edges - {module}
    return graph


def test_every_module_of_streams_is_in_a_room():
    for module in _module_graph():
        assert module == "streams" or _room(module) in ROOMS, f"{module} is in no room of ROOMS"


def test_rooms_import_only_the_rooms_below_them():
    for module, imported in _module_graph().items():
        room = _room(module)
        for target in imported:
            other = _room(target)
            assert other == room or other in ROOMS.get(room, set()), f"{module} ({room}) imports {target} ({other})"


def test_no_module_imports_itself_through_others():
    graph = _module_graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError("import circle: " + " -> ".join(path[path.index(module):] + [module]))
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_no_module_is_much_over_400_lines():
    for path in (ROOT / "streams").rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 420, path.relative_to(ROOT)


def test_routing_is_pure():
    for path, names in _imports("streams/routing").items():
        assert not (_top(names) & {"faust", "httpx", "aiokafka", "os", "time", "asyncio"}), path


@pytest.mark.parametrize("package", ["providers", "analytics", "streams.routing", "streams.kafka.localkafka", "streams.agents",
                                     "streams.events", "streams.config", "streams.client", "streams.cli"])
def test_each_package_exports_exactly_its_all(package):
    module = importlib.import_module(package)
    assert module.__all__, package
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.__all__ names {name}, which it does not define"
    assert len(set(module.__all__)) == len(module.__all__)
