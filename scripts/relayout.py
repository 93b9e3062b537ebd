"""One-off migration to the package layout of issue 16 (run once from the repository root).

``python scripts/relayout.py`` on a clean checkout of a recent main:

1. checks that every top-level module of ``src/revwatch`` is one it knows (a module added
   since this script was written stops it with its name: add it to ``MOVES`` or ``KEEP``);
2. moves the modules with ``git mv`` (``MOVES``) and writes the new packages' ``__init__``;
3. makes the small, mechanical content edits that break the import circles: the shared CLI
   pieces move into ``cli/_common.py``, the web app's state into ``web/state.py`` (whole
   top-level definitions, moved by an AST helper), ``revwatch.detect`` becomes the plain
   function of the Python API (the module-class swap goes), and the command modules are
   registered by ``cli/__init__`` instead of by ``cli/main`` importing its siblings;
4. rewrites every reference in ``src``, ``tests``, ``benchmarks``, ``scripts``, ``docs`` and
   ``README.md``: import statements (by AST, each imported name routed to the module that now
   defines it), dotted names in strings and prose (monkeypatch targets, registry entries,
   ``:mod:`` references, code in ``-c`` strings), and ``src/revwatch/...py`` paths;
5. runs ``ruff check --fix`` (unused imports, import order) and ``ruff format`` on the files
   it touched.

It works from module paths and import patterns only, never from line numbers, so it replays
on a main that changed since it was written. Run a second time it does nothing (the layout is
already there). Exit status 1 lists what it could not place or route.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path.cwd()
SRC = ROOT / "src"
PKG = SRC / "revwatch"

#: old module (dotted, below ``revwatch``) -> new module. A package moves with everything in it.
MOVES: dict[str, str] = {
    "api": "pipeline",
    "detect": "detectors",
    "incidents": "incidents.build",
    "impact": "incidents.impact",
    "rootcause": "incidents.rootcause",
    "events_calendar": "incidents.annotations",
    "monitor": "monitor.runner",
    "store": "monitor.store",
    "alerts": "monitor.alerts",
    "config": "monitor.config",
    "events": "monitor.payment_events",
    "runlock": "monitor.runlock",
    "evaluate": "evaluation.metrics",
    "evaluate_labelled": "evaluation.labelled",
    "advise": "evaluation.advise",
    "scale": "scale.partitioned",
    "spark": "scale.spark",
    "htmlreport": "report.html",
    "web.api": "web.http_api",
    "cli": "cli.main",
    "cli_monitor": "cli.monitor",
    "cli_web": "cli.web",
    "cli_evaluate": "cli.evaluate",
    "cli_datasets": "cli.datasets",
}
#: top-level modules and packages that stay where they are.
KEEP = {
    "__init__",
    "errors",
    "units",
    "redact",
    "classify",
    "data",
    "datasets",
    "report",
    "web",
}

#: whole top-level definitions that move out of a module: (from, to) -> names.
SPLITS: dict[tuple[str, str], list[str]] = {
    ("cli.main", "cli._common"): ["app", "_stderr", "_user_errors", "_setup_logging"],
    ("cli.monitor", "cli._common"): ["ConfigOpt", "StoreOpt", "_store"],
    ("web.app", "web.state"): ["WebState", "state_of"],
}
#: definitions that are duplicates of ones in ``cli._common`` and are deleted: module -> names.
DUPLICATES: dict[str, list[str]] = {"cli.web": ["ConfigOpt", "StoreOpt"]}

DOCS = {
    "cli._common": '"""What every command module shares: the typer app, the store options,\n'
    "the one stderr console, the error handling and the logging set-up.\n\n"
    "The command modules import this module, never each other, so there is no import circle\n"
    'inside :mod:`revwatch.cli`.\n"""\n',
    "web.state": '"""What every request of the review app needs: :class:`WebState` and\n'
    ":func:`state_of`.\n\n"
    "Its own module so that the pages (:mod:`revwatch.web.app`) and the JSON API\n"
    '(:mod:`revwatch.web.http_api`) both import it and not each other.\n"""\n',
}
STATE_HEADER = (
    "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from fastapi import Request\n"
)

