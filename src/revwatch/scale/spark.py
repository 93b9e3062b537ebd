"""Run revwatch's detection on a Spark DataFrame (the ``spark`` extra).

:func:`detect_spark` assigns every series to one of ``buckets`` groups by a
hash of its key (the same :func:`revwatch.scale.partitioned.series_buckets` as the
partitioned local path), then ``groupBy(bucket).applyInPandas`` calls
:func:`score_group`, a plain function that runs the local engine
(:func:`revwatch.pipeline.analyze`) on all the series of one bucket at once, so
each task vectorises over many series instead of looping over them. The
result is a Spark DataFrame with the columns of :func:`revwatch.detect`.

With the same number of buckets, :func:`detect_spark` and
:func:`revwatch.scale.partitioned.detect_partitioned` score the same groups of series
and give the same rows; with one bucket they equal the in-memory
:func:`revwatch.detect`. See ``docs/scale.md`` for running it on Databricks,
EMR or Dataproc.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd

from revwatch.classify import RESULT_COLUMNS
from revwatch.errors import MissingColumnError, MissingDependencyError, ParameterError

logger = logging.getLogger(__name__)

__all__ = ["BUCKET_COLUMN", "detect_spark", "score_group"]

#: The helper column that holds each row's bucket while the job runs.
BUCKET_COLUMN = "__revwatch_bucket"

_DOUBLE_COLUMNS = ("value", "baseline", "pct_vs_baseline", "score", "severity", "impact")


def _pyspark() -> Any:
    try:
        import pyspark.sql.functions as functions
    except ImportError:
        raise MissingDependencyError("pyspark", "spark") from None
    return functions


def score_group(
    frame: pd.DataFrame,
    *,
    ids: list[str],
    time: str,
    value: str,
    method: str = "auto",
    freq: str | None = None,
    all_rows: bool = False,
    **params: Any,
) -> pd.DataFrame:
    """Score all the series in ``frame`` with the local engine; the per-bucket function.

    Parameters
    ----------
    frame : DataFrame
        Long rows of whole series (any other columns are ignored).
    ids, time, value, method, freq, all_rows, **params
        As for :func:`detect_spark`.

    Returns
    -------
    DataFrame
        The id columns, then :data:`revwatch.classify.RESULT_COLUMNS`, ranked.

    Examples
    --------
    >>> frame = pd.DataFrame({
    ...     "account": ["A"] * 12,
    ...     "month": pd.date_range("2025-01-01", periods=12, freq="MS"),
    ...     "mrr": [100.0, 101, 99, 100, 102, 100, 99, 101, 100, 300, 100, 101],
    ... })
    >>> score_group(frame, ids=["account"], time="month", value="mrr")["type"].tolist()
    ['spike']
    """
    from revwatch.data.load import from_frame
    from revwatch.pipeline import analyze

    columns = [*ids, time, value]
    if frame.empty:
        return pd.DataFrame(columns=[*ids, *RESULT_COLUMNS])
    panel = from_frame(frame[columns], id=ids, time=time, value=value, freq=freq)
    results = analyze(panel, method=method, **params).results(all_rows=all_rows)
    for name in _DOUBLE_COLUMNS:
        results[name] = results[name].astype("float64")
    return results[[*ids, *RESULT_COLUMNS]]


def detect_spark(
    spark_df: Any,
    *,
    id: str | Sequence[str],
    time: str,
    value: str,
    method: str = "auto",
    buckets: int | None = None,
    freq: str | None = None,
    all_rows: bool = False,
    **params: Any,
) -> Any:
    """Score every series of a Spark DataFrame; returns a Spark DataFrame of results.

    Parameters
    ----------
    spark_df : pyspark.sql.DataFrame
        Long data: one row per series and period.
    id : str or list of str
        Series key column(s).
    time : str
        Period column (date, timestamp or ISO text). Timestamps are read as
        wall-clock time in the session time zone (``spark.sql.session.timeZone``).
    value : str
        Value column (numeric).
    method : str, default "auto"
        A method name, as for :func:`revwatch.detect`.
    buckets : int, optional
        Groups of series; each group is one pandas call in one task. Default:
        the session's ``spark.default.parallelism`` times 4 (at least 1).
        Use the same number as ``partitions`` of
        :func:`revwatch.scale.partitioned.detect_partitioned` to get the same rows.
    freq : str, optional
        The frequency; give it on a cluster so every bucket uses the same one
        (inferred per bucket otherwise).
    all_rows : bool, default False
        Every row, unflagged ones with type ``normal``.
    **params
        Parameters of the method.

    Returns
    -------
    pyspark.sql.DataFrame
        The id columns, then ``period`` (timestamp without time zone),
        ``value``, ``baseline``, ``pct_vs_baseline``, ``score``, ``type``,
        ``direction``, ``severity``, ``impact``. Spark does not keep row
        order: sort by ``severity`` descending for the ranking.

    Raises
    ------
    MissingDependencyError
        pyspark is not installed (``pip install 'revwatch[spark]'``).
    MissingColumnError
        A named column is not in ``spark_df``.
    """
    functions = _pyspark()
    from pyspark.sql import types

    from revwatch.scale.partitioned import series_buckets

    ids = [id] if isinstance(id, str) else list(id)
    names = list(spark_df.columns)
    for name in [*ids, time, value]:
        if name not in names:
            raise MissingColumnError(
                f"the Spark DataFrame has no column {name!r}; columns: {', '.join(names)}"
            )
    if buckets is None:
        parallelism = spark_df.sparkSession.sparkContext.defaultParallelism
        buckets = max(1, int(parallelism) * 4)
    if int(buckets) < 1:
        raise ParameterError(f"buckets must be at least 1, got {buckets}")
    n_buckets = int(buckets)

    key_fields = [spark_df.schema[name] for name in ids]
    result_schema = types.StructType(
        [types.StructField(field.name, field.dataType, True) for field in key_fields]
        + [types.StructField("period", types.TimestampNTZType(), True)]
        + [
            types.StructField(
                name,
                types.StringType() if name in ("type", "direction") else types.DoubleType(),
                True,
            )
            for name in RESULT_COLUMNS
            if name != "period"
        ]
    )

    @functions.pandas_udf(types.LongType())
    def bucket_of(*keys: pd.Series) -> pd.Series:
        frame = pd.concat([key.reset_index(drop=True) for key in keys], axis=1)
        frame.columns = ids
        return pd.Series(series_buckets(frame, n_buckets))

    def per_bucket(frame: pd.DataFrame) -> pd.DataFrame:
        results = score_group(
            frame, ids=ids, time=time, value=value, method=method, freq=freq,
            all_rows=all_rows, **params,
        )  # fmt: skip
        results["period"] = pd.to_datetime(results["period"]).astype("datetime64[us]")
        return results

    prepared = spark_df.select(
        *[functions.col(name) for name in ids],
        functions.col(time).cast(types.TimestampNTZType()).alias(time),
        functions.col(value).cast(types.DoubleType()).alias(value),
    )
    bucket_column = bucket_of(*[functions.col(name) for name in ids]) if ids else functions.lit(0)
    prepared = prepared.withColumn(BUCKET_COLUMN, bucket_column)
    logger.info("detect_spark: %d bucket(s), method %s", n_buckets, method)
    return prepared.groupBy(BUCKET_COLUMN).applyInPandas(per_bucket, schema=result_schema)
