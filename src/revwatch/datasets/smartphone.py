"""``smartphone-sales``: a faithful port of seed 003's ``SmartphoneSalesFactory``.

What it reproduces
------------------
Seed 003 generates 2 years (2023-01..2024-12) of monthly unit sales for four
products in four regions: ``product baseline x seasonal factor x regional
multiplier x N(1, 0.1)`` truncated to an int, and with probability
``anomaly_percentage`` (0.15) it replaces a cell by a supply shortage
(x U(0.3, 0.6)), a demand spike (x U(1.8, 2.5)) or a launch hype
(x U(2.0, 3.0)), each truncated to an int. The loop runs month -> product ->
region and draws, per cell: the normal noise, the uniform that decides
whether the cell is anomalous and, if it is, the anomaly type (``choice``)
and its magnitude (``uniform``). The frame is then sorted by month, product
and region.

This port makes the same calls in the same order on a
``numpy.random.RandomState(seed)``, which is the generator the seed's
``np.random.seed(seed)`` seeds, so for the same seed and
``anomaly_percentage`` the volumes and anomaly flags equal the seed
script's exactly (the test suite checks this against a verbatim copy).

Deviations from the seed
------------------------
* A private ``RandomState`` instead of the global NumPy state, so calling the
  generator does not reseed other code.
* An extra ``anomaly_type`` column (the seed only keeps ``is_anomaly``); it
  is ``""`` for normal cells.
* The seed's printed output (59 anomalies; a first row "Google Pixel, Latin
  America, 1846") is illustrative and cannot come from its own code: the
  sort puts "Asia Pacific" first and the code injects 60 anomalies for
  seed 42. This port follows the code, not the printout.

Labels
------
The anomalous cells, with ``type`` ``spike`` (``demand_spike``,
``launch_hype``, direction up) or ``drop`` (``supply_shortage``, direction
down), ``event_start`` equal to the month, and ``cause`` the seed's
anomaly type.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from revwatch.datasets._base import Dataset
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = [
    "ANOMALY_RANGES",
    "PRODUCTS",
    "PRODUCT_BASELINES",
    "REGIONAL_MULTIPLIERS",
    "REGIONS",
    "SEASONAL_FACTORS",
    "smartphone_sales",
]

PRODUCTS: tuple[str, ...] = ("iPhone Pro", "iPhone Standard", "Samsung Galaxy", "Google Pixel")
REGIONS: tuple[str, ...] = ("North America", "Europe", "Asia Pacific", "Latin America")

#: Calendar month -> seasonal multiplier (Q4 is the holiday peak).
SEASONAL_FACTORS: dict[int, float] = {
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
PRODUCT_BASELINES: dict[str, int] = {
    "iPhone Pro": 5000,
    "iPhone Standard": 8000,
    "Samsung Galaxy": 6000,
    "Google Pixel": 3000,
}
REGIONAL_MULTIPLIERS: dict[str, float] = {
    "North America": 1.2,
    "Europe": 1.0,
    "Asia Pacific": 1.5,
    "Latin America": 0.7,
}
#: Seed anomaly type -> (uniform low, uniform high, label type, direction).
ANOMALY_RANGES: dict[str, tuple[float, float, str, str]] = {
    "supply_shortage": (0.3, 0.6, "drop", "down"),
    "demand_spike": (1.8, 2.5, "spike", "up"),
    "launch_hype": (2.0, 3.0, "spike", "up"),
}
_ANOMALY_TYPES = ["supply_shortage", "demand_spike", "launch_hype"]


def smartphone_sales(seed: int = 42, anomaly_percentage: float = 0.15) -> Dataset:
    """Seed 003's smartphone sales: 16 product-region series over 24 months.

    Parameters
    ----------
    seed : int, default 42
        Seed of the ``numpy.random.RandomState`` (as ``np.random.seed`` in the
        seed script).
    anomaly_percentage : float, default 0.15
        Probability that a cell becomes an anomaly, in [0, 1].

    Returns
    -------
    Dataset
        ``frame`` has ``month``, ``product``, ``region``, ``volume`` (int64),
        ``is_anomaly`` (bool) and ``anomaly_type`` (str, ``""`` when
        normal), 384 rows sorted by month, product and region.

    Raises
    ------
    ParameterError
        If ``anomaly_percentage`` is outside [0, 1].

    Examples
    --------
    >>> ds = smartphone_sales()
    >>> ds.frame.shape, int(ds.frame["is_anomaly"].sum())
    ((384, 6), 60)
    >>> first = ds.frame.iloc[0]
    >>> first["product"], first["region"], int(first["volume"])
    ('Google Pixel', 'Asia Pacific', 3383)
    """
    if not 0.0 <= anomaly_percentage <= 1.0:
        raise ParameterError(f"anomaly_percentage must be in [0, 1], got {anomaly_percentage!r}")
    rs = np.random.RandomState(seed)
    months = pd.date_range(start="2023-01-01", end="2024-12-31", freq="MS")
    n = len(months) * len(PRODUCTS) * len(REGIONS)
    # The seed draws per cell and only draws type/magnitude for anomalous
    # cells, so the stream order forces a loop; it is 384 iterations.
    volumes = np.empty(n, dtype=np.int64)
    kinds = np.full(n, "", dtype=object)
    i = 0
    for month in months:
        seasonal = SEASONAL_FACTORS[month.month]
        for product in PRODUCTS:
            base = PRODUCT_BASELINES[product]
            for region in REGIONS:
                expected = base * seasonal * REGIONAL_MULTIPLIERS[region]
                volume = max(0, int(expected * rs.normal(1.0, 0.1)))
                if rs.random_sample() < anomaly_percentage:
                    kind = str(rs.choice(_ANOMALY_TYPES))
                    low, high, _, _ = ANOMALY_RANGES[kind]
                    volume = int(volume * rs.uniform(low, high))
                    kinds[i] = kind
                volumes[i] = volume
                i += 1
    frame = pd.DataFrame(
        {
            "month": np.repeat(months.to_numpy(), len(PRODUCTS) * len(REGIONS)),
            "product": np.tile(
                np.repeat(np.array(PRODUCTS, dtype=object), len(REGIONS)), len(months)
            ),
            "region": np.tile(np.array(REGIONS), len(months) * len(PRODUCTS)),
            "volume": volumes,
            "is_anomaly": kinds != "",
            "anomaly_type": kinds,
        }
    )
    for column in ("product", "region", "anomaly_type"):
        frame[column] = frame[column].astype("str")
    frame = frame.sort_values(["month", "product", "region"], kind="stable").reset_index(drop=True)

    anomalous = frame.loc[frame["is_anomaly"], ["product", "region", "month", "anomaly_type"]]
    labels = pd.DataFrame(
        {
            "product": anomalous["product"].to_numpy(),
            "region": anomalous["region"].to_numpy(),
            "month": anomalous["month"].to_numpy(),
            "type": [ANOMALY_RANGES[k][2] for k in anomalous["anomaly_type"]],
            "direction": [ANOMALY_RANGES[k][3] for k in anomalous["anomaly_type"]],
            "event_start": anomalous["month"].to_numpy(),
            "cause": anomalous["anomaly_type"].to_numpy(),
        }
    )
    labels = labels.sort_values(["product", "region", "month"], kind="stable").reset_index(
        drop=True
    )
    logger.debug("smartphone-sales: %d rows, %d anomalies, seed %d", n, len(labels), seed)
    return Dataset(
        name="smartphone-sales",
        frame=frame,
        labels=labels,
        id_columns=("product", "region"),
        time_column="month",
        value_column="volume",
        description=(
            "Monthly smartphone unit sales, 4 products x 4 regions, 2023-01..2024-12 "
            "(seed 003): strong Q4 seasonality, regional multipliers, N(1, 0.1) noise and "
            f"{anomaly_percentage:.0%} random supply shortages, demand spikes and launch hype."
        ),
    )