PACKAGE_DOCS = {
    "incidents": (
        "Incidents: from flagged cells to the records people act on.\n\n"
        ":mod:`~revwatch.incidents.build` (the incident model and the one function that builds\n"
        "incidents, tiers and FDR), :mod:`~revwatch.incidents.impact` (money moved, with\n"
        "intervals), :mod:`~revwatch.incidents.rootcause` (which dimensions explain a total's\n"
        "move) and :mod:`~revwatch.incidents.annotations` (holidays, month ends and user events\n"
        "beside an incident)."
    ),
    "monitor": (
        "Monitoring: the scheduled run over a TOML config and what it keeps.\n\n"
        ":mod:`~revwatch.monitor.config` (the config), :mod:`~revwatch.monitor.runner` (one\n"
        "run: sources, detection, incidents, delivery, and the health checks),\n"
        ":mod:`~revwatch.monitor.store` (the SQLAlchemy store and delivery ledger),\n"
        ":mod:`~revwatch.monitor.alerts` (channels), :mod:`~revwatch.monitor.payment_events`\n"
        "(raw payment events to seed 001's metrics) and :mod:`~revwatch.monitor.runlock`."
    ),
    "evaluation": (
        "Evaluation: how well a method finds labelled anomalies.\n\n"
        ":mod:`~revwatch.evaluation.metrics` (labels, point and event metrics, ``evaluate``\n"
        "and ``compare`` over the generators), :mod:`~revwatch.evaluation.labelled` (labelled\n"
        "data sets on disk) and :mod:`~revwatch.evaluation.advise` (seed 003's stepwise\n"
        "framework)."
    ),
    "scale": (
        "Data bigger than memory: :mod:`~revwatch.scale.partitioned` (series-partitioned\n"
        "processing) and :mod:`~revwatch.scale.spark` (the same scoring on Spark)."
    ),
}
CLI_INIT = '''"""The ``revwatch`` command line: a thin layer over the public API.

Exit codes: 0 success; 2 bad input or options (one-line message on stderr);
1 an unexpected internal error (set ``REVWATCH_DEBUG=1`` for the traceback).

:mod:`~revwatch.cli._common` holds the app, options, console and error handling every
command module shares; :mod:`~revwatch.cli.main` the entry point and ``detect``,
``generate``, ``methods``, ``demo``; :mod:`~revwatch.cli.monitor`, :mod:`~revwatch.cli.web`
and :mod:`~revwatch.cli.evaluate` the other commands; :mod:`~revwatch.cli.datasets` the
generators' options. Importing this package registers every command on :data:`app`.
"""

from revwatch.cli._common import app
from revwatch.cli.main import command, main

__all__ = ["app", "command", "main"]

# Command modules register themselves on ``app`` when imported (this order is --help's).
# isort: off
from revwatch.cli import monitor  # noqa: F401
from revwatch.cli import web  # noqa: F401
from revwatch.cli import evaluate  # noqa: F401

# isort: on
'''
CLI_MAIN = '''"""``python -m revwatch.cli``: the same as the ``revwatch`` command."""

from revwatch.cli import main

main()
'''
TEXT_FILES = ["README.md", "docs"]
PY_DIRS = ["src", "tests", "benchmarks", "scripts"]

problems: list[str] = []
notes: list[str] = []
touched: set[Path] = set()


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout


def module_path(dotted: str, root: Path = PKG) -> Path | None:
    """The file of ``revwatch.<dotted>`` (``""`` is the package), or None."""
    base = root.joinpath(*dotted.split(".")) if dotted else root
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    if base.with_suffix(".py").exists():
        return base.with_suffix(".py")
    return None


def all_modules(root: Path = PKG) -> set[str]:
    """Every module below ``revwatch`` as a dotted name ("" is the package itself)."""
    found = set()
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.add(".".join(parts))
    return found


# ---------------------------------------------------------------------------------------------
# 1. what is there
# ---------------------------------------------------------------------------------------------


