"""revwatch.scale.spark in Spark local mode: the same rows as the local and partitioned paths."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.test_scale import KEYS, _long, _partitioned, _whole

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("revwatch-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, str]:
    frame = _long(300, 24, seed=7)
    path = tmp_path_factory.mktemp("spark") / "panel.parquet"
    frame.to_parquet(path)
    return frame, str(path)


def _spark_rows(spark: Any, frame: pd.DataFrame, method: str, buckets: int) -> pd.DataFrame:
    from revwatch.scale.spark import detect_spark

    result = detect_spark(spark.createDataFrame(frame), id="account", time="month",
                          value="revenue", method=method, buckets=buckets,
                          all_rows=True)  # fmt: skip
    rows = result.toPandas().sort_values(KEYS).reset_index(drop=True)
    rows["period"] = rows["period"].astype("datetime64[ns]")
    return rows


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_spark_local_partitioned_row_for_row(spark: Any, data: tuple[pd.DataFrame, str]) -> None:
    frame, path = data
    # seed-rolling: exact whatever the grouping
    local = _whole(frame, "seed-rolling")
    pd.testing.assert_frame_equal(_spark_rows(spark, frame, "seed-rolling", 3), local)
    pd.testing.assert_frame_equal(_partitioned(path, "seed-rolling", partitions=3), local)
    # auto: exact when bucketed identically (3 buckets both ways; 1 bucket = whole panel)
    pd.testing.assert_frame_equal(
        _spark_rows(spark, frame, "auto", 3), _partitioned(path, "auto", partitions=3)
    )
    pd.testing.assert_frame_equal(_spark_rows(spark, frame, "auto", 1), _whole(frame, "auto"))
    assert np.count_nonzero(local["type"] != "normal") > 10


def test_missing_column_is_one_line(spark: Any, data: tuple[pd.DataFrame, str]) -> None:
    from revwatch.errors import MissingColumnError
    from revwatch.scale.spark import detect_spark

    with pytest.raises(MissingColumnError, match="no column 'mrr'"):
        detect_spark(spark.createDataFrame(data[0]), id="account", time="month", value="mrr")


def test_missing_pyspark_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from revwatch.errors import MissingDependencyError
    from revwatch.scale.spark import detect_spark

    monkeypatch.setitem(sys.modules, "pyspark", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    monkeypatch.setitem(sys.modules, "pyspark.sql.functions", None)
    with pytest.raises(MissingDependencyError, match="spark"):
        detect_spark(object(), id="a", time="t", value="v")
