"""The package's layout: no import circle, no module-class swap, each shared piece once.

The imports are read with :mod:`ast` from the source files (nothing is imported), module-level
ones (what runs when a module is imported, ``TYPE_CHECKING`` blocks excluded) apart from the
ones inside functions (lazy imports of heavy or optional dependencies).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

import revwatch

PKG = Path(revwatch.__file__).resolve().parent

#: The top of the package: the lower floors, the Python API and the applications' packages.
#: A new top-level module is a decision about the layout: put it in a package, or add it here
#: and to docs/architecture.md.
TOP_LEVEL = {
    "errors",
    "units",
    "redact",
    "data",
    "detectors",
    "classify",
    "pipeline",
    "incidents",
    "datasets",
    "evaluation",
    "report",
    "monitor",
    "scale",
    "web",
    "cli",
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@cache
def _modules() -> dict[str, tuple[Path, bool]]:
    return {_module_name(p): (p, p.name == "__init__.py") for p in sorted(PKG.rglob("*.py"))}


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The package's modules an import statement imports (``from pkg import submodule`` is the
    submodule, ``from module import name`` the module)."""
    modules = _modules()
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.name
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                yield name
        return
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        source = ".".join([*base, *([node.module] if node.module else [])])
    else:
        source = node.module or ""
    for alias in node.names:
        if f"{source}.{alias.name}" in modules:
            yield f"{source}.{alias.name}"
        elif source in modules:
            yield source


def _is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _module_level(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif _is_type_checking(node):
            continue
        elif isinstance(node, ast.If):
            yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, *(h.body for h in node.handlers), node.orelse):
                yield from _module_level(block)
            yield from _module_level(node.finalbody)
        elif isinstance(node, ast.With):
            yield from _module_level(node.body)


@cache
def _graphs() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level edges, function-level edges) between the package's modules."""
    top: dict[str, set[str]] = {}
    lazy: dict[str, set[str]] = {}
    for module, (path, is_package) in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        eager = list(_module_level(tree.body))
        every = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
        in_types = {
            id(n) for block in tree.body if _is_type_checking(block) for n in ast.walk(block)
        }
        top[module] = {t for n in eager for t in _targets(module, is_package, n)} - {module}
        lazy[module] = {
            t
            for n in every
            if id(n) not in in_types and all(n is not e for e in eager)
            for t in _targets(module, is_package, n)
        } - {module}
    return top, lazy


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
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


def _path(edges: dict[str, set[str]], cycle: list[str]) -> str:
    """One circle through the component, as ``a -> b -> a``, for the failure message."""
    members = set(cycle)
    start = cycle[0]
    trail = [start]
    seen = {start}
    while True:
        step = sorted(edges[trail[-1]] & members)
        back = [m for m in step if m == start]
        if back and len(trail) > 1:
            return " -> ".join([*trail, start])
        nxt = next((m for m in step if m not in seen), None)
        if nxt is None:
            return " <-> ".join(cycle)
        trail.append(nxt)
        seen.add(nxt)