def check_known() -> None:
    unknown = []
    for entry in sorted(PKG.iterdir()):
        if entry.name.startswith((".", "_")) and entry.name != "__init__.py":
            if entry.name != "__pycache__":
                unknown.append(entry.name)
            continue
        if entry.is_dir() and not (entry / "__init__.py").exists():
            continue
        if entry.suffix not in (".py", "") or entry.name == "__pycache__":
            continue
        name = entry.stem
        if name not in MOVES and name not in KEEP:
            unknown.append(entry.name)
    if unknown:
        sys.exit(
            "relayout: top-level modules this script does not know: "
            + ", ".join(unknown)
            + "\n  add each to MOVES (where it goes) or KEEP (stays) in scripts/relayout.py"
        )


# ---------------------------------------------------------------------------------------------
# 2. moves
# ---------------------------------------------------------------------------------------------


def do_moves() -> None:
    for old, new in MOVES.items():
        src = module_path(old)
        if src is None:
            problems.append(f"module revwatch.{old} is not there to move")
            continue
        is_pkg = src.name == "__init__.py"
        src = src.parent if is_pkg else src
        dst = PKG.joinpath(*new.split("."))
        if not is_pkg:
            dst = dst.with_suffix(".py")
        if dst.exists():
            leftovers = [f for f in dst.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
            if leftovers:
                sys.exit(f"relayout: {dst.relative_to(ROOT)} already exists; move it away first")
            shutil.rmtree(dst)  # only byte-code caches of an earlier try
        dst.parent.mkdir(parents=True, exist_ok=True)
        for parent in dst.relative_to(PKG).parents:
            init = PKG / parent / "__init__.py"
            if parent != Path(".") and not init.exists():
                doc = PACKAGE_DOCS.get(".".join(parent.parts), "")
                init.write_text(f'"""{doc}"""\n' if doc else "")
                git("add", str(init))
        git("mv", str(src), str(dst))
        if is_pkg and src.exists():  # what git does not track: byte-code caches
            shutil.rmtree(src)
    cli_init = PKG / "cli" / "__init__.py"
    cli_init.write_text(CLI_INIT)
    (PKG / "cli" / "__main__.py").write_text(CLI_MAIN)
    git("add", str(cli_init), str(PKG / "cli" / "__main__.py"))


# ---------------------------------------------------------------------------------------------
# 3. content edits (whole top-level definitions)
# ---------------------------------------------------------------------------------------------


def _defined(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {t.id for t in node.targets if isinstance(t, ast.Name)}
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return {node.target.id}
    return set()


def _span(lines: list[str], node: ast.stmt) -> tuple[int, int]:
    """0-based [start, end) lines of a statement with its decorators and comments above."""
    start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    assert node.end_lineno is not None
    return start, node.end_lineno


def _is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _import_block(tree: ast.Module, lines: list[str]) -> list[str]:
    """The imports at the head of a module (up to its first function or class)."""
    out = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            break
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        if isinstance(node, ast.Import | ast.ImportFrom) or _is_type_checking(node):
            assert node.end_lineno is not None
            out.extend(lines[node.lineno - 1 : node.end_lineno])
    return out


def _after_imports(tree: ast.Module, *, plain: bool = False) -> int:
    """Line index (0-based) just after the last top-level import or TYPE_CHECKING block
    (``plain``: after the last import before any TYPE_CHECKING block)."""
    last = 0
    for node in tree.body:
        if plain and _is_type_checking(node) and last:
            break
        if isinstance(node, ast.Import | ast.ImportFrom) or _is_type_checking(node):
            assert node.end_lineno is not None
            last = node.end_lineno
        elif last:
            break
    if not last:  # only a docstring
        first = tree.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            assert first.end_lineno is not None
            last = first.end_lineno
    return last


def _names_used(nodes: Iterable[ast.AST]) -> set[str]:
    used = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name):
                used.add(sub.id)
            elif (
                isinstance(sub, ast.Constant)
                and isinstance(sub.value, str)
                and re.fullmatch(r"[\w\[\]., |]+", sub.value)  # string annotations, __all__
            ):
                used.update(re.findall(r"[A-Za-z_]\w*", sub.value))
    return used


def _without_exports(text: str, names: set[str]) -> str:
    """``text`` with ``names`` taken out of its ``__all__`` (they are exported where defined)."""
    tree = ast.parse(text)
    for node in tree.body:
        if isinstance(node, ast.Assign) and "__all__" in _defined(node):
            if not isinstance(node.value, ast.List | ast.Tuple):
                return text
            kept = [
                e for e in node.value.elts if not (isinstance(e, ast.Constant) and e.value in names)
            ]
            if len(kept) == len(node.value.elts):
                return text
            lines = text.splitlines(keepends=True)
            assert node.end_lineno is not None
            entries = ", ".join(ast.unparse(e) for e in kept)
            new = f"__all__ = [{entries}]\n"
            return "".join([*lines[: node.lineno - 1], new, *lines[node.end_lineno :]])
    return text


def move_definitions(src_mod: str, dst_mod: str, names: list[str]) -> None:
    src = module_path(src_mod)
    if src is None:
        problems.append(f"split: revwatch.{src_mod} is missing")
        return
    text = src.read_text()
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    picked = [n for n in tree.body if _defined(n) & set(names)]
    missing = set(names) - set().union(*(_defined(n) for n in picked)) if picked else set(names)
    if missing:
        problems.append(f"split revwatch.{src_mod} -> {dst_mod}: not found: {sorted(missing)}")
        return
    own = set().union(*(_defined(n) for n in tree.body)) - set(names)
    needs_own = (_names_used(picked) & own) - {"logger"}
    if needs_own:
        problems.append(
            f"split revwatch.{src_mod} -> {dst_mod}: the moved code uses {sorted(needs_own)} "
            "that stay behind; move them too (add them to SPLITS)"
        )
        return
    spans = [_span(lines, n) for n in picked]
    moved = "\n\n".join("".join(lines[a:b]).rstrip("\n") + "\n" for a, b in spans)
    keep = [line for i, line in enumerate(lines) if not any(a <= i < b for a, b in spans)]
    keep = _without_exports("".join(keep), set(names)).splitlines(keepends=True)
    # the source imports the moved names back (ruff drops those it does not use)
    rest_tree = ast.parse("".join(keep))
    at = _after_imports(rest_tree, plain=True)
    back = f"from revwatch.{dst_mod} import {', '.join(sorted(names))}\n"
    keep.insert(at, back)
    src.write_text("".join(keep))
    touched.add(src)

    dst = PKG.joinpath(*dst_mod.split(".")).with_suffix(".py")
    imports = _import_block(tree, lines)
    if dst_mod == "web.state":
        imports.append(STATE_HEADER)
    uses_logger = "logger" in _names_used(picked)
    if dst.exists():
        old = dst.read_text()
        old_lines = old.splitlines(keepends=True)
        at = _after_imports(ast.parse(old))
        new_text = "".join(old_lines[:at]) + "".join(imports) + "".join(old_lines[at:])
        new_text = new_text.rstrip("\n") + "\n\n\n" + moved
    else:
        doc = DOCS.get(dst_mod, f'"""Moved from revwatch.{src_mod}."""\n')
        head = doc + "\nfrom __future__ import annotations\n\n" + "".join(imports)
        if uses_logger:
            head += "\nimport logging\n\nlogger = logging.getLogger(__name__)\n"
        new_text = head + "\n\n" + moved
    dst.write_text(new_text)
    git("add", str(dst))
    touched.add(dst)


def delete_definitions(mod: str, names: list[str]) -> None:
    path = module_path(mod)
    if path is None:
        return
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    spans = [_span(lines, n) for n in tree.body if _defined(n) & set(names)]
    keep = [line for i, line in enumerate(lines) if not any(a <= i < b for a, b in spans)]
    rest_tree = ast.parse("".join(keep))
    keep.insert(
        _after_imports(rest_tree, plain=True),
        f"from revwatch.cli._common import {', '.join(names)}\n",
    )
    path.write_text("".join(keep))
    touched.add(path)


def drop_statements(path: Path, predicate: object, what: str) -> int:
    """Remove the top-level statements for which ``predicate(node)`` holds (and comments above)."""
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    spans = [_span(lines, n) for n in tree.body if predicate(n)]  # type: ignore[operator]
    if not spans:
        problems.append(f"{path.relative_to(ROOT)}: found no {what} to remove")
        return 0
    keep = [line for i, line in enumerate(lines) if not any(a <= i < b for a, b in spans)]
    path.write_text("".join(keep))
    touched.add(path)
    return len(spans)


def _imports_module(node: ast.stmt, modules: set[str]) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name in modules for a in node.names)
    if isinstance(node, ast.ImportFrom) and node.module:
        return node.module in modules or any(
            f"{node.module}.{a.name}" in modules for a in node.names
        )
    return False


