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
    dataset_options,
    generate,
    saas_mrr,
    smartphone_sales,
    write_dataset,
)
from revwatch.datasets.daily_revenue import holiday_multipliers
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


# ------------------------------------------------------------- calendar and portfolio options


def test_options_off_are_the_default_data() -> None:
    pd.testing.assert_frame_equal(
        daily_revenue(seed=4, holidays=False, billing_bump=False).frame, daily_revenue(4).frame
    )
    plain = saas_mrr(4)
    off = saas_mrr(4, months=24, yearly_cycle=False, heavy_tails=False, late_starts=False)
    pd.testing.assert_frame_equal(off.frame, plain.frame)
    pd.testing.assert_frame_equal(off.labels, plain.labels)


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        # New Year: the eve, the day, the day after
        ("2024-12-30", "2025-01-03", [1.0, 0.80, 0.55, 0.90, 1.0]),
        # Independence Day and its neighbours
        ("2025-07-02", "2025-07-06", [1.0, 0.92, 0.60, 0.88, 1.0]),
        # Thanksgiving 2025-11-27: Wednesday, the day, Black Friday, Saturday, Sunday, Cyber Monday
        ("2025-11-26", "2025-12-01", [0.92, 0.50, 1.65, 1.20, 1.0, 1.45]),
        # Christmas: Dec 23 shopping, Christmas Eve, the day, Dec 26
        ("2025-12-22", "2025-12-27", [1.0, 1.10, 0.70, 0.40, 1.15, 1.0]),
        # 2026-07-04 is a Saturday: Friday is the observed holiday (0.85) and the eve (0.92)
        ("2026-07-03", "2026-07-05", [0.85 * 0.92, 0.60, 0.88]),
        # lifts: Presidents' Day and Veterans Day sales; Labor Day with its Friday
        ("2025-02-17", "2025-02-17", [1.10]),
        ("2025-11-11", "2025-11-11", [1.06]),
        ("2025-08-29", "2025-09-01", [1.05, 1.0, 1.0, 0.78]),
        ("2025-03-10", "2025-03-14", [1.0] * 5),
    ],
)
def test_holiday_multipliers_us(first: str, last: str, expected: list[float]) -> None:
    days = pd.date_range(first, last)
    np.testing.assert_allclose(holiday_multipliers(days, "US"), expected)


def test_holiday_multipliers_other_country_and_errors() -> None:
    days = pd.date_range("2025-12-24", "2025-12-27")
    # DE: Christmas Day and the Second Day of Christmas, each 0.65 with 0.92 either side
    np.testing.assert_allclose(
        holiday_multipliers(days, "DE"), [0.92, 0.65 * 0.92, 0.92 * 0.65, 0.92]
    )
    with pytest.raises(ParameterError, match="unknown country 'XX'"):
        holiday_multipliers(days, "XX")
    with pytest.raises(ParameterError, match="country code"):
        daily_revenue(holidays=" ")
    # a seed varies each holiday's effect a little from year to year, never its direction
    varied = holiday_multipliers(pd.date_range("2024-01-01", "2026-12-31"), "US", seed=3)
    plain = holiday_multipliers(pd.date_range("2024-01-01", "2026-12-31"), "US")
    moved = plain != 1.0
    assert (np.sign(np.log(varied[moved])) == np.sign(np.log(plain[moved]))).all()
    assert not np.allclose(varied[moved], plain[moved])
    assert (varied[~moved] == 1.0).all()


@pytest.mark.parametrize("seed", [0, 7])
def test_daily_holidays_move_revenue_and_are_not_labelled(seed: int) -> None:
    plain = daily_revenue(seed=seed)
    busy = daily_revenue(seed=seed, holidays=True)
    pd.testing.assert_frame_equal(busy.labels, plain.labels)
    ratio = busy.frame.set_index("date")["revenue"] / plain.frame.set_index("date")["revenue"]
    for day, low, high in [
        ("2024-12-25", 0.3, 0.5),
        ("2025-12-25", 0.3, 0.5),
        ("2025-07-04", 0.5, 0.7),
        ("2025-11-28", 1.45, 1.85),  # Black Friday
        ("2025-01-01", 0.45, 0.65),
    ]:
        assert low < ratio[day] < high, day
    touched = holiday_multipliers(pd.DatetimeIndex(ratio.index), "US") != 1.0
    # ordinary days keep their level (other noise draws of the same law)
    assert 0.98 < ratio[~touched].median() < 1.02
    assert "US public holidays" in busy.description


