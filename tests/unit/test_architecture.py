"""The architecture's boundaries, checked on the source: no import cycle, one module imports
`kubernetes`, the engine imports no front-end library, and no module grows past 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {"kodama": REPO / "kodama", "kodama_lsp": REPO / "lsp"}
MAX_LINES = 400
FRONT_END_LIBRARIES = ("click", "pygls", "lsprotocol", "rich")
# Modules allowed past MAX_LINES, each with its reason (none today).
ALLOWED_LONG: set[str] = set()


def modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for top, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            parts = [top, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported (not under TYPE_CHECKING, not in functions)."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and not _is_type_checking(node):
            todo += node.body + node.orelse
        elif isinstance(node, ast.Try):
            todo += node.body + node.orelse + node.finalbody
            for handler in node.handlers:
                todo += handler.body
    return found


def imported_names(name: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Dotted modules (or module.attribute) an import statement names, made absolute."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def graph() -> dict[str, set[str]]:
    mods = modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for node in module_level_imports(ast.parse(path.read_text(), str(path))):
            targets = imported_names(name, path, node)
            if isinstance(node, ast.ImportFrom):
                # `from pkg import sub` imports the module pkg.sub; `from mod import x`, mod.
                *members, base = targets
                hits = [m for m in members if m in mods]
                targets = hits or [base]
            edges[name] |= {t for t in targets if t in mods and t != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_in_kodama_or_lsp() -> None:
    assert cycles(graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _all_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_only_the_cluster_module_imports_kubernetes() -> None:
    importers = sorted(
        str(path.relative_to(REPO))
        for path in modules().values()
        if "kubernetes" in _all_imports(path)
    )
    assert importers == ["kodama/k8s/cluster.py"]


def test_the_engine_imports_no_front_end_library() -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(_all_imports(path) & set(FRONT_END_LIBRARIES))
        for name, path in modules().items()
        if name.startswith("kodama") and not name.startswith(("kodama.cli", "kodama_lsp"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_module_over_400_lines(package: str) -> None:
    long = {
        str(path.relative_to(REPO)): n
        for name, path in modules().items()
        if name.split(".")[0] == package
        and str(path.relative_to(REPO)) not in ALLOWED_LONG
        and (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