def content_edits() -> None:
    # cli/main.py no longer imports its siblings to register them: cli/__init__ does.
    siblings = {"revwatch.cli_monitor", "revwatch.cli_web", "revwatch.cli_evaluate"}
    main = PKG / "cli" / "main.py"
    tree = ast.parse(main.read_text())
    last_def = max(
        (n.lineno for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)),
        default=0,
    )
    drop_statements(
        main,
        lambda n: n.lineno > last_def and _imports_module(n, siblings),
        "registration imports of the command modules",
    )
    for (src_mod, dst_mod), names in SPLITS.items():
        move_definitions(src_mod, dst_mod, names)
    for mod, names in DUPLICATES.items():
        delete_definitions(mod, names)

    # revwatch.detect: the plain function of the Python API, no module-class swap.
    init = PKG / "detectors" / "__init__.py"
    drop_statements(
        init,
        lambda n: (
            (isinstance(n, ast.ClassDef) and n.name == "_CallableModule")
            or (
                isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Attribute) and t.attr == "__class__" for t in n.targets)
            )
        ),
        "module-class swap",
    )
    text = init.read_text()
    text = re.sub(r"\n\nThe package is also callable:.*?(?=\n\"\"\"|\n\n)", "", text, flags=re.S)
    tree = ast.parse(text)
    used = _names_used([n for n in tree.body if not isinstance(n, ast.Import | ast.ImportFrom)])
    lines = text.splitlines(keepends=True)
    for node in reversed(tree.body):
        if isinstance(node, ast.Import | ast.ImportFrom):
            bound = {(a.asname or a.name).split(".")[0] for a in node.names}
            if not bound & used and getattr(node, "module", "") != "__future__":
                assert node.end_lineno is not None
                del lines[node.lineno - 1 : node.end_lineno]
    init.write_text("".join(lines))

    top = PKG / "__init__.py"
    text = top.read_text()
    text, n = re.subn(r"^from revwatch import detect\n", "", text, flags=re.M)
    if n:
        text = text.replace(
            "from revwatch.api import ",
            "from revwatch.api import detect\nfrom revwatch.api import ",
        )
    elif "from revwatch.pipeline import" not in text:
        problems.append("src/revwatch/__init__.py: no `from revwatch import detect` to replace")
    top.write_text(text)
    touched.add(top)

    # the old name's reason no longer holds
    notes_module = PKG / "incidents" / "annotations.py"
    text = notes_module.read_text()
    text = re.sub(
        r"\nNamed ``events_calendar`` so that it does not shadow the standard library's\n"
        r"``calendar`` module\.\n",
        "\nNamed ``annotations`` (it was ``events_calendar``): what it adds to an incident, and\n"
        "no third module called calendar beside :mod:`revwatch.detectors.calendar`.\n",
        text,
    )
    notes_module.write_text(text)

    # a module one level deeper finds the web templates one level up
    html = PKG / "report" / "html.py"
    text = html.read_text()
    if 'Path(__file__).parent / "web"' in text:
        html.write_text(
            text.replace('Path(__file__).parent / "web"', 'Path(__file__).parents[1] / "web"')
        )
    elif "parents[1]" not in text:
        problems.append("report/html.py: the path to web/ templates was not found; check it")
    for old, new in MOVES.items():
        path = module_path(new)
        deeper = new.count(".") > old.count(".")
        if (
            path is not None
            and deeper
            and path.name != "__init__.py"
            and new != "report.html"
            and "__file__" in path.read_text()
        ):
            problems.append(f"{path.relative_to(ROOT)} uses __file__ and moved one level deeper")


