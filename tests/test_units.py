"""Units: parsing, inference, the one formatting function, totals per unit, config and CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from revwatch.cli import app
from revwatch.errors import ConfigError, ParameterError
from revwatch.monitor.config import EXAMPLE_CONFIG, parse_config
from revwatch.units import Unit, format_amount, infer_unit, totals_by_unit
from revwatch.web.views import amount, money

USD, EUR = Unit.parse("money:USD"), Unit.parse("money:EUR")
COUNT, RATIO, PERCENT = Unit.parse("count"), Unit.parse("ratio"), Unit.parse("percent")
M = "\u2212"


@pytest.mark.parametrize(
    ("value", "unit", "plain", "compact"),
    [
        (0, USD, "$0", "$0"),
        (1, USD, "$1", "$1"),
        (999, USD, "$999", "$999"),
        (1_000, USD, "$1,000", "$1k"),
        (300_000, USD, "$300,000", "$300k"),  # was "$3k" on the axes
        (120_000, USD, "$120,000", "$120k"),
        (1_500_000, USD, "$1,500,000", "$1.5M"),
        (-300_000, EUR, f"{M}€300,000", f"{M}€300k"),
        (-1, USD, f"{M}$1", f"{M}$1"),
        (0, COUNT, "0", "0"),
        (1, COUNT, "1", "1"),
        (999, COUNT, "999", "999"),
        (1_000, COUNT, "1,000", "1k"),
        (300_000, COUNT, "300,000", "300k"),
        (1_500_000, COUNT, "1,500,000", "1.5M"),
        (-1_152, COUNT, f"{M}1,152", f"{M}1.15k"),
        (0.0, RATIO, "0.0 %", "0.0 %"),
        (0.953, RATIO, "95.3 %", "95.3 %"),
        (-0.05, RATIO, f"{M}5.0 %", f"{M}5.0 %"),
        (42.0, PERCENT, "42.0 %", "42.0 %"),
        (float("nan"), USD, "–", "–"),
        (None, COUNT, "–", "–"),
    ],
)
def test_format_amount(value: float, unit: Unit, plain: str, compact: str) -> None:
    assert format_amount(value, unit) == plain
    assert format_amount(value, unit, compact=True) == compact


def test_money_of_the_pages_is_the_same_function() -> None:
    for value in (0, 1, 999, 1_000, 300_000, 1_500_000, -300_000):
        assert money(value, compact=True) == format_amount(value, USD, compact=True)
        assert amount(value, "count") == format_amount(value, COUNT)
    assert amount(5.0, None, currency="CHF ") == "CHF 5"  # a v3 row: money in --currency


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), st.booleans())
def test_the_sign_is_never_lost(value: float, compact: bool) -> None:
    for unit in (USD, COUNT):
        text = format_amount(value, unit, compact=compact)
        digits = text.lstrip(M).lstrip("$")
        shown_zero = digits in ("0", "0k")
        assert text.startswith(M) == (value < 0 and not shown_zero)


@pytest.mark.parametrize(
    ("name", "values", "kind"),
    [
        ("transaction_count", [3, 5, 8], "count"),
        ("orders", [10, 12], "count"),
        ("orders", [10.5, 12], "money"),  # not whole numbers
        ("revenue", [3, 5, 8], "money"),  # whole numbers, not named like a count
        ("payment_success_rate", [0.97, 0.95, 1.0], "ratio"),
        ("refund_rate", [0.5, 1.5], "money"),  # outside [0, 1]
        ("churn_pct", [2.5, 3.0], "percent"),
        ("mrr", [np.nan, np.nan], "money"),
    ],
)
def test_infer_unit(name: str, values: list[float], kind: str) -> None:
    assert infer_unit(name, values).kind == kind


@pytest.mark.parametrize("text", ["dollars", "money:EURO", "count:EUR"])
def test_bad_units_are_refused(text: str) -> None:
    with pytest.raises(ParameterError, match="unit"):
        Unit.parse(text)


def test_totals_never_add_different_units_nor_ratios() -> None:
    rows = [
        {"impact": -100.0, "unit": "money:USD"},
        {"impact": -50.0, "unit": "money:EUR"},
        {"impact": 7.0, "unit": "count"},
        {"impact": 3.0, "unit": "count"},
        {"impact": -0.4, "unit": "ratio"},
        {"impact": 10.0, "unit": "percent"},
    ]
    assert totals_by_unit(rows) == {"money:USD": -100.0, "money:EUR": -50.0, "count": 10.0}


def test_config_unit_is_validated_with_its_line() -> None:
    text = EXAMPLE_CONFIG.replace('keys = ["account"]', 'keys = ["account"]\nunit = "dollars"')
    with pytest.raises(ConfigError, match=r"revwatch.toml:\d+: metrics\[0\].*dollars"):
        parse_config(text, path="revwatch.toml")
    ok = EXAMPLE_CONFIG.replace('keys = ["account"]', 'keys = ["account"]\nunit = "money:EUR"')
    assert parse_config(ok, path="revwatch.toml").metrics[0].unit == "money:EUR"


def _counts_csv(folder: Path) -> Path:
    rng = np.random.default_rng(3)
    days = pd.date_range("2025-01-01", periods=90, freq="D")
    values = rng.poisson(200, size=(3, len(days)))
    values[1, 70:74] = 40  # a drop in transactions
    frame = pd.DataFrame(
        {
            "shop": np.repeat(["s0", "s1", "s2"], len(days)),
            "day": np.tile(days, 3),
            "transactions": values.ravel(),
        }
    )
    path = folder / "counts.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("option", "unit"), [([], "count"), (["--unit", "money:EUR"], "money:EUR")]
)
def test_detect_incidents_carry_the_unit(tmp_path: Path, option: list[str], unit: str) -> None:
    path = _counts_csv(tmp_path)
    args = ["detect", str(path), "--id", "shop", "--time", "day", "--value", "transactions"]
    result = CliRunner().invoke(app, [*args, "--incidents", "--format", "json", "-q", *option])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found and {f["unit"] for f in found} == {unit}
    table = CliRunner().invoke(app, [*args, "--incidents", *option])
    assert table.exit_code == 0
    # calendar notes have their own column, not "cause"; the id is shown
    header = next(line for line in table.output.splitlines() if "tier" in line and "id" in line)
    assert "root cause" in header and "calendar" in header
    assert found[0]["incident_id"] in table.output
    assert ("$" in table.output) is False and (("€" in table.output) == (unit == "money:EUR"))


def test_detect_refuses_a_bad_unit(tmp_path: Path) -> None:
    path = _counts_csv(tmp_path)
    args = ["detect", str(path), "--id", "shop", "--time", "day", "--value", "transactions"]
    result = CliRunner().invoke(app, [*args, "--incidents", "--unit", "bananas"])
    assert result.exit_code == 2 and "bananas" in result.output
    assert "Traceback" not in result.output