def test_the_walker_sees_a_circle() -> None:
    """The cycle finder finds circles (so the tests below can fail)."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]
    assert _path(edges, ["a", "b", "c"]) == "a -> b -> c -> a"
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_walker_reads_every_kind_of_import() -> None:
    top, lazy = _graphs()
    assert "revwatch.errors" in top["revwatch.pipeline"] or any(
        "revwatch.data" in t for t in top["revwatch.pipeline"]
    )
    assert "revwatch.cli.monitor" in top["revwatch.cli"]  # `from package import submodule`
    assert lazy["revwatch.web"], "web/__init__ imports the app lazily"
    assert not top["revwatch.errors"]


def test_no_import_circle_among_module_level_imports() -> None:
    top, _ = _graphs()
    circles = [_path(top, c) for c in _cycles(top)]
    assert not circles, "module-level import circles: " + "; ".join(circles)


def test_no_import_circle_even_with_imports_inside_functions() -> None:
    """A lazy import only defers the cost; it must not be what keeps two modules apart."""
    top, lazy = _graphs()
    both = {m: top[m] | lazy[m] for m in top}
    circles = [_path(both, c) for c in _cycles(both)]
    assert not circles, "import circles through imports inside functions: " + "; ".join(circles)


def test_no_module_class_swap() -> None:
    for module, (path, _) in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                swapped = [t for t in targets if isinstance(t, ast.Attribute)]
                assert not any(t.attr == "__class__" for t in swapped), module
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b) for b in node.bases}
                assert not bases & {"types.ModuleType", "ModuleType"}, module


def test_public_api_is_plain_functions() -> None:
    for name in ("detect", "analyze", "load"):
        assert inspect.isfunction(getattr(revwatch, name)), name
    assert revwatch.detect.__module__ == "revwatch.pipeline"
    assert "revwatch.detect" not in _modules()


def test_top_level_is_the_documented_layout() -> None:
    top = {m.split(".")[1] for m in _modules() if m.count(".") >= 1}
    unknown = top - TOP_LEVEL
    assert not unknown, f"new top-level modules {sorted(unknown)}: place them in a package"
    architecture = (PKG.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    undocumented = [m for m in sorted(top) if f"revwatch.{m}" not in architecture]
    assert not undocumented, f"docs/architecture.md does not name {undocumented}"


@pytest.mark.parametrize(
    ("package", "allowed"),
    [
        # the command modules share cli._common (and the generators' options), never each other
        ("revwatch.cli", {"revwatch.cli._common", "revwatch.cli.datasets"}),
        # the pages and the JSON API share web.state, not each other
        ("revwatch.web", {"revwatch.web.state", "revwatch.web.security", "revwatch.web.views"}),
    ],
)
def test_sibling_modules_share_a_common_module(package: str, allowed: set[str]) -> None:
    top, lazy = _graphs()
    for module in top:
        # the package itself registers (cli) or serves (web) its modules; __main__ runs main
        if not module.startswith(package + ".") or module.endswith(".__main__"):
            continue
        siblings = {t for t in top[module] | lazy[module] if t.startswith(package + ".")}
        extra = siblings - allowed - {module}
        if package == "revwatch.web" and module == "revwatch.web.app":
            extra -= {"revwatch.web.http_api"}  # the app mounts the API's router
        assert not extra, f"{module} imports its siblings {sorted(extra)}"


def _definitions(name: str) -> list[str]:
    """Modules that define ``name`` at top level (def, class or assignment)."""
    where = []
    for module, (path, _) in _modules().items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            names: set[str] = set()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names = {node.name}
            elif isinstance(node, ast.Assign):
                names = {t.id for t in node.targets if isinstance(t, ast.Name)}
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = {node.target.id}
            if name in names:
                where.append(module)
    return where


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("ConfigOpt", "revwatch.cli._common"),
        ("StoreOpt", "revwatch.cli._common"),
        ("app", "revwatch.cli._common"),
        ("_user_errors", "revwatch.cli._common"),
        ("_setup_logging", "revwatch.cli._common"),
        ("_open_store", "revwatch.cli._common"),
        ("open_store", "revwatch.monitor.runner"),
        ("stderr_console", "revwatch.report.terminal"),
        ("WebState", "revwatch.web.state"),
        ("state_of", "revwatch.web.state"),
        ("method_tags", "revwatch.detectors.registry"),
        ("detector_class", "revwatch.detectors.registry"),
        ("incident_chart_png", "revwatch.report.chart"),
        ("chart_data_uri", "revwatch.report.chart"),
        ("context_frame", "revwatch.report.context"),
        ("series_key_text", "revwatch.data.keys"),
        ("series_key_texts", "revwatch.data.keys"),
        ("series_key_json", "revwatch.data.keys"),
        ("series_key_jsons", "revwatch.data.keys"),
    ],
)
def test_shared_piece_exists_once(name: str, home: str) -> None:
    assert _definitions(name) == [home]


@pytest.mark.parametrize(
    "name",
    [
        # the series key as text: revwatch.data.keys only
        "_key_text",
        "_key_texts",
        "series_label",
        "series_title",
        # the methods' facts: tags on the detector classes, read by detectors.registry
        "COMPLEXITY",
        "RETRAIN_DAYS",
    ],
)
def test_no_second_copy(name: str) -> None:
    """A merged duplicate is gone (its one home is elsewhere)."""
    assert _definitions(name) == []


def test_one_chart_implementation() -> None:
    """Only :mod:`revwatch.report.chart` imports matplotlib (the pages, the HTML report and the
    alert emails call it)."""
    top, lazy = _graphs()
    drawers = []
    for module, (path, _) in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            if any(n == "matplotlib" or n.startswith("matplotlib.") for n in names):
                drawers.append(module)
                break
    assert drawers == ["revwatch.report.chart"]
    assert "revwatch.report.chart" in lazy["revwatch.web.app"] | top["revwatch.web.app"]


def test_monitor_reads_sources_through_the_loader() -> None:
    """The monitor reads no file or query itself: revwatch.data.load does (the same errors)."""
    readers = ("read_csv", "read_excel", "read_parquet", "read_sql", "read_sql_url")
    for module, (path, _) in _modules().items():
        if not module.startswith("revwatch.monitor"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = {
            n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
        }
        assert not calls & set(readers), f"{module} reads {sorted(calls & set(readers))}"


def test_one_stderr_console() -> None:
    """Tables and notes on stderr come from one function (one width rule)."""
    makers = [
        module
        for module, (path, _) in _modules().items()
        if "Console(stderr=True" in path.read_text(encoding="utf-8")
    ]
    assert makers == ["revwatch.report.terminal"]
