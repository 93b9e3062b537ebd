"""Tests of revwatch.datasets: shapes, reproducibility, anomaly shapes, labels, files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from revwatch.datasets import (
    DATASETS,
    Dataset,
    daily_revenue,
    generate,
    saas_mrr,
    smartphone_sales,
    write_dataset,
)
from revwatch.datasets.saas_mrr import ANOMALY_ACCOUNTS, CLEAN_ACCOUNTS
from revwatch.errors import ParameterError

FIVE = (
    "Apex Holdings",
    "Lighthouse Media",
    "Northgate Partners",
    "Sterling Capital",
    "Crestline Industries",
)
LABEL_TYPES = {"spike", "drop", "level_shift", "trend_change", "seasonal_shift"}


def _wide(ds: Dataset) -> pd.DataFrame:
    return ds.frame.pivot(index="month", columns="account", values="revenue")


# --------------------------------------------------------------------------- saas-mrr


def test_saas_shape_columns_dtypes() -> None:
    ds = saas_mrr()
    f = ds.frame
    assert ds.name == "saas-mrr"
    assert list(f.columns) == ["account", "month", "revenue"]
    assert f.shape == (720, 3)
    assert f["account"].nunique() == 30
    assert f["month"].nunique() == 24
    assert set(FIVE) <= set(f["account"])
    assert set(FIVE) == set(ANOMALY_ACCOUNTS)
    assert len(set(CLEAN_ACCOUNTS) | set(FIVE)) == 30
    assert pd.api.types.is_datetime64_any_dtype(f["month"])
    assert (f["month"].dt.day == 1).all()
    assert f["month"].min() == pd.Timestamp("2024-07-01")
    assert f["month"].max() == pd.Timestamp("2026-06-01")
    assert f["revenue"].dtype == np.float64
    assert np.allclose(f["revenue"], f["revenue"].round(2))
    assert (f["revenue"] > 0).all()
    assert not f.duplicated(["account", "month"]).any()
    assert f.equals(f.sort_values(["account", "month"]).reset_index(drop=True))
    assert ds.id_columns == ("account",)
    assert (ds.time_column, ds.value_column) == ("month", "revenue")


def test_saas_reproducible_and_seed_changes_noise() -> None:
    a, b, c = saas_mrr(42), saas_mrr(42), saas_mrr(7)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert not np.allclose(a.frame["revenue"], c.frame["revenue"])
    pd.testing.assert_frame_equal(a.labels, c.labels)


@pytest.mark.parametrize("seed", [42, 0, 1, 7, 123])
def test_saas_anomaly_shapes(seed: int) -> None:
    w = _wide(saas_mrr(seed))

    apex = w["Apex Holdings"]
    assert apex["2026-02-01"] < 0.45 * apex["2025-12-01"]
    assert (apex["2026-02-01":] < 0.40 * apex["2025-07-01":"2026-01-01"].mean()).all()

    light = w["Lighthouse Media"]
    spike = light["2025-10-01"]
    assert spike > 2.0 * light["2025-09-01"]
    assert spike > 2.0 * light["2025-11-01"]
    assert abs(light["2025-11-01"] / light["2025-09-01"] - 1) < 0.15

    crest = w["Crestline Industries"]
    base = crest["2025-07-01":"2025-12-01"].mean()
    assert crest["2026-01-01"] < 0.6 * base
    assert crest["2026-01-01"] < crest["2026-02-01"] < 0.95 * base
    assert (crest["2026-03-01":] > 0.88 * base).all()

    sterling = w["Sterling Capital"]
    early = sterling["2025-01-01":"2025-03-01"].mean()
    assert sterling["2025-04-01"] > 1.5 * early
    assert sterling["2025-05-01"] < 1.25 * early
    assert 1.3 < sterling["2026-01-01":].mean() / early < 1.5
    climb = sterling["2025-06-01":"2025-10-01"].to_numpy()
    assert climb[-1] > climb[0]

    north = w["Northgate Partners"]
    assert north["2026-06-01"] < 0.75 * north["2025-06-01"]
    assert north["2024-07-01":"2025-06-01"].pct_change().abs().max() < 0.08
    # Erosion is a few percent a month: never a single dramatic month.
    assert north["2025-07-01":].pct_change().abs().max() < 0.12


def test_saas_clean_accounts_month_over_month_within_20pct() -> None:
    w = _wide(saas_mrr(42))[list(CLEAN_ACCOUNTS)]
    mom = w.pct_change().iloc[1:]
    assert (mom.abs() <= 0.20).all().all(), mom.abs().max().max()


def test_saas_labels() -> None:
    ds = saas_mrr()
    labels = ds.labels
    assert list(labels.columns) == ["account", "month", "type", "direction", "event_start"]
    assert not labels.duplicated(["account", "month"]).any()
    assert set(labels["account"]) == set(FIVE)
    assert set(labels["type"]) <= LABEL_TYPES
    assert set(labels["direction"]) <= {"up", "down"}
    keys = labels.merge(ds.frame, on=["account", "month"], how="left")
    assert keys["revenue"].notna().all()

    def months(account: str, kind: str) -> list[str]:
        rows = labels[(labels["account"] == account) & (labels["type"] == kind)]
        return [m.strftime("%Y-%m") for m in rows["month"]]

    assert months("Apex Holdings", "level_shift") == [
        "2026-02",
        "2026-03",
        "2026-04",
        "2026-05",
        "2026-06",
    ]
    assert months("Lighthouse Media", "spike") == ["2025-10"]
    assert len(months("Northgate Partners", "trend_change")) == 12
    assert months("Northgate Partners", "trend_change")[0] == "2025-07"
    assert months("Sterling Capital", "spike") == ["2025-04"]
    assert months("Sterling Capital", "trend_change") == [
        "2025-06",
        "2025-07",
        "2025-08",
        "2025-09",
        "2025-10",
    ]
    assert months("Crestline Industries", "drop") == ["2026-01", "2026-02"]
    sterling_up = labels[
        (labels["account"] == "Sterling Capital") & (labels["type"] == "trend_change")
    ]
    assert (sterling_up["direction"] == "up").all()
    assert (sterling_up["event_start"] == pd.Timestamp("2025-06-01")).all()


def test_dataset_is_frozen() -> None:
    ds = saas_mrr()
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"  # type: ignore[misc]


# --------------------------------------------------------------------------- smartphone-sales


def _seed003_create_dataset(seed: int = 42, anomaly_percentage: float = 0.15) -> pd.DataFrame:
    """Verbatim copy of seed 003's SmartphoneSalesFactory (global NumPy state)."""

    class SmartphoneSalesFactory:
        """Generate realistic smartphone sales data with seasonality and regional patterns"""

        def __init__(self, seed=42):  # type: ignore[no-untyped-def]
            np.random.seed(seed)  # noqa: NPY002
            self.products = ["iPhone Pro", "iPhone Standard", "Samsung Galaxy", "Google Pixel"]
            self.regions = ["North America", "Europe", "Asia Pacific", "Latin America"]
            self.months = pd.date_range(start="2023-01-01", end="2024-12-31", freq="MS")
            self.seasonal_factors = {
                1: 0.8,
                2: 0.75,
                3: 0.85,
                4: 0.95,
                5: 1.0,
                6: 1.05,
                7: 1.1,
                8: 1.15,
                9: 1.2,
                10: 1.3,
                11: 1.5,
                12: 1.8,
            }
            self.product_baselines = {
                "iPhone Pro": 5000,
                "iPhone Standard": 8000,
                "Samsung Galaxy": 6000,
                "Google Pixel": 3000,
            }
            self.regional_multipliers = {
                "North America": 1.2,
                "Europe": 1.0,
                "Asia Pacific": 1.5,
                "Latin America": 0.7,
            }

        def generate_normal_sales(self, product, region, month):  # type: ignore[no-untyped-def]
            base_volume = self.product_baselines[product]
            seasonal_factor = self.seasonal_factors[month.month]
            regional_factor = self.regional_multipliers[region]
            expected_volume = base_volume * seasonal_factor * regional_factor
            actual_volume = expected_volume * np.random.normal(1.0, 0.1)  # noqa: NPY002
            return max(0, int(actual_volume))

        def add_anomaly(self, volume, anomaly_type="supply_shortage"):  # type: ignore[no-untyped-def]
            if anomaly_type == "supply_shortage":
                return int(volume * np.random.uniform(0.3, 0.6))  # noqa: NPY002
            elif anomaly_type == "demand_spike":
                return int(volume * np.random.uniform(1.8, 2.5))  # noqa: NPY002
            elif anomaly_type == "launch_hype":
                return int(volume * np.random.uniform(2.0, 3.0))  # noqa: NPY002
            return volume

        def create_dataset(self, anomaly_percentage=0.15):  # type: ignore[no-untyped-def]
            rows = []
            for month in self.months:
                for product in self.products:
                    for region in self.regions:
                        volume = self.generate_normal_sales(product, region, month)
                        is_anomaly = False
                        if np.random.random() < anomaly_percentage:  # noqa: NPY002
                            anomaly_types = ["supply_shortage", "demand_spike", "launch_hype"]
                            anomaly_type = np.random.choice(anomaly_types)  # noqa: NPY002
                            volume = self.add_anomaly(volume, anomaly_type)
                            is_anomaly = True
                        rows.append(
                            {
                                "month": month,
                                "product": product,
                                "region": region,
                                "volume": volume,
                                "is_anomaly": is_anomaly,
                            }
                        )
            df = pd.DataFrame(rows)
            return df.sort_values(["month", "product", "region"]).reset_index(drop=True)

    state = np.random.get_state()  # noqa: NPY002
    try:
        factory = SmartphoneSalesFactory(seed=seed)
        return factory.create_dataset(anomaly_percentage=anomaly_percentage)
    finally:
        np.random.set_state(state)  # noqa: NPY002


