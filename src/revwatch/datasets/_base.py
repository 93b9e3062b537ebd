"""The :class:`Dataset` container and :func:`write_dataset`.

Kept apart from the package ``__init__`` so that each generator module can
import the container without importing every other generator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["LABEL_COLUMNS", "Dataset", "write_dataset"]

#: Label columns a generator may keep in its in-memory frame (as its seed specifies);
#: they are written only to the labels file, so the data file is what a real export is.
FRAME_LABEL_COLUMNS: frozenset[str] = frozenset({"is_anomaly", "anomaly_type"})

#: Columns every ``labels`` frame has after its id and time columns.
LABEL_COLUMNS: tuple[str, ...] = ("type", "direction", "event_start")

#: Valid values of the ``type`` label column.
LABEL_TYPES: frozenset[str] = frozenset(
    {"spike", "drop", "level_shift", "trend_change", "seasonal_shift"}
)


@dataclass(frozen=True, eq=False)
class Dataset:
    """A generated data set together with its ground-truth anomaly labels.

    Parameters
    ----------
    name : str
        The registry name (``"saas-mrr"``, ...).
    frame : pandas.DataFrame
        The data in long format: one row per series and period.
    labels : pandas.DataFrame
        One row per truly anomalous (series, period): the id columns, the time
        column, ``type`` (spike, drop, level_shift, trend_change or
        seasonal_shift), ``direction`` (up or down), ``event_start`` (the
        period the event began) and any generator-specific extra columns.
    id_columns : tuple of str
        The columns that identify a series (empty for a single series).
    time_column : str
        The period column (``datetime64``).
    value_column : str
        The main value column.
    description : str
        One paragraph saying what the data set is.

    Notes
    -----
    ``eq=False``: two frames cannot be compared with ``==`` as a truth value,
    so equality is identity; compare ``frame`` and ``labels`` explicitly.
    """

    name: str
    frame: pd.DataFrame
    labels: pd.DataFrame
    id_columns: tuple[str, ...]
    time_column: str
    value_column: str
    description: str

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, rows={len(self.frame)}, "
            f"labels={len(self.labels)}, id_columns={self.id_columns!r}, "
            f"time_column={self.time_column!r}, value_column={self.value_column!r})"
        )


def write_dataset(dataset: Dataset, path: str | Path) -> tuple[Path, Path]:
    """Write a data set's frame and its labels beside it.

    The data goes to ``path`` as CSV or Parquet, chosen by the suffix
    (``.csv`` or ``.parquet``); the labels always go to
    ``<stem>_labels.csv`` in the same folder. Parent folders are created.
    Label columns of the frame (:data:`FRAME_LABEL_COLUMNS`) are left out of
    the data file, so that it reads like a real export.

    Parameters
    ----------
    dataset : Dataset
        What to write.
    path : str or pathlib.Path
        Where the data goes.

    Returns
    -------
    tuple of pathlib.Path
        ``(data_path, labels_path)``.

    Raises
    ------
    ParameterError
        If the suffix is neither ``.csv`` nor ``.parquet``.

    Examples
    --------
    >>> import tempfile
    >>> from revwatch.datasets import generate
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     data, labels = write_dataset(generate("saas-mrr"), Path(tmp) / "out" / "mrr.csv")
    ...     print(data.name, labels.name)
    mrr.csv mrr_labels.csv
    """
    data_path = Path(path)
    suffix = data_path.suffix.lower()
    if suffix not in {".csv", ".parquet"}:
        raise ParameterError(
            f"cannot write {data_path}: use a .csv or .parquet file name (got {suffix or 'none'!r})"
        )
    data_path.parent.mkdir(parents=True, exist_ok=True)
    labels_path = data_path.with_name(f"{data_path.stem}_labels.csv")
    data = dataset.frame.drop(
        columns=[c for c in dataset.frame.columns if c in FRAME_LABEL_COLUMNS]
    )
    if suffix == ".csv":
        data.to_csv(data_path, index=False)
    else:
        data.to_parquet(data_path, index=False)
    dataset.labels.to_csv(labels_path, index=False)
    logger.info(
        "wrote %s (%d rows) and %s (%d labels)",
        data_path,
        len(dataset.frame),
        labels_path,
        len(dataset.labels),
    )
    return data_path, labels_path
