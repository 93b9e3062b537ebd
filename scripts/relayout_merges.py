"""After scripts/relayout.py: one store opener for the CLI options, one stderr console (issue 16)."""
# ruff: noqa
# A one-off, like relayout.py: run it after relayout.py on the moved tree.

from pathlib import Path
import re, sys

TEST_CLI_COMMON = '"""The pieces every command shares: the store options and the one stderr console."""\n\nfrom __future__ import annotations\n\nfrom pathlib import Path\n\nimport pytest\n\nfrom revwatch.cli._common import _open_store\nfrom revwatch.errors import ParameterError\nfrom revwatch.monitor.config import EXAMPLE_CONFIG\nfrom revwatch.report.terminal import stderr_console\n\nDEFAULT_URL = \'url = "sqlite:///revwatch.db"\'\n\n\ndef _config(path: Path, db: Path) -> Path:\n    assert DEFAULT_URL in EXAMPLE_CONFIG\n    path.write_text(EXAMPLE_CONFIG.replace(DEFAULT_URL, f\'url = "sqlite:///{db}"\'))\n    return path\n\n\n@pytest.mark.parametrize(\n    ("given_config", "given_store", "cwd_toml", "db", "has_config"),\n    [\n        # --store wins; a --config given beside it is still read (for currency, health)\n        (True, True, False, "url.db", True),\n        (False, True, False, "url.db", False),\n        # --config names the store\n        (True, False, False, "config.db", True),\n        # neither: revwatch.toml in the working directory, without its config\n        (False, False, True, "cwd.db", False),\n    ],\n)\ndef test_open_store_resolves_the_options(\n    tmp_path: Path,\n    monkeypatch: pytest.MonkeyPatch,\n    given_config: bool,\n    given_store: bool,\n    cwd_toml: bool,\n    db: str,\n    has_config: bool,\n) -> None:\n    monkeypatch.chdir(tmp_path)\n    config = _config(tmp_path / "given.toml", tmp_path / "config.db") if given_config else None\n    if cwd_toml:\n        _config(tmp_path / "revwatch.toml", tmp_path / "cwd.db")\n    store_url = f"sqlite:///{tmp_path / \'url.db\'}" if given_store else None\n    store, cfg = _open_store(config, store_url)\n    assert store.url == f"sqlite:///{tmp_path / db}"\n    assert (cfg is not None) == has_config\n\n\ndef test_open_store_without_options_says_what_to_give(\n    tmp_path: Path, monkeypatch: pytest.MonkeyPatch\n) -> None:\n    monkeypatch.chdir(tmp_path)\n    with pytest.raises(ParameterError, match=r"--config revwatch\\.toml or --store URL"):\n        _open_store(None, None)\n\n\n@pytest.mark.parametrize("width", [140, 180])\ndef test_stderr_console_is_wide_off_a_terminal(width: int) -> None:\n    console = stderr_console(width=width)  # pytest captures stderr: not a terminal\n    assert console.stderr\n    assert not console.is_terminal\n    assert console.width == width\n'


def edit(path, a, b, count=1):
    p = Path(path)
    s = p.read_text()
    if s.count(a) != count:
        sys.exit(f"{path}: expected {count} of {a[:70]!r}, found {s.count(a)}")
    p.write_text(s.replace(a, b))


# ---- one store opener
p = Path("src/revwatch/cli/_common.py")
s = p.read_text()
a = s[s.index("def _store(") :]
a = a[
    : a.index("return open_store(load_config(config))")
    + len("return open_store(load_config(config))")
]
s = s.replace(
    a,
    '''def _open_store(config: Path | None, store: str | None) -> tuple[Store, Config | None]:
    """The store ``--store`` or ``--config`` names, and the config when ``--config`` was given.

    Without either, the store of ``revwatch.toml`` in the working directory (its config is not
    returned: only an explicit ``--config`` switches on what a config adds, such as the
    stale-source checks of ``health``). SQLAlchemy and pydantic are imported here: they cost
    about 0.4 s that ``revwatch detect`` never needs.
    """
    from revwatch.monitor.config import load_config
    from revwatch.monitor.runner import open_store
    from revwatch.monitor.store import Store

    cfg = load_config(config) if config else None
    if store:
        return Store(store), cfg
    if cfg is not None:
        return open_store(cfg), cfg
    if not Path("revwatch.toml").exists():
        raise ParameterError("give --config revwatch.toml or --store URL")
    return open_store(load_config(Path("revwatch.toml"))), None''',
)
s = s.replace(
    """if TYPE_CHECKING:
    from revwatch.monitor.store import Store""",
    """if TYPE_CHECKING:
    from revwatch.monitor.config import Config
    from revwatch.monitor.store import Store""",
)
p.write_text(s)
p = Path("src/revwatch/cli/monitor.py")
s = p.read_text()
s = s.replace("_store(config, store)", "_open_store(config, store)[0]")
old_health = re.search(
    r"    from revwatch\.monitor\.config import load_config\n    from revwatch\.monitor\.runner import health, open_store\n    from revwatch\.monitor\.store import Store\n\n    with _user_errors\(\):\n        cfg = load_config\(config\) if config else None\n        st = Store\(store\) if store else \(open_store\(cfg\) if cfg else _store\(None, None\)\)\n",
    s,
)
if not old_health:
    sys.exit("cli/monitor.py: health's store opening not found")