def test_smartphone_shape_columns_dtypes() -> None:
    ds = smartphone_sales()
    f = ds.frame
    assert list(f.columns) == ["month", "product", "region", "volume", "is_anomaly", "anomaly_type"]
    assert f.shape == (384, 6)
    assert f["volume"].dtype == np.int64
    assert f["is_anomaly"].dtype == bool
    assert pd.api.types.is_datetime64_any_dtype(f["month"])
    assert ((f["anomaly_type"] != "") == f["is_anomaly"]).all()
    assert set(f.loc[f["is_anomaly"], "anomaly_type"]) <= {
        "supply_shortage",
        "demand_spike",
        "launch_hype",
    }
    assert ds.id_columns == ("product", "region")


@pytest.mark.parametrize(("seed", "pct"), [(42, 0.15), (7, 0.3)])
def test_smartphone_equals_seed_script(seed: int, pct: float) -> None:
    expected = _seed003_create_dataset(seed, pct)
    ours = smartphone_sales(seed=seed, anomaly_percentage=pct).frame
    assert int(ours["is_anomaly"].sum()) == int(expected["is_anomaly"].sum())
    left = ours[["month", "product", "region", "volume", "is_anomaly"]].astype(
        {"product": object, "region": object}
    )
    right = expected.astype({"volume": np.int64, "product": object, "region": object})
    right["month"] = right["month"].astype(left["month"].dtype)
    pd.testing.assert_frame_equal(left, right)