def test_daily_billing_bump_on_some_lines_only() -> None:
    plain = daily_revenue(seed=2, segments=True).frame
    bumped = daily_revenue(seed=2, segments=True, billing_bump=True)
    pd.testing.assert_frame_equal(bumped.labels, daily_revenue(seed=2, segments=True).labels)
    keys = ["payment_method", "country", "date"]
    ratio = (
        bumped.frame.set_index(keys)["transaction_count"]
        / plain.set_index(keys)["transaction_count"]
    )
    ratio = ratio.unstack(["payment_method", "country"])
    first = ratio.index.day == 1
    assert ratio.loc[first, ("card", "US")].median() > 1.35
    assert ratio.loc[first, ("paypal", "UK")].median() > 1.2
    for line in [("card", "DE"), ("bank_transfer", "US"), ("paypal", "FR")]:
        assert 0.95 < ratio.loc[first, line].median() < 1.05, line
    assert 0.97 < ratio.loc[~first].median().median() < 1.03
    total = daily_revenue(seed=2, billing_bump=True).frame.set_index("date")["revenue"]
    base = daily_revenue(seed=2).frame.set_index("date")["revenue"]
    on_first = (total / base)[total.index.day == 1]
    assert 1.12 < on_first.median() < 1.35


def test_saas_more_history_keeps_the_schedule() -> None:
    long = saas_mrr(5, months=36)
    assert long.frame.shape == (30 * 36, 3)
    assert long.frame["month"].min() == pd.Timestamp("2023-07-01")
    assert long.frame["month"].max() == pd.Timestamp("2026-06-01")
    pd.testing.assert_frame_equal(long.labels, saas_mrr(5).labels)
    # the fixed accounts keep their 2024-07 level
    wide = _wide(long)
    assert 0.85 < wide.loc["2024-07-01", "Apex Holdings"] / 32_000 < 1.15
    for bad in (23, 24.5, True):
        with pytest.raises(ParameterError, match="months"):
            saas_mrr(months=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [1, 9])
def test_saas_yearly_cycle(seed: int) -> None:
    plain = _wide(saas_mrr(seed, months=36))
    cyclic = saas_mrr(seed, months=36, yearly_cycle=True)
    pd.testing.assert_frame_equal(cyclic.labels, saas_mrr(seed).labels)
    ratio = _wide(cyclic) / plain  # same noise draws, so this is the cycle
    moving = ratio.columns[(ratio.max() - ratio.min()) > 1e-6]
    assert len(moving) == 12
    cycle = ratio[moving].to_numpy()
    np.testing.assert_allclose(cycle[12:], cycle[:-12], rtol=1e-4)  # repeats every year
    half_swing = (cycle.max(axis=0) - cycle.min(axis=0)) / 2
    assert (half_swing > 0.03).all() and (half_swing < 0.35).all()
    np.testing.assert_allclose(cycle.mean(axis=0), 1.0, atol=0.01)


def test_saas_heavy_tails() -> None:
    plain = _wide(saas_mrr(3))
    heavy = _wide(saas_mrr(3, heavy_tails=True))
    assert (heavy != plain).any().sum() == 15
    assert (heavy > 0).all().all()
    # the noise itself: unit variance, far fatter tails than a normal
    rng = np.random.default_rng(0)
    z = rng.standard_normal((30, 20_000))
    from revwatch.datasets.saas_mrr import _heavy_noise

    noise = _heavy_noise(rng, z)
    changed = (noise != z).any(axis=1)
    assert changed.sum() == 15
    t = noise[changed].ravel()
    assert 0.8 < t.var() < 1.25
    assert np.mean(np.abs(t) > 4) > 20 * np.mean(np.abs(z[~changed]) > 4)