s = s.replace(
    old_health.group(0),
    """    from revwatch.monitor.runner import health

    with _user_errors():
        st, cfg = _open_store(config, store)
""",
)
s = re.sub(r"\b_store\b(?=[,)\s])", "_open_store", s)
p.write_text(s)
p = Path("src/revwatch/cli/web.py")
s = p.read_text()
a = s[s.index("def _open(") : s.index('@app.command("serve")')]
s = s.replace(a, "")
s = s.replace("_open(config, store)", "_open_store(config, store)")
s = re.sub(r"\b_store\b(?=[,)\s])", "_open_store", s)
p.write_text(s)

# ---- one stderr console
t = Path("src/revwatch/report/terminal.py")
s = t.read_text()
i = s.index("\ndef ")
s = (
    s[:i]
    + '''
def stderr_console(width: int = 140) -> Console:
    """The console for tables and notes: stderr, ``width`` columns when it is not a terminal.

    Pipes and CI logs get a fixed width so that wide tables are not cut to 80 columns; a
    terminal keeps its own width.

    Examples
    --------
    >>> stderr_console(width=180).stderr
    True
    """
    console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=True, width=width)
    return console

'''
    + s[i:]
)
t.write_text(s)
edit(
    t,
    "    out = console if console is not None else Console(stderr=True)",
    "    out = console if console is not None else stderr_console()",
)
edit(
    t,
    "Where to print; default a new ``Console(stderr=True)``.",
    "Where to print; default :func:`stderr_console`.",
)
p = Path("src/revwatch/cli/_common.py")
s = p.read_text()
a = s[s.index("def _stderr() -> Console:") : s.index("@contextlib.contextmanager")]
s = s.replace(a, "")
s = s.replace(
    "from revwatch.report.terminal import printable\n",
    "from revwatch.report.terminal import printable, stderr_console\n",
)
doc = s[: s.index('"""', 3) + 3]
s = s.replace(
    doc,
    '''"""What every command module shares: the typer app, the store options and the store they
name, the error handling and the logging set-up (tables and notes go to
:func:`revwatch.report.terminal.stderr_console`).

The command modules import this module, never each other, so there is no import circle
inside :mod:`revwatch.cli`.
"""''',
)
p.write_text(s)
for f in sorted(Path("src/revwatch/cli").glob("*.py")):
    s = f.read_text()
    n = s.replace("_stderr()", "stderr_console()")
    n = re.sub(r"(from revwatch\.cli\._common import [^\n(]*?)\b_stderr, ", r"\1", n)
    n = re.sub(r"(from revwatch\.cli\._common import \([^)]*?)\n    _stderr,", r"\1", n, flags=re.S)
    if n != s and f.name != "_common.py":
        n = n.replace(
            "from revwatch.cli._common import",
            "from revwatch.report.terminal import stderr_console\nfrom revwatch.cli._common import",
            1,
        )
    if n != s:
        f.write_text(n)
edit(
    "src/revwatch/incidents/build.py",
    """        console = Console(stderr=True)
        if not console.is_terminal:  # pipes and CI logs: wide enough for every column
            console = Console(stderr=True, width=180)
""",
    """        console = stderr_console(width=180)  # pipes and CI logs: wide enough for every column
""",
)
edit(
    "src/revwatch/incidents/build.py",
    """        from rich.console import Console
        from rich.table import Table""",
    """        from rich.table import Table""",
)
edit(
    "src/revwatch/incidents/build.py",
    """        from revwatch.report.terminal import printable
""",
    """        from revwatch.report.terminal import printable, stderr_console
""",
)
Path("tests/test_cli_common.py").write_text(TEST_CLI_COMMON)
p = Path("tests/test_layout.py")
s = p.read_text()
edit(
    p,
    """        ("_stderr", "revwatch.cli._common"),
""",
    """        ("_open_store", "revwatch.cli._common"),
        ("open_store", "revwatch.monitor.runner"),
        ("stderr_console", "revwatch.report.terminal"),
""",
)
s = (
    p.read_text()
    + '''

def test_one_stderr_console() -> None:
    """Tables and notes on stderr come from one function (one width rule)."""
    makers = [
        module
        for module, (path, _) in _modules().items()
        if "Console(stderr=True" in path.read_text(encoding="utf-8")
    ]
    assert makers == ["revwatch.report.terminal"]
'''
)
p.write_text(s)
print("merge1 applied")
