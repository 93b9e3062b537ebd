"""Messages for files whose value column cannot be inferred."""

from __future__ import annotations

from pathlib import Path

import pytest

from revwatch.data import from_frame, load
from revwatch.errors import InputError, MissingColumnError


def test_a_typo_in_an_otherwise_numeric_column_is_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "typo.csv"
    path.write_text("account,month,mrr\nA,2024-01-01,100\nA,2024-02-01,abc\nA,2024-03-01,120\n")
    with pytest.raises(InputError, match=r"typo\.csv, line 3, column 'mrr': cannot read 'abc'"):
        load(path)


def test_a_file_with_only_a_date_column_says_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "dates.csv"
    path.write_text("month\n2024-01-01\n2024-02-01\n")
    with pytest.raises(MissingColumnError, match=r"dates\.csv: .*needs a numeric column"):
        load(path)


def test_a_value_column_with_every_cell_blank_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("account,month,mrr\nA,2024-01-01,\nA,2024-02-01,\nA,2024-03-01,\n")
    with pytest.raises(InputError, match=r"blank\.csv, column 'mrr': every cell is blank"):
        load(path, value="mrr")


@pytest.mark.parametrize("bad", [float("inf"), float("-inf")])
def test_an_infinite_amount_in_parquet_is_named_by_row(tmp_path: Path, bad: float) -> None:
    """Numeric columns (Parquet, DataFrames) must hold finite amounts, as CSV text must."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(
        {
            "account": ["A", "A", "A", "B"],
            "month": pd.date_range("2024-01-01", periods=4, freq="MS"),
            "mrr": [100.0, bad, 120.0, np.nan],
        }
    )
    path = tmp_path / "amounts.parquet"
    frame.to_parquet(path)
    before = path.read_bytes()
    with pytest.raises(
        InputError,
        match=r"amounts\.parquet, row 2, column 'mrr': '-?inf' is not a finite number; replace it",
    ):
        load(path, id="account", time="month", value="mrr")
    assert path.read_bytes() == before
    with pytest.raises(InputError, match=r"column 'mrr': '-?inf' is not a finite number"):
        from_frame(frame, id="account", time="month", value="mrr")


def test_an_infinite_amount_does_not_change_which_column_is_the_value() -> None:
    """Inference still takes the numeric column as the value and then names the bad row."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(
        {
            "account": ["A", "A", "A"],
            "month": pd.date_range("2024-01-01", periods=3, freq="MS"),
            "mrr": [100.0, np.inf, 120.0],
        }
    )
    with pytest.raises(
        InputError, match=r"<frame>, index 1, column 'mrr': 'inf' is not a finite number"
    ):
        from_frame(frame)
