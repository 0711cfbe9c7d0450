"""Print which folders of newsmon import which, from the source (``ast``, nothing is imported or run).

    python scripts/import_graph.py            # folder → folder edges, with the modules behind each
    python scripts/import_graph.py --modules  # module → module edges

A folder is a top-level package (``models``, ``flows``, ``consumers``) or a subpackage of ``newsmon``
(``newsmon/store``, ``newsmon/cli``, ...); modules directly in ``newsmon/`` count as ``newsmon``. Imports inside
functions count too (they are still dependencies), but those under ``if TYPE_CHECKING:`` do not.
"""

from __future__ import annotations

import argparse
import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("newsmon", "models", "flows", "consumers")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _folder(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "newsmon" and len(parts) > 2:
        return f"newsmon/{parts[1]}"
    if parts[0] == "newsmon" and len(parts) == 2 and (ROOT / "newsmon" / parts[1]).is_dir():
        return f"newsmon/{parts[1]}"
    return parts[0]


class _Imports(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.module = module
        self.found: set[str] = set()

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found |= {alias.name for alias in node.names}

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # relative: resolve against this module's package
            base = self.module.split(".")[: -node.level] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        self.found.add(target)
        self.found |= {f"{target}.{alias.name}" for alias in node.names}


def edges() -> dict[tuple[str, str], set[str]]:
    """(importing module, imported module) for every import between newsmon's own modules."""
    modules = {_module(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for name, path in modules.items():
        visitor = _Imports(name)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
        for target in visitor.found:
            if target in modules and target != name:
                found[(name, target)].add(target)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", action="store_true", help="print module → module edges")
    args = parser.parse_args()
    by_folder: dict[tuple[str, str], set[str]] = defaultdict(set)
    for importer, imported in edges():
        if args.modules:
            print(f"{importer} -> {imported}")
            continue
        pair = (_folder(importer), _folder(imported))
        if pair[0] != pair[1]:
            by_folder[pair].add(f"{importer.split('.')[-1]}→{imported.split('.')[-1]}")
    for (source, target), why in sorted(by_folder.items()):
        print(f"{source:20} -> {target:20} {', '.join(sorted(why))}")


if __name__ == "__main__":
    main()