# ---------------------------------------------------------------------------------------------
# 4. references
# ---------------------------------------------------------------------------------------------


@dataclass
class Index:
    """Names each new module binds: defined at top level, or imported."""

    modules: set[str]
    defined: dict[str, set[str]] = field(default_factory=dict)
    imported: dict[str, set[str]] = field(default_factory=dict)
    exported: dict[str, set[str]] = field(default_factory=dict)
    packages: set[str] = field(default_factory=set)

    @classmethod
    def build(cls) -> Index:
        index = cls(all_modules())
        for mod in index.modules:
            path = module_path(mod)
            assert path is not None
            if path.name == "__init__.py":
                index.packages.add(mod)
            tree = ast.parse(path.read_text())
            defined, imported, exported = set(), set(), set()
            for node in tree.body:
                defined |= _defined(node)
                for sub in [
                    node,
                    *(node.body if isinstance(node, ast.If | ast.Try) else []),
                ]:
                    if isinstance(sub, ast.Import | ast.ImportFrom):
                        imported |= {(a.asname or a.name).split(".")[0] for a in sub.names}
                if isinstance(node, ast.Assign) and "__all__" in _defined(node):
                    exported = {
                        e.value
                        for e in ast.walk(node.value)
                        if isinstance(e, ast.Constant) and isinstance(e.value, str)
                    }
            index.defined[mod], index.imported[mod], index.exported[mod] = (
                defined,
                imported,
                exported,
            )
        return index