def test_smartphone_labels() -> None:
    ds = smartphone_sales()
    labels = ds.labels
    assert len(labels) == int(ds.frame["is_anomaly"].sum())
    assert set(labels["type"]) <= {"spike", "drop"}
    drop = labels["cause"] == "supply_shortage"
    assert (labels.loc[drop, "type"] == "drop").all()
    assert (labels.loc[drop, "direction"] == "down").all()
    assert (labels.loc[~drop, "type"] == "spike").all()
    assert (labels.loc[~drop, "direction"] == "up").all()
    assert (labels["event_start"] == labels["month"]).all()
    merged = labels.merge(ds.frame, on=["product", "region", "month"])
    assert merged["is_anomaly"].all()
    assert (merged["anomaly_type"] == merged["cause"]).all()


def test_smartphone_bad_percentage() -> None:
    with pytest.raises(ParameterError, match="anomaly_percentage"):
        smartphone_sales(anomaly_percentage=1.5)


# --------------------------------------------------------------------------- daily-revenue

METRICS = ["revenue", "transaction_count", "avg_order_value", "payment_success_rate", "refund_rate"]


def _same_weekday_ref(s: pd.Series) -> pd.Series:
    """Median of the same weekday one and two weeks either side."""
    return pd.concat([s.shift(k) for k in (-14, -7, 7, 14)], axis=1).median(axis=1)


