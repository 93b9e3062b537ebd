"""Property: one known panel written in any CSV dialect, encoding, number style and date
spelling is read back exactly, or refused with a user error (exit 2), never read wrong."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revwatch.data import load
from revwatch.errors import RevwatchError

ACCOUNTS = ("Zürich AG", "acme", "Beta-Co")
MONTHS = pd.date_range("2023-01-01", periods=8, freq="MS")
rng = np.random.default_rng(7)
VALUES = np.round(rng.uniform(-2_000, 250_000, size=(len(ACCOUNTS), len(MONTHS))), 2)

DATE_SPELLINGS = ("%Y-%m-%d", "%Y-%m", "%b %Y", "%Y/%m")  # read one way only


def spell_number(value: float, style: str) -> str:
    text = f"{abs(value):,.2f}"  # 1,234.56
    if style == "plain":
        text = text.replace(",", "")
    elif style == "comma-decimal":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    elif style == "space-comma":
        text = text.replace(",", " ").replace(".", ",")
    elif style == "dollar":
        text = "$" + text
    return ("-" if value < 0 else "") + text


@st.composite
def exports(draw: st.DrawFn) -> dict:
    return {
        "delimiter": draw(st.sampled_from([",", ";", "\t", "|"])),
        "quoting": draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])),
        "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])),
        "style": draw(
            st.sampled_from(["plain", "thousands", "comma-decimal", "space-comma", "dollar"])
        ),
        "date": draw(st.sampled_from(DATE_SPELLINGS)),
        "line_end": draw(st.sampled_from(["\n", "\r\n"])),
        "order": draw(st.permutations(range(len(ACCOUNTS) * len(MONTHS)))),
        "blank_line": draw(st.booleans()),
    }


def write_export(path: Path, spec: dict) -> None:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=spec["delimiter"],
        quoting=spec["quoting"],
        lineterminator=spec["line_end"],
    )
    writer.writerow(["account", "month", "revenue"])
    cells = [
        (account, month.strftime(spec["date"]), spell_number(VALUES[a, m], spec["style"]))
        for a, account in enumerate(ACCOUNTS)
        for m, month in enumerate(MONTHS)
    ]
    for position in spec["order"]:
        writer.writerow(cells[position])
    text = buffer.getvalue()
    if spec["blank_line"]:
        text += spec["line_end"]
    path.write_bytes(text.encode(spec["encoding"]))


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=exports())
def test_known_panel_is_read_back_or_refused(tmp_path: Path, spec: dict) -> None:
    path = tmp_path / "export.csv"
    write_export(path, spec)
    try:
        panel = load(path)
    except RevwatchError as error:
        refused = str(error)
    else:
        refused = ""
    if refused:
        assert "\n" not in refused  # the one-line user error (exit 2)
        return
    assert panel.id_columns == ("account",)
    assert panel.freq == "monthly"
    frame = panel.frame.sort_values(["account", "period"]).reset_index(drop=True)
    expected = pd.DataFrame(
        {
            "account": np.repeat(ACCOUNTS, len(MONTHS)),
            "period": np.tile(MONTHS.to_numpy(), len(ACCOUNTS)),
            "value": VALUES.ravel(),
        }
    ).sort_values(["account", "period"], ignore_index=True)
    assert frame["account"].tolist() == expected["account"].tolist()
    assert frame["period"].tolist() == expected["period"].tolist()
    np.testing.assert_allclose(frame["value"].to_numpy(), expected["value"].to_numpy(), atol=1e-9)


def test_every_dialect_reads_back_at_least_once(tmp_path: Path) -> None:
    """The property is not vacuous: each style and encoding is read, not only refused."""
    base = {
        "delimiter": ",",
        "quoting": csv.QUOTE_MINIMAL,
        "date": "%Y-%m-%d",
        "line_end": "\n",
        "order": list(range(len(ACCOUNTS) * len(MONTHS))),
        "blank_line": False,
    }
    for style in ("plain", "thousands", "comma-decimal", "space-comma", "dollar"):
        for encoding in ("utf-8", "utf-16", "utf-16-le", "cp1252"):
            for delimiter in (",", ";"):
                spec = {**base, "style": style, "encoding": encoding, "delimiter": delimiter}
                path = tmp_path / f"{style}-{encoding}-{delimiter == ','}.csv"
                write_export(path, spec)
                panel = load(path)
                values = panel.frame.sort_values(["account", "period"])["value"].to_numpy()
                order = np.argsort(np.repeat(ACCOUNTS, len(MONTHS)), kind="stable")
                np.testing.assert_allclose(values, VALUES.ravel()[order], atol=1e-9)