OLD_MODULES: set[str] = set()


def new_module_of(old: str) -> str:
    """Where old module ``old`` went (a module inside a moved package moves with it)."""
    if old in MOVES:
        return MOVES[old]
    if old not in OLD_MODULES:
        return old
    parts = old.split(".")
    for k in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:k])
        if head in MOVES:
            return ".".join([MOVES[head], *parts[k:]])
    return old


def successors(old: str) -> list[str]:
    primary = new_module_of(old)
    extra = [dst for (src, dst) in SPLITS if src == primary]
    if primary in DUPLICATES:
        extra.append("cli._common")
    return [primary, *extra]


def route(old: str, name: str, index: Index, where: str, importer: str | None = None) -> str:
    """The new module that ``from revwatch.<old> import <name>`` imports from."""
    inside = importer is not None and (importer == old or importer.startswith(old + "."))
    is_package = old in index.packages
    if is_package and name in index.exported.get(old, set()) and not inside:
        return old  # a package's public surface (revwatch.cli's app and main)
    if old in index.modules and f"{old}.{name}" in index.modules:
        return old  # a submodule of a package
    succ = successors(old)
    for mod in succ:
        if name in index.defined.get(mod, set()):
            return mod
    primary = succ[0]
    if f"{primary}.{name}" in index.modules:
        return primary
    if name in index.imported.get(primary, set()):
        return primary
    if primary != old or len(succ) > 1:
        (notes if where.startswith("reference") else problems).append(
            f"{where}: cannot place `{name}` of revwatch.{old}"
        )
    return primary


def dotted(mod: str) -> str:
    return f"revwatch.{mod}" if mod else "revwatch"


def rewrite_from(
    module: str,
    names: list[tuple[str, str | None]],
    index: Index,
    where: str,
    importer: str | None = None,
) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """``from <module> import names`` as a list of (module, names) statements."""
    old = module.removeprefix("revwatch").removeprefix(".")
    out: dict[str, list[tuple[str, str | None]]] = {}
    for name, asname in names:
        if old == "":
            if name in MOVES and name != "detect":
                new = new_module_of(name)
                parent, _, leaf = new.rpartition(".")
                alias = asname or name
                out.setdefault(dotted(parent), []).append((leaf, None if alias == leaf else alias))
            else:
                if name == "detect" and importer != "":
                    problems.append(f"{where}: `from revwatch import detect` is the function now")
                out.setdefault(module, []).append((name, asname))
        elif old not in OLD_MODULES or name == "*":
            out.setdefault(dotted(new_module_of(old)), []).append((name, asname))
        else:
            target = route(old, name, index, where, importer)
            if target == importer and asname in (None, name) and name in index.defined[target]:
                continue  # a name the module now defines itself
            out.setdefault(dotted(target), []).append((name, asname))
    return list(out.items())