def test_daily_shape_and_metrics() -> None:
    ds = daily_revenue()
    f = ds.frame
    assert list(f.columns) == ["date", *METRICS]
    assert f.shape == (730, 6)
    assert pd.api.types.is_datetime64_any_dtype(f["date"])
    assert f["date"].iloc[0] == pd.Timestamp("2024-01-01")
    assert (f["date"].diff().iloc[1:] == pd.Timedelta(days=1)).all()
    assert f["transaction_count"].dtype == np.int64
    assert ds.id_columns == ()
    np.testing.assert_allclose(
        f["revenue"], f["transaction_count"] * f["avg_order_value"], rtol=1e-3
    )
    assert 0.95 < f["payment_success_rate"].median() < 0.97
    assert 0.015 < f["refund_rate"].median() < 0.025
    assert f[METRICS].notna().all().all()
    # Growth ~15%/yr: the second year's clean revenue is higher than the first's.
    first = f["revenue"].iloc[:365].mean()
    assert f["revenue"].iloc[365:].mean() > 1.05 * first
    # Weekends are lower than weekdays.
    weekday = f["date"].dt.day_of_week
    assert f.loc[weekday >= 5, "revenue"].mean() < 0.85 * f.loc[weekday < 5, "revenue"].mean()


def test_daily_labels_cover_all_types_after_first_year() -> None:
    ds = daily_revenue()
    labels = ds.labels
    assert {"date", "type", "direction", "event_start", "metric"} <= set(labels.columns)
    assert set(labels["type"]) == LABEL_TYPES
    assert labels["date"].min() >= pd.Timestamp("2024-01-01") + pd.Timedelta(days=365)
    assert set(labels["metric"]) <= set(METRICS)
    assert not labels.duplicated(["date", "type"]).any()
    assert (labels["event_start"] <= labels["date"]).all()
    assert labels["type"].value_counts()[["spike", "drop"]].min() >= 3


@pytest.mark.parametrize("seed", [42, 3])
def test_daily_anomaly_effects(seed: int) -> None:
    f = daily_revenue(seed=seed).frame.set_index("date")
    ratio = f["revenue"] / _same_weekday_ref(f["revenue"])
    assert ratio["2025-02-11"] > 1.25  # double charge
    assert ratio["2025-05-20"] > 1.4
    assert ratio["2025-03-12"] < 0.85  # outage
    # Outage: count and success rate drop, order value stays.
    day = f.loc["2025-03-12"]
    assert day["payment_success_rate"] < 0.8
    aov_ratio = day["avg_order_value"] / _same_weekday_ref(f["avg_order_value"])["2025-03-12"]
    assert abs(aov_ratio - 1) < 0.05
    # Pricing change: order value +12% for good.
    aov = f["avg_order_value"]
    step = aov["2025-04-08":"2025-05-05"].median() / aov["2025-03-11":"2025-04-07"].median()
    assert 1.07 < step < 1.18
    # Trend change: -0.5%/week for 12 weeks, so the year-over-year growth of the transaction
    # count (~15%) falls to ~8% by early December.
    count = f["transaction_count"]
    yoy = count["2025-11-24":"2025-12-07"].mean() / count["2024-11-25":"2024-12-08"].mean()
    assert yoy < 1.12
    # Seasonal shift: in August 2025 weekends are much weaker relative to weekdays.
    weekend = f.index.day_of_week >= 5

    def weekend_share(first: str, last: str) -> float:
        window = (f.index >= first) & (f.index <= last)
        return float(
            f.loc[window & weekend, "revenue"].mean() / f.loc[window & ~weekend, "revenue"].mean()
        )

    shifted = weekend_share("2025-08-04", "2025-08-31")
    assert shifted < weekend_share("2025-07-07", "2025-08-03") - 0.1
    assert shifted < weekend_share("2024-08-05", "2024-09-01") - 0.1


def test_daily_reproducible() -> None:
    pd.testing.assert_frame_equal(daily_revenue(seed=5).frame, daily_revenue(seed=5).frame)
    assert not daily_revenue(seed=5).frame["revenue"].equals(daily_revenue(seed=6).frame["revenue"])


def test_daily_segments_sum_to_totals() -> None:
    total = daily_revenue(seed=11).frame
    seg_ds = daily_revenue(seed=11, segments=True)
    seg = seg_ds.frame
    assert seg_ds.id_columns == ("payment_method", "country")
    assert list(seg.columns) == ["payment_method", "country", "date", *METRICS]
    assert seg.shape == (730 * 12, 8)
    assert set(seg["payment_method"]) == {"card", "paypal", "bank_transfer"}
    assert set(seg["country"]) == {"US", "UK", "DE", "FR"}
    assert not seg.duplicated(["payment_method", "country", "date"]).any()

    seg = seg.assign(
        attempts=seg["transaction_count"] / seg["payment_success_rate"],
        refunds=seg["transaction_count"] * seg["refund_rate"],
    )
    sums = seg.groupby("date")[["revenue", "transaction_count", "attempts", "refunds"]].sum()
    t = total.set_index("date")
    np.testing.assert_allclose(sums["revenue"], t["revenue"], atol=0.011)
    assert (sums["transaction_count"] == t["transaction_count"]).all()
    np.testing.assert_allclose(
        sums["transaction_count"] / sums["attempts"], t["payment_success_rate"]
    )
    np.testing.assert_allclose(sums["refunds"] / sums["transaction_count"], t["refund_rate"])
    np.testing.assert_allclose(
        seg["revenue"], seg["transaction_count"] * seg["avg_order_value"], rtol=1e-2
    )


