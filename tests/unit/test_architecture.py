"""Import directions and public surfaces, read from the source with ast so they stay true."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {"streams", "providers", "analytics", "dashboards"}


def _imports(folder: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / folder).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
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
        if path != "streams/cli.py":
            assert "analytics" not in _top(names), path


def test_routing_is_pure():
    for path, names in _imports("streams/routing").items():
        assert not (_top(names) & {"faust", "httpx", "aiokafka", "os", "time", "asyncio"}), path


@pytest.mark.parametrize("package", ["providers", "analytics", "streams.routing", "streams.localkafka", "streams.agents"])
def test_each_package_exports_exactly_its_all(package):
    module = importlib.import_module(package)
    assert module.__all__, package
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.__all__ names {name}, which it does not define"
    assert len(set(module.__all__)) == len(module.__all__)