def test_saas_late_starts() -> None:
    ds = saas_mrr(6, months=36, late_starts=True)
    pd.testing.assert_frame_equal(ds.labels, saas_mrr(6).labels)
    starts = ds.frame.groupby("account")["month"].min()
    late = starts[starts > pd.Timestamp("2023-07-01")]
    assert len(late) == 6
    assert set(late.index) <= set(CLEAN_ACCOUNTS)
    assert late.min() >= pd.Timestamp("2023-10-01")  # the 4th month or later
    assert late.max() <= pd.Timestamp("2025-09-01")  # at least 9 months of data
    plain = _wide(saas_mrr(6, months=36))
    wide = _wide(ds)
    for account, first in late.items():
        share = wide.loc[first, account] / plain.loc[first, account]
        assert 0.2 <= share <= 1.0  # a prorated first month
        rest = wide.loc[wide.index > first, account]
        np.testing.assert_allclose(rest, plain.loc[rest.index, account])
        assert wide.loc[wide.index < first, account].isna().all()


@pytest.mark.parametrize(
    ("name", "options", "realistic", "expected"),
    [
        ("daily-revenue", {}, True, {"holidays": "US", "billing_bump": True}),
        ("daily-revenue", {"holidays": "DE"}, True, {"holidays": "DE", "billing_bump": True}),
        ("saas-mrr", {"months": 48}, True,
         {"months": 48, "yearly_cycle": True, "heavy_tails": True, "late_starts": True}),
        ("smartphone-sales", {}, True, {}),
        ("saas-mrr", {"yearly_cycle": None}, False, {}),
    ],
)  # fmt: skip
def test_dataset_options(
    name: str, options: dict[str, object], realistic: bool, expected: dict[str, object]
) -> None:
    assert dataset_options(name, options, realistic=realistic) == expected


def test_dataset_options_errors() -> None:
    with pytest.raises(ParameterError, match=r"no option heavy_tails \(--heavy-tails\)"):
        dataset_options("daily-revenue", {"heavy_tails": True})
    with pytest.raises(ParameterError, match="unknown data set"):
        dataset_options("nope")


def test_cli_generate_options(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from revwatch.cli import app

    runner = CliRunner()
    out = tmp_path / "daily.csv"
    result = runner.invoke(
        app, ["generate", "daily-revenue", "-o", str(out), "--seed", "3", "--realistic",
              "--segments"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    expected = daily_revenue(seed=3, segments=True, holidays="US", billing_bump=True)
    written = pd.read_csv(out, parse_dates=["date"])
    np.testing.assert_allclose(written["revenue"], expected.frame["revenue"])
    # the data file has no label columns; the labels file has the planted events only
    assert set(written.columns) == set(expected.frame.columns)
    labels = pd.read_csv(tmp_path / "daily_labels.csv", parse_dates=["date", "event_start"])
    assert len(labels) == len(daily_revenue(seed=3, segments=True).labels)

    result = runner.invoke(app, ["generate", "saas-mrr", "-o", str(tmp_path / "m.csv"),
                                 "--months", "30", "--yearly-cycle", "--late-starts"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "m.csv")["month"].min() == "2024-01-01"
    for args, message in [
        (["generate", "saas-mrr", "-o", str(tmp_path / "x.csv"), "--holidays"],
         "no option holidays (--holidays)"),
        (["generate", "daily-revenue", "-o", str(tmp_path / "x.csv"), "--country", "ZZ"],
         "unknown country 'ZZ'"),
        (["generate", "saas-mrr", "-o", str(tmp_path / "x.csv"), "--months", "3"],
         "months must be an integer >= 24"),
    ]:  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 2, args
        assert message in result.stderr
        assert "Traceback" not in result.stderr
