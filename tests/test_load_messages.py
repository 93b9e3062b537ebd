"""Messages for files whose value column cannot be inferred."""

from __future__ import annotations

from pathlib import Path

import pytest

from revwatch.data import load
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
