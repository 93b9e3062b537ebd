"""Config validation: errors name the file, line and key; `config init` output validates."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from revwatch.cli import app
from revwatch.errors import ConfigError
from revwatch.monitor.config import EXAMPLE_CONFIG, config_lines, load_config, parse_config

runner = CliRunner()


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_example_validates() -> None:
    cfg = parse_config(EXAMPLE_CONFIG, path="revwatch.toml")
    assert cfg.metrics[0].keys == ["account"]
    assert cfg.alerts.slack is not None and cfg.alerts.slack.webhook_url_env == "SLACK_WEBHOOK_URL"


@pytest.mark.parametrize(
    ("old", "new", "key", "needle"),
    [
        ('grain = "monthly"', 'grain = "semimonthly"', "metrics[0].grain", "semimonthly"),
        ("critical_confidence = 0.9", 'critical_confidence = "x"', "critical_confidence", '"x"'),
        ("retries = 4", "retries = 99", "alerts.retries", "retries = 99"),
        ('kind = "file" ', 'kynd = "file" ', "sources[0].kynd", "kynd"),
    ],
)
def test_bad_value_names_line_and_key(old: str, new: str, key: str, needle: str) -> None:
    text = EXAMPLE_CONFIG.replace(old, new, 1)
    assert text != EXAMPLE_CONFIG
    with pytest.raises(ConfigError) as info:
        parse_config(text, path="cfg.toml")
    message = str(info.value)
    assert message.startswith(f"cfg.toml:{_line_of(text, needle)}: ")
    assert key in message
    assert "\n" not in message


def test_missing_key_points_at_its_table() -> None:
    text = EXAMPLE_CONFIG.replace('source = "mrr"\n', "", 1)
    with pytest.raises(ConfigError, match=r"cfg.toml:\d+: metrics\[0\]\.source: Field required"):
        parse_config(text, path="cfg.toml")


def test_route_to_unconfigured_channel() -> None:
    text = EXAMPLE_CONFIG.replace('warning = ["slack"]', 'warning = ["email"]')
    with pytest.raises(ConfigError, match=r"routing.warning: channel 'email' has no"):
        parse_config(text, path="cfg.toml")


def test_unknown_metric_source() -> None:
    text = EXAMPLE_CONFIG.replace('source = "mrr"', 'source = "nope"')
    with pytest.raises(ConfigError, match=r"no source named 'nope'"):
        parse_config(text, path="cfg.toml")


def test_toml_syntax_error() -> None:
    with pytest.raises(ConfigError, match="TOML syntax error"):
        parse_config("[store\nurl=", path="cfg.toml")


def test_lines_of_arrays_of_tables() -> None:
    text = '[[sources]]\nname = "a"\n[[sources]]\nname = "b"\nrates = { EUR = 1.1 }\n'
    lines = config_lines(text)
    assert lines[("sources", 1, "name")] == 4
    assert lines[("sources", 1, "rates", "EUR")] == 5


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    (tmp_path / "revwatch.toml").write_text(EXAMPLE_CONFIG)
    cfg = load_config(tmp_path / "revwatch.toml")
    assert cfg.sources[0].path == str(tmp_path / "data/mrr-*.csv")
    assert cfg.store.url == f"sqlite:///{tmp_path / 'revwatch.db'}"


def test_cli_init_then_validate(tmp_path: Path) -> None:
    target = tmp_path / "revwatch.toml"
    result = runner.invoke(app, ["config", "init", str(target)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["config", "validate", str(target)]).exit_code == 0
    again = runner.invoke(app, ["config", "init", str(target)])
    assert again.exit_code == 2


def test_cli_validate_bad_file_exits_2(tmp_path: Path) -> None:
    target = tmp_path / "bad.toml"
    target.write_text(EXAMPLE_CONFIG.replace("digest = false", "digest = 3"))
    result = runner.invoke(app, ["config", "validate", str(target)])
    assert result.exit_code == 2
    line = _line_of(target.read_text(), "digest = 3")
    assert f"bad.toml:{line}: alerts.digest" in result.output
    assert "Traceback" not in result.output
    missing = runner.invoke(app, ["config", "validate", str(tmp_path / "none.toml")])
    assert missing.exit_code == 2


def test_web_section_names_the_token_variable(tmp_path: Path) -> None:
    default = 'token_env = "REVWATCH_API_TOKEN"'
    target = tmp_path / "web.toml"
    target.write_text(EXAMPLE_CONFIG.replace(default, 'token_env = "RW_TOKEN"'))
    assert load_config(target).web.token_env == "RW_TOKEN"
    target.write_text(EXAMPLE_CONFIG.replace(default, 'token_env = "not a name"'))
    with pytest.raises(ConfigError, match=r"web\.token_env"):
        load_config(target)


def _with_tiers(table: str) -> str:
    """The example config with its [metrics.tiers] table replaced."""
    start = EXAMPLE_CONFIG.index("[metrics.tiers]")
    end = EXAMPLE_CONFIG.index("# --- who hears")
    return EXAMPLE_CONFIG[:start] + "[metrics.tiers]\n" + table + "\n\n" + EXAMPLE_CONFIG[end:]


def test_deprecated_tier_keys_map_onto_the_tier_rule(caplog: pytest.LogCaptureFixture) -> None:
    from revwatch.monitor.runner import incident_settings

    old_keys = "critical_severity = 6.0\nwarning_severity = 4.5\ncritical_impact = 500.0"
    text = _with_tiers(old_keys)
    with caplog.at_level("WARNING", logger="revwatch.monitor.config"):
        cfg = parse_config(text, path="old.toml")
    message = " ".join(r.getMessage() for r in caplog.records)
    assert "old.toml:" in message and "deprecated" in message
    for key in ("critical_confidence", "warning_confidence", "critical_amount"):
        assert key in message
    settings = incident_settings(cfg.metrics[0], threshold=3.5)
    # the same cut on the same peak z: Phi(severity - threshold)
    assert settings.critical_confidence == pytest.approx(0.99379, abs=1e-4)
    assert settings.warning_confidence == pytest.approx(0.84134, abs=1e-4)
    assert settings.critical_amount == 500.0
    # the new keys load without a warning
    caplog.clear()
    with caplog.at_level("WARNING", logger="revwatch.monitor.config"):
        fresh = parse_config(EXAMPLE_CONFIG, path="new.toml")
    assert not caplog.records
    assert incident_settings(fresh.metrics[0], threshold=3.5).critical_amount == 20000.0


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ("critical_confidence = 0.6\nwarning_confidence = 0.8", "info <= warning <= critical"),
        ("critical_amount = 5.0\ncritical_impact = 5.0", "critical_amount only"),
        ("critical_share = 1.5\nwarning_share = 2.0", "warning_share <= critical_share"),
    ],
)
def test_bad_tier_tables_are_refused(table: str, problem: str) -> None:
    text = _with_tiers(table)
    with pytest.raises(ConfigError, match=problem):
        parse_config(text, path="bad.toml")


def test_dimensions_must_be_keys() -> None:
    text = EXAMPLE_CONFIG.replace('keys = ["account"]', 'keys = ["account"]\ndimensions = ["x"]')
    with pytest.raises(ConfigError, match="dimensions"):
        parse_config(text, path="bad.toml")


def test_the_shared_test_config_is_a_valid_config(tmp_path: Path) -> None:
    """tests/configs.py writes the MRR config the monitor's tests share; it loads as written."""
    from tests.configs import CHANNELS, Raw, channels, mrr_config, routing, store, table

    text = mrr_config(
        store_block=store("sqlite:///{folder}/store.db", schema=True),
        tiers={"critical_severity": 3.0},
        routes=routing(critical=list(CHANNELS), warning=["slack"]),
        alerts={"retries": 1, "timeout_seconds": Raw("{timeout}")},
        delivers_to=CHANNELS,
        email_login=True,
        extra=table("web", {"token_env": "REVWATCH_API_TOKEN"}),
    )
    path = tmp_path / "revwatch.toml"
    path.write_text(
        text.format(
            folder=tmp_path,
            schema="",
            timeout=3,
            pd_url="http://127.0.0.1:1/pd",
            smtp_port=25,
        )
    )
    config = load_config(path)
    assert config.source("mrr").time == "month"
    (metric,) = config.metrics
    assert (metric.value, list(metric.keys), metric.grain) == ("revenue", ["account"], "monthly")
    assert config.routing.critical == list(CHANNELS)
    assert "[alerts.email]" in channels("email") and "SMTP_USER" not in channels("email")