def test_daily_de_card_dip_is_concentrated() -> None:
    ds = daily_revenue(segments=True)
    f = ds.frame
    wide = f.pivot(index="date", columns=["payment_method", "country"], values="revenue")
    day = pd.Timestamp("2025-09-03")
    ref = wide.apply(_same_weekday_ref)
    ratios = (wide.loc[day] / ref.loc[day]).sort_values()
    assert ratios.index[0] == ("card", "DE")
    assert ratios.iloc[0] < 0.4
    assert ratios.iloc[1:].min() > 0.6  # small segments are noisy (~13% sd)
    assert ratios.iloc[1:].median() > 0.9
    # The drill-down finds it: card/DE carries most of the day's revenue shortfall.
    shortfall = ref.loc[day] - wide.loc[day]
    assert shortfall[("card", "DE")] > 0.7 * shortfall.sum()
    # Total revenue dips about 10% that day.
    total = wide.sum(axis=1)
    assert total[day] / _same_weekday_ref(total)[day] < 0.95

    labels = ds.labels
    de = labels[labels["date"] == day]
    assert de[["payment_method", "country"]].drop_duplicates().values.tolist() == [["card", "DE"]]
    assert (de["type"] == "drop").all()
    # Uniform events label all 12 segments.
    assert len(labels[labels["date"] == pd.Timestamp("2025-03-12")]) == 12


def test_daily_bad_parameters() -> None:
    with pytest.raises(ParameterError, match="days"):
        daily_revenue(days=100)
    with pytest.raises(ParameterError, match="start"):
        daily_revenue(start="not a date")
    shifted = daily_revenue(days=800, start="2023-06-05")
    assert len(shifted.frame) == 800
    assert shifted.labels["date"].min() >= pd.Timestamp("2024-06-04")


# --------------------------------------------------------------------------- registry and files


def test_generate_registry() -> None:
    assert set(DATASETS) == {"saas-mrr", "smartphone-sales", "daily-revenue"}
    pd.testing.assert_frame_equal(generate("saas-mrr", seed=3).frame, saas_mrr(3).frame)
    assert generate("daily-revenue", segments=True).id_columns == ("payment_method", "country")
    with pytest.raises(ParameterError, match="saas-mrr") as info:
        generate("nope")
    assert "smartphone-sales" in str(info.value)
    with pytest.raises(ParameterError, match="bogus"):
        generate("saas-mrr", bogus=1)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("name", ["saas-mrr", "smartphone-sales", "daily-revenue"])
def test_write_dataset_round_trip(tmp_path: Path, suffix: str, name: str) -> None:
    ds = generate(name)
    data_path, labels_path = write_dataset(ds, tmp_path / "sub" / f"data{suffix}")
    assert data_path == tmp_path / "sub" / f"data{suffix}"
    assert labels_path == tmp_path / "sub" / "data_labels.csv"
    assert data_path.is_file()
    assert labels_path.is_file()

    time_cols = [ds.time_column]
    if suffix == ".csv":
        back = pd.read_csv(data_path, parse_dates=time_cols, keep_default_na=False)
    else:
        back = pd.read_parquet(data_path)
    # the data file is the frame without its label columns (those are in the labels file)
    data_columns = [c for c in ds.frame.columns if c not in {"is_anomaly", "anomaly_type"}]
    pd.testing.assert_frame_equal(back, ds.frame[data_columns], check_dtype=False)

    label_back = pd.read_csv(labels_path, parse_dates=[*time_cols, "event_start"])
    pd.testing.assert_frame_equal(label_back, ds.labels, check_dtype=False)


def test_write_dataset_bad_suffix(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"\.csv or \.parquet"):
        write_dataset(saas_mrr(), tmp_path / "data.xlsx")