def render_from(stmts: list[tuple[str, list[tuple[str, str | None]]]], sep: str) -> str:
    parts = []
    for mod, names in stmts:
        items = ", ".join(n if a is None else f"{n} as {a}" for n, a in names)
        parts.append(f"from {mod} import {items}")
    return sep.join(parts)


def map_dotted(text: str, index: Index) -> str:
    """A dotted reference ``revwatch.a.b.c`` after the moves."""
    parts = text.split(".")
    rest_old: list[str] = []
    old_prefix = None
    for k in range(len(parts), 1, -1):
        cand = ".".join(parts[1:k])
        if cand in OLD_MODULES:
            old_prefix, rest_old = cand, parts[k:]
            break
    if old_prefix is None:
        return text
    new_len = 1
    for k in range(len(parts), 1, -1):
        if ".".join(parts[1:k]) in index.modules:
            new_len = k
            break
    old_len = len(parts) - len(rest_old)
    if new_len > old_len:
        return text  # already a new path
    if new_len == old_len:
        new = ".".join(parts[1:new_len])
        if not rest_old:
            return text  # the package of the same name
        head = rest_old[0]
        bound = index.defined.get(new, set()) | index.exported.get(new, set())
        if head in bound and (new not in [src for src, _ in SPLITS]):
            return text
    if not rest_old:
        return dotted(new_module_of(old_prefix))
    if old_prefix == "detect" and rest_old[0].startswith("__"):
        return text  # an attribute of the function revwatch.detect
    target = route(old_prefix, rest_old[0], index, f"reference {text}")
    return ".".join([dotted(target), *rest_old])


DOTTED = re.compile(r"(?<![\w.])revwatch(?:\.[A-Za-z_]\w*)+")
FROM_TEXT = re.compile(
    r"\bfrom\s+(revwatch(?:\.\w+)*)\s+import\s+(\w+(?:\s+as\s+\w+)?(?:\s*,\s*\w+(?:\s+as\s+\w+)?)*)"
)
PATH_TEXT = re.compile(r"(?<![\w/])((?:src/)?revwatch/)((?:\w+/)*\w+)\.py\b")


def rewrite_text(text: str, index: Index, where: str) -> str:
    def from_sub(m: re.Match[str]) -> str:
        names = []
        for item in m.group(2).split(","):
            name, _, alias = item.strip().partition(" as ")
            names.append((name.strip(), alias.strip() or None))
        stmts = rewrite_from(m.group(1), names, index, where)
        return render_from(stmts, "; ")

    def dotted_sub(m: re.Match[str]) -> str:
        ref = m.group(0)
        before = text[max(0, m.start() - 6) : m.start()]
        after = text[m.end() : m.end() + 1]
        if ref == "revwatch.detect" and not before.endswith(":mod:`"):
            return ref  # the function
        if ref == "revwatch.detect" and after == "(":
            return ref
        return map_dotted(ref, index)

    def path_sub(m: re.Match[str]) -> str:
        mod = m.group(2).replace("/", ".")
        if mod.endswith(".__init__"):
            return m.group(0)
        if mod not in OLD_MODULES:
            return m.group(0)
        new = new_module_of(mod)
        return m.group(1) + new.replace(".", "/") + ".py"

    text = FROM_TEXT.sub(from_sub, text)
    text = DOTTED.sub(dotted_sub, text)
    text = PATH_TEXT.sub(path_sub, text)
    text = re.sub(
        r"(?<![\w./])((?:src/)?(?:revwatch/)?)detect/(?=\w+\.py|$|\s)",
        r"\1detectors/",
        text,
    )
    return re.sub(r"(?<![\w./])web/api\.py\b", "web/http_api.py", text)


