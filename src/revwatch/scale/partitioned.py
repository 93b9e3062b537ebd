"""Data bigger than memory: detection in partitions of whole series.

:func:`detect_partitioned` reads a Parquet file (or a folder of Parquet
files) once, in record batches, and spills each row into one of ``K``
partitions chosen by a hash of its series key (:func:`series_buckets`), so
every series lands whole in exactly one partition. Each partition is then
loaded, validated and scored by the same engine as :func:`revwatch.detect`
and its results are written out before the next one is read: peak memory is
one record batch plus one partition, not the whole table.

The same :func:`series_buckets` decides the Spark buckets in
:mod:`revwatch.scale.spark`, so a partitioned run and a Spark run with the same
number of buckets score exactly the same groups of series.

Whole-panel vs partitioned results
----------------------------------
Methods that score each series from its own past only (``seed-rolling``,
``rolling-zscore``, ...) give identical rows whatever the partitioning.
``auto`` also borrows strength across the portfolio: the median relative
noise scale of the series with enough history (a prior for short series) and
the median seasonal index per period. Those medians are taken within a
partition, so with many series per partition they are estimated from a large
random sample of the portfolio (hash buckets are random with respect to the
data) and differ only slightly from the whole-panel medians; flags near the
threshold can change. Keep partitions large (the default aims at 250,000
series each) and see ``docs/scale.md`` for the measured difference.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from revwatch.errors import InputError, ParameterError

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_SERIES_PER_PARTITION", "detect_partitioned", "series_buckets"]

#: Series per partition when neither ``partitions`` nor ``series_per_partition`` is given.
DEFAULT_SERIES_PER_PARTITION = 250_000

#: Rows read from the source per record batch.
BATCH_ROWS = 1_000_000


def series_buckets(keys: pd.DataFrame, n_buckets: int) -> np.ndarray:
    """The partition (``0 .. n_buckets - 1``) of each row, from its series key.

    A deterministic hash of the key columns' values (pandas'
    ``hash_pandas_object``, the same on every machine and process), so a
    series always lands in the same bucket, whichever batch, file or Spark
    task its rows come from.

    Parameters
    ----------
    keys : DataFrame
        The series key columns (none: one single series, bucket 0).
    n_buckets : int
        Number of partitions, at least 1.

    Returns
    -------
    ndarray of int64

    Examples
    --------
    >>> keys = pd.DataFrame({"account": ["a", "b", "a"]})
    >>> buckets = series_buckets(keys, 4)
    >>> bool(buckets[0] == buckets[2]), bool(((buckets >= 0) & (buckets < 4)).all())
    (True, True)
    """
    if n_buckets < 1:
        raise ParameterError(f"the number of partitions must be at least 1, got {n_buckets}")
    if keys.shape[1] == 0 or n_buckets == 1:
        return np.zeros(len(keys), dtype=np.int64)
    text = keys.astype(str)  # the same key hashes the same whatever the source's dtype
    hashed = pd.util.hash_pandas_object(text, index=False).to_numpy()
    return (hashed % np.uint64(n_buckets)).astype(np.int64)


def _dataset(source: str | Path) -> Any:
    import pyarrow.dataset as ds

    path = Path(source).expanduser()
    if not path.exists():
        raise InputError(f"{path}: does not exist; check the path")
    try:
        return ds.dataset(str(path), format="parquet")
    except Exception as error:  # pyarrow raises several types for a bad file
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(
            f"{path}: cannot read as Parquet ({first}); check that it is a Parquet file or folder"
        ) from None


def _count_series(dataset: Any, ids: list[str]) -> int:
    """Distinct series keys, from one pass over the key columns only."""
    if not ids:
        return 1
    seen: np.ndarray = np.zeros(0, dtype=np.uint64)
    for batch in dataset.to_batches(columns=ids, batch_size=BATCH_ROWS):
        keys = batch.to_pandas().astype(str)
        hashed = pd.util.hash_pandas_object(keys, index=False).to_numpy()
        seen = np.unique(np.concatenate([seen, np.unique(hashed)]))
    return len(seen)


def detect_partitioned(
    source: str | Path,
    *,
    id: str | Sequence[str],
    time: str,
    value: str,
    method: str = "auto",
    partitions: int | None = None,
    series_per_partition: int | None = None,
    output: str | Path | None = None,
    all_rows: bool = False,
    details: bool = False,
    freq: str | None = None,
    spill_dir: str | Path | None = None,
    **params: Any,
) -> pd.DataFrame | Path:
    """Run ``method`` over a Parquet source too big for memory, in partitions of whole series.

    Parameters
    ----------
    source : str or Path
        A Parquet file or a folder of Parquet files (a pyarrow dataset).
    id, time, value : str
        Series key column(s), period column and value column (no inference:
        a partition is not the whole table).
    method : str, default "auto"
        A method name, as for :func:`revwatch.detect`.
    partitions : int, optional
        Number of partitions. Give this or ``series_per_partition``.
    series_per_partition : int, optional
        Target series per partition; the series are counted in a first pass
        over the key columns. Default :data:`DEFAULT_SERIES_PER_PARTITION`.
    output : str or Path, optional
        Write the results here as they are produced (``.csv`` or
        ``.parquet``), one partition after another; each partition's rows
        are ranked, the file as a whole is not. None returns one frame
        ranked like :func:`revwatch.detect`.
    all_rows, details : bool
        As for :func:`revwatch.detect`.
    freq : str, optional
        The frequency; inferred from the first partition and then used for
        all of them when omitted.
    spill_dir : str or Path, optional
        Where the partition files are spilled (a temporary folder, removed
        afterwards, by default).
    **params
        Parameters of the method.

    Returns
    -------
    DataFrame or Path
        The results (columns as :func:`revwatch.detect`), or ``output``.

    Raises
    ------
    InputError
        The source is missing or is not Parquet.
    ParameterError
        Both ``partitions`` and ``series_per_partition``, or a bad value.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> frame = pd.DataFrame({
    ...     "account": ["A"] * 12 + ["B"] * 12,
    ...     "month": list(pd.date_range("2025-01-01", periods=12, freq="MS")) * 2,
    ...     "mrr": [100.0, 101, 99, 100, 102, 100, 99, 101, 100, 300, 100, 101] * 2,
    ... })
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "mrr.parquet"
    >>> frame.to_parquet(path)
    >>> flags = detect_partitioned(path, id="account", time="month", value="mrr", partitions=2)
    >>> sorted(flags["account"]), set(flags["type"])
    (['A', 'B'], {'spike'})
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from revwatch.data.load import from_frame
    from revwatch.pipeline import analyze

    ids = [id] if isinstance(id, str) else list(id)
    if partitions is not None and series_per_partition is not None:
        raise ParameterError("give partitions or series_per_partition, not both")
    dataset = _dataset(source)
    columns = [*ids, time, value]
    missing = [name for name in columns if name not in dataset.schema.names]
    if missing:
        raise InputError(
            f"{source}: no column {missing[0]!r}; available columns: "
            f"{', '.join(dataset.schema.names)}"
        )
    if partitions is None:
        per = int(series_per_partition or DEFAULT_SERIES_PER_PARTITION)
        if per < 1:
            raise ParameterError(f"series_per_partition must be at least 1, got {per}")
        partitions = max(1, math.ceil(_count_series(dataset, ids) / per))
    if int(partitions) < 1:
        raise ParameterError(f"partitions must be at least 1, got {partitions}")
    n_parts = int(partitions)
    logger.info("%s: %d partition(s)", source, n_parts)

    with tempfile.TemporaryDirectory(dir=spill_dir, prefix="revwatch-spill-") as folder:
        spill = Path(folder)
        writers: dict[int, Any] = {}
        try:
            for batch in dataset.to_batches(columns=columns, batch_size=BATCH_ROWS):
                table = pa.Table.from_batches([batch])
                bucket = series_buckets(table.select(ids).to_pandas(), n_parts)
                order = np.argsort(bucket, kind="stable")
                sorted_buckets = bucket[order]
                table = table.take(pa.array(order))
                bounds = np.flatnonzero(np.diff(sorted_buckets)) + 1
                starts = np.concatenate([[0], bounds])
                ends = np.concatenate([bounds, [len(order)]])
                for start, end in zip(starts, ends, strict=True):
                    if end <= start:
                        continue
                    part = int(sorted_buckets[start])
                    if part not in writers:
                        writers[part] = pq.ParquetWriter(
                            spill / f"part-{part}.parquet", table.schema
                        )
                    writers[part].write_table(table.slice(int(start), int(end - start)))
        finally:
            for writer in writers.values():
                writer.close()

        collected: list[pd.DataFrame] = []
        sink = _Sink(output) if output is not None else None
        try:
            for part in sorted(writers):
                frame = pq.read_table(spill / f"part-{part}.parquet").to_pandas()
                panel = from_frame(
                    frame, id=ids, time=time, value=value, freq=freq, source=f"{source}[{part}]"
                )
                freq = panel.freq
                detection = analyze(panel, method=method, **params)
                results = detection.results(all_rows=all_rows, details=details)
                logger.info("partition %d: %d series, %d rows", part, panel.n_series, len(results))
                if sink is not None:
                    sink.write(results)
                else:
                    collected.append(results)
        finally:
            if sink is not None:
                sink.close()
    if output is not None:
        return Path(output)
    if not collected:
        return pd.DataFrame()
    combined = pd.concat(collected, ignore_index=True)
    order = np.lexsort(
        (-np.abs(combined["impact"].fillna(0.0).to_numpy()), -combined["severity"].to_numpy())
    )
    return combined.iloc[order].reset_index(drop=True)


class _Sink:
    """Appends result frames to a CSV or Parquet file."""

    def __init__(self, output: str | Path) -> None:
        self.path = Path(output).expanduser()
        suffix = self.path.suffix.lower()
        if suffix not in (".csv", ".parquet", ".pq"):
            raise ParameterError(f"output must end in .csv or .parquet, got {self.path.name!r}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.csv = suffix == ".csv"
        self.first = True
        self.writer: Any = None

    def write(self, results: pd.DataFrame) -> None:
        if self.csv:
            from revwatch.report.formats import write_results

            text = write_results(results, "csv", id_columns=[])
            assert text is not None
            if not self.first:
                text = text.split("\n", 1)[1]  # the header once
            with self.path.open("w" if self.first else "a", encoding="utf-8") as handle:
                handle.write(text)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(results, preserve_index=False)
            if self.writer is None:
                self.writer = pq.ParquetWriter(self.path, table.schema)
            self.writer.write_table(table.cast(self.writer.schema))
        self.first = False

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        elif self.first and self.csv:
            self.path.write_text("", encoding="utf-8")
