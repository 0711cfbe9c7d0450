"""The house rules, checked on the source (scripts/import_graph.py's ``ast`` graph), so they stay true:
models/ takes nothing of newsmon/ but the story and error types; the store imports no stage; outside the CLI
package nothing of newsmon/ imports flows/, consumers/ or the CLI toolkit; nothing imports the CLI."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from newsmon.config import PROJECT_ROOT


def _graph() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph", PROJECT_ROOT / "scripts" / "import_graph.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EDGES = set(_graph().edges())


def _imports(prefix: str) -> set[tuple[str, str]]:
    return {(a, b) for a, b in EDGES if a == prefix or a.startswith(prefix + ".")}


def test_models_take_only_the_story_and_error_types_from_newsmon() -> None:
    taken = {b for _a, b in _imports("models") if b.startswith("newsmon")}
    assert taken <= {"newsmon.story", "newsmon.errors"}, taken


def test_the_store_imports_no_stage() -> None:
    allowed = {"newsmon.messages", "newsmon.story", "newsmon.config", "newsmon.errors", "newsmon.dev.faults"}
    taken = {b for _a, b in _imports("newsmon.store") if not b.startswith("newsmon.store")}
    assert taken <= allowed, taken


def test_only_the_cli_package_reaches_flows_and_consumers() -> None:
    outside = {(a, b) for a, b in EDGES if a.startswith("newsmon") and not a.startswith("newsmon.cli")}
    assert not {(a, b) for a, b in outside if b.split(".")[0] in ("flows", "consumers")}
    assert not {(a, b) for a, b in EDGES if b.startswith("newsmon.cli") and a not in ("newsmon.__main__",)} - {
        (a, b) for a, b in EDGES if a.startswith("newsmon.cli")
    }


def test_the_cli_toolkit_is_imported_only_by_the_cli_package() -> None:
    users = set()
    for path in [*(PROJECT_ROOT / "newsmon").rglob("*.py"), *(PROJECT_ROOT / "models").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if "import typer" in text or "from typer" in text:
            users.add(path.relative_to(PROJECT_ROOT).parts[:2])
    assert users <= {("newsmon", "cli")}, users