def rewrite_python(path: Path, index: Index) -> None:
    importer = None
    if path.is_relative_to(PKG):
        parts = list(path.relative_to(PKG).with_suffix("").parts)
        importer = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    text = path.read_text()
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return
    lines = text.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        new: str | None = None
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "revwatch" or node.module.startswith("revwatch."):
                names = [(a.name, a.asname) for a in node.names]
                stmts = rewrite_from(node.module, names, index, where, importer)
                if stmts != [(node.module, names)]:
                    new = render_from(stmts, "\n" + " " * node.col_offset)
        elif isinstance(node, ast.Import):
            changed = False
            items = []
            for alias in node.names:
                name = alias.name
                if name.startswith("revwatch."):
                    old = name.removeprefix("revwatch.")
                    if old in OLD_MODULES and new_module_of(old) != old:
                        name = dotted(new_module_of(old))
                        changed = True
                items.append(name if alias.asname is None else f"{name} as {alias.asname}")
            if changed:
                new = "import " + ", ".join(items)
        if new is not None:
            assert node.end_lineno is not None and node.end_col_offset is not None
            first = lines[node.lineno - 1]
            last = lines[node.end_lineno - 1]
            edits.append(
                (
                    node.lineno - 1,
                    node.end_lineno,
                    first[: node.col_offset] + new + last[node.end_col_offset :],
                )
            )
    import_lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            assert node.end_lineno is not None
            import_lines.update(range(node.lineno - 1, node.end_lineno))
    out = []
    i = 0
    edit_at = {a: (b, t) for a, b, t in edits}
    while i < len(lines):
        if i in edit_at:
            b, t = edit_at[i]
            out.append(t)
            i = b
            continue
        line = lines[i]
        out.append(line if i in import_lines else rewrite_text(line, index, f"{path}:{i + 1}"))
        i += 1
    new_text = "".join(out)
    if new_text != text:
        path.write_text(new_text)
        touched.add(path)


def rewrite_references(index: Index) -> None:
    for top in PY_DIRS:
        for path in sorted((ROOT / top).rglob("*.py")):
            if path.name == "relayout.py":
                continue
            rewrite_python(path, index)
    for name in TEXT_FILES:
        base = ROOT / name
        for path in sorted([base] if base.is_file() else base.rglob("*.md")):
            text = path.read_text()
            new = rewrite_text(text, index, str(path.relative_to(ROOT)))
            if new != text:
                path.write_text(new)


# ---------------------------------------------------------------------------------------------
# 5. tidy
# ---------------------------------------------------------------------------------------------


def tidy() -> None:
    ruff = [sys.executable, "-m", "ruff"]
    venv_ruff = Path(sys.executable).parent / "ruff"
    if venv_ruff.exists():
        ruff = [str(venv_ruff)]
    files = sorted(str(p) for p in touched if p.exists())
    if not files:
        return
    for _ in range(2):  # a second pass for imports left unused by the first
        subprocess.run(
            [*ruff, "check", "--fix", "--select", "F401,I001", "-q", *files],
            check=False,
        )
        for path in map(Path, files):
            text = path.read_text()
            fixed = re.sub(r"\nif TYPE_CHECKING:\n    pass\n", "\n", text)
            if fixed != text:
                path.write_text(fixed)
    subprocess.run([*ruff, "format", "-q", *files], check=False)


def main() -> int:
    if not (PKG / "__init__.py").exists():
        sys.exit("relayout: run from the repository root (src/revwatch/__init__.py not found)")
    if (PKG / "cli" / "_common.py").exists():
        print("relayout: the layout is already in place; nothing to do")
        return 0
    if git("status", "--porcelain", "--untracked-files=no").strip() and "--force" not in sys.argv:
        sys.exit("relayout: commit or stash your changes first (or pass --force)")
    check_known()
    OLD_MODULES.update(m for m in all_modules() if m)
    do_moves()
    content_edits()
    index = Index.build()
    rewrite_references(index)
    tidy()
    if notes:
        print(
            "relayout: references to names that do not exist (left as they were):",
            *notes,
            sep="\n  ",
            file=sys.stderr,
        )
    if problems:
        print("relayout: done, but check these:", *problems, sep="\n  ", file=sys.stderr)
        return 1
    print("relayout: done; run ruff, mypy and the tests, then scripts/warm-kernels.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
