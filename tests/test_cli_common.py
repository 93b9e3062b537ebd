"""The pieces every command shares: the store options and the one stderr console."""

from __future__ import annotations

from pathlib import Path

import pytest

from revwatch.cli._common import _open_store
from revwatch.errors import ParameterError
from revwatch.monitor.config import EXAMPLE_CONFIG
from revwatch.report.terminal import stderr_console

DEFAULT_URL = 'url = "sqlite:///revwatch.db"'


def _config(path: Path, db: Path) -> Path:
    assert DEFAULT_URL in EXAMPLE_CONFIG
    path.write_text(EXAMPLE_CONFIG.replace(DEFAULT_URL, f'url = "sqlite:///{db}"'))
    return path


@pytest.mark.parametrize(
    ("given_config", "given_store", "cwd_toml", "db", "has_config"),
    [
        # --store wins; a --config given beside it is still read (for currency, health)
        (True, True, False, "url.db", True),
        (False, True, False, "url.db", False),
        # --config names the store
        (True, False, False, "config.db", True),
        # neither: revwatch.toml in the working directory, without its config
        (False, False, True, "cwd.db", False),
    ],
)
def test_open_store_resolves_the_options(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    given_config: bool,
    given_store: bool,
    cwd_toml: bool,
    db: str,
    has_config: bool,
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path / "given.toml", tmp_path / "config.db") if given_config else None
    if cwd_toml:
        _config(tmp_path / "revwatch.toml", tmp_path / "cwd.db")
    store_url = f"sqlite:///{tmp_path / 'url.db'}" if given_store else None
    store, cfg = _open_store(config, store_url)
    assert store.url == f"sqlite:///{tmp_path / db}"
    assert (cfg is not None) == has_config


def test_open_store_without_options_says_what_to_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ParameterError, match=r"--config revwatch\.toml or --store URL"):
        _open_store(None, None)


@pytest.mark.parametrize("width", [140, 180])
def test_stderr_console_is_wide_off_a_terminal(width: int) -> None:
    console = stderr_console(width=width)  # pytest captures stderr: not a terminal
    assert console.stderr
    assert not console.is_terminal
    assert console.width == width


@pytest.mark.parametrize("command", ["methods", "detect"])
def test_a_reader_that_goes_away_is_not_an_internal_error(command: str, tmp_path: Path) -> None:
    """``revwatch methods | head -1``: the pipe closes early; nothing to report, exit 141."""
    import subprocess
    import sys

    args = ["methods"]
    if command == "detect":
        args = ["detect", str(_generated(tmp_path)), "--format", "csv", "--all"]
    child = subprocess.Popen(
        [sys.executable, "-m", "revwatch.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()  # the reader is gone before the command writes anything
    err = child.stderr.read().decode()
    code = child.wait(timeout=60)
    assert "internal error" not in err and "Traceback" not in err, err
    assert code == 141


def _generated(folder: Path) -> Path:
    from revwatch.datasets import generate, write_dataset

    path, _ = write_dataset(generate("saas-mrr", seed=1), folder / "mrr.csv")
    return Path(path)
