"""``saas-mrr``: the monthly SaaS MRR data set of seed 000.

What it reproduces
------------------
Seed 000's ``generate_data.py`` (described, not shown): 720 rows of monthly
revenue for 30 fictitious SaaS accounts from July 2024 through June 2026.
Every account has its own baseline MRR, its own gentle trend and its own
month-to-month noise; five accounts carry a deliberately shaped anomaly:

=====================  =========================================================
Apex Holdings          churn: from 2026-02 revenue is ~30% of expected
                       (0.30, 0.29, 0.28, 0.28, 0.27) and stays low
Lighthouse Media       one-month billing-error spike, 2.8x expected in 2025-10
Northgate Partners     slow erosion, -3.5% a month compounding for the 12
                       months 2025-07..2026-06 (noise CV 2%)
Sterling Capital       1.75x spike in 2025-04, 1.08x in 2025-05, a climb
                       1.14..1.38x over 2025-06..2025-10, then a new genuine
                       baseline of ~1.40x to the end (noise CV 3%)
Crestline Industries   service disruption: 0.45x in 2026-01, 0.80x in 2026-02,
                       normal from 2026-03
=====================  =========================================================

The expected levels match the seed's ranked report (rolling means of about
$32.6k for Apex before its churn, $45.4k for Lighthouse, $29.4k for Sterling
and $14.6k for Crestline).

Model
-----
``revenue[a, t] = base[a] * (1 + trend[a]) ** t * anomaly[a, t] * (1 + cv[a] * z[a, t])``
with ``z`` iid standard normal, rounded to cents. The 25 clean accounts draw
``base`` log-uniformly from 5k..80k, ``trend`` uniformly from -0.8%..+1.2% a
month and ``cv`` uniformly from 2%..5%; the five anomaly accounts have fixed
parameters so that the anomaly shapes and levels do not depend on the seed.

Clean accounts' month-over-month changes stay within +-20% for the default
seed (largest 16.4%). This is not guaranteed for every seed: with a noise CV
of up to 5% the month-over-month ratio has a spread of up to ~7%, and in
about 45% of seeds at least one of the 575 clean month-over-month changes
exceeds 20%. The noise is kept plainly Gaussian as specified rather than
truncated to force the bound.

Deviations from the seed
------------------------
The seed's script itself is not published, so its exact random stream cannot
be reproduced: the numbers differ from the seed's table while the shapes,
months and levels match. The shape multipliers are fixed (not random) so that
a detector can be tuned against them and the labels are exact.

Portfolio options (off by default)
----------------------------------
Real portfolios have accounts a flat-trend-plus-Gaussian model does not
describe. Four options add them; all are off by default so that today's
tables stay comparable, and none adds a label (they are normal behaviour):

``months`` (default 24)
    More history: the data starts earlier and still ends in 2026-06, so the
    anomalies keep their months (36 gives 2023-07..2026-06). The fixed
    accounts' baselines stay the 2024-07 levels.
``yearly_cycle``
    12 of the 30 accounts (drawn per seed, the five anomaly accounts among
    the candidates) follow a yearly cycle
    ``1 + a1 cos(2 pi (m - p1) / 12) + a2 cos(4 pi (m - p2) / 12)`` with
    ``a1`` uniform in 5 %..25 % (usage-based or seasonal buyers: retail peaks
    in Q4, education dips in summer), ``a2`` in 0..a1/3 (a sharper peak),
    ``p1``, ``p2`` uniform months.
``heavy_tails``
    15 of the 30 accounts draw their noise from a Student t with 3 degrees of
    freedom scaled to unit variance instead of a normal (same CV), so about
    one month in 300 moves by 5 CVs or more; the noise factor is floored at
    0.2 so revenue stays positive.
``late_starts``
    6 of the 25 clean accounts become customers late: no rows before a start
    month drawn uniformly from the 4th month to 9 months before the end,
    and a prorated first month (a share uniform in 20 %..100 % of a full
    month, as a mid-month signature bills).

These draws come from a random stream of their own, so switching an option
on does not change the other accounts' parameters or noise (``months`` does,
as it changes the number of noise draws).

Labels
------
One row per anomalous account-month (``account``, ``month``, ``type``,
``direction``, ``event_start``): Apex 2026-02..2026-06 ``level_shift`` down;
Lighthouse 2025-10 ``spike`` up; Northgate 2025-07..2026-06 ``trend_change``
down; Sterling 2025-04 ``spike`` up and 2025-06..2025-10 ``trend_change`` up
(the 2025-05 echo and the new baseline from 2025-11 are not anomalies);
Crestline 2026-01..2026-02 ``drop`` down.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from revwatch.datasets._base import Dataset
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["ANOMALY_ACCOUNTS", "CLEAN_ACCOUNTS", "MONTHS", "saas_mrr"]

#: The 24 month starts the data set covers.
MONTHS: pd.DatetimeIndex = pd.date_range("2024-07-01", "2026-06-01", freq="MS")

#: The five accounts with an injected anomaly: (baseline MRR in 2024-07,
#: monthly trend, noise CV). The baselines put the expected MRR at the event
#: near the seed's reported rolling means.
ANOMALY_ACCOUNTS: dict[str, tuple[float, float, float]] = {
    "Apex Holdings": (32_000.0, 0.002, 0.03),
    "Lighthouse Media": (44_000.0, 0.002, 0.03),
    "Northgate Partners": (20_000.0, 0.001, 0.02),
    "Sterling Capital": (29_000.0, 0.001, 0.03),
    "Crestline Industries": (14_000.0, 0.002, 0.03),
}

#: The 25 accounts without an injected anomaly (parameters drawn per seed).
CLEAN_ACCOUNTS: tuple[str, ...] = (
    "Bluewater Analytics",
    "Summit Logistics",
    "Ironwood Systems",
    "Harborview Health",
    "Meridian Software",
    "Oakridge Manufacturing",
    "Pinecrest Retail",
    "Silverline Networks",
    "Redwood Financial",
    "Cobalt Dynamics",
    "Evergreen Foods",
    "Granite Ridge Construction",
    "Falcon Aerospace",
    "Horizon Telecom",
    "Keystone Insurance",
    "Maplewood Education",
    "Nimbus Cloud Services",
    "Orion Biotech",
    "Pacific Rim Trading",
    "Quarry Energy",
    "Riverbend Hospitality",
    "Trident Legal Group",
    "Vantage Marketing",
    "Westfield Properties",
    "Zenith Pharmaceuticals",
)

# (account, first month, multipliers from that month on; the last one holds to the end)
_SHAPES: tuple[tuple[str, str, tuple[float, ...], bool], ...] = (
    ("Apex Holdings", "2026-02-01", (0.30, 0.29, 0.28, 0.28, 0.27), True),
    ("Lighthouse Media", "2025-10-01", (2.8,), False),
    ("Sterling Capital", "2025-04-01", (1.75, 1.08, 1.14, 1.20, 1.27, 1.33, 1.38, 1.40), True),
    ("Crestline Industries", "2026-01-01", (0.45, 0.80), False),
)
_NORTHGATE_START = "2025-07-01"
_NORTHGATE_MONTHLY = -0.035

# (account, first month, last month, type, direction, event start)
_LABELS: tuple[tuple[str, str, str, str, str], ...] = (
    ("Apex Holdings", "2026-02-01", "2026-06-01", "level_shift", "down"),
    ("Lighthouse Media", "2025-10-01", "2025-10-01", "spike", "up"),
    ("Northgate Partners", "2025-07-01", "2026-06-01", "trend_change", "down"),
    ("Sterling Capital", "2025-04-01", "2025-04-01", "spike", "up"),
    ("Sterling Capital", "2025-06-01", "2025-10-01", "trend_change", "up"),
    ("Crestline Industries", "2026-01-01", "2026-02-01", "drop", "down"),
)


_N_CYCLIC = 12
_CYCLE_AMPLITUDE = (0.05, 0.25)
_N_HEAVY = 15
_HEAVY_DF = 3.0
_NOISE_FLOOR = 0.2
_N_LATE = 6
_LATE_MIN_MONTHS = 9
_PRORATED = (0.2, 1.0)


def _month_index(month: str, months: pd.DatetimeIndex = MONTHS) -> int:
    """Position of a month start in ``months``."""
    return int(months.searchsorted(pd.Timestamp(month)))


def _anomaly_multipliers(accounts: list[str], months: pd.DatetimeIndex = MONTHS) -> np.ndarray:
    """The (n_accounts, n_months) multiplier matrix, 1.0 where clean."""
    mult = np.ones((len(accounts), len(months)))
    row = {name: i for i, name in enumerate(accounts)}
    for account, first, factors, hold in _SHAPES:
        start = _month_index(first, months)
        stop = len(months) if hold else start + len(factors)
        seq = np.full(stop - start, factors[-1])
        seq[: len(factors)] = factors[: stop - start]
        mult[row[account], start:stop] = seq
    start = _month_index(_NORTHGATE_START, months)
    steps = np.arange(1, len(months) - start + 1)
    mult[row["Northgate Partners"], start:] = (1.0 + _NORTHGATE_MONTHLY) ** steps
    return mult


def _yearly_cycles(rng: np.random.Generator, n: int, months: pd.DatetimeIndex) -> np.ndarray:
    """(n, n_months) yearly-cycle multipliers, 1.0 for accounts without one."""
    cycle = np.ones((n, len(months)))
    chosen = rng.choice(n, size=min(_N_CYCLIC, n), replace=False)
    a1 = rng.uniform(*_CYCLE_AMPLITUDE, len(chosen))
    a2 = rng.uniform(0.0, 1.0, len(chosen)) * a1 / 3.0
    p1 = rng.uniform(0.0, 12.0, len(chosen))
    p2 = rng.uniform(0.0, 12.0, len(chosen))
    m = np.asarray(months.month, dtype=float)[None, :]
    cycle[chosen] = (
        1.0
        + a1[:, None] * np.cos(2.0 * np.pi * (m - p1[:, None]) / 12.0)
        + a2[:, None] * np.cos(4.0 * np.pi * (m - p2[:, None]) / 12.0)
    )
    return cycle


def _heavy_noise(rng: np.random.Generator, z: np.ndarray) -> np.ndarray:
    """``z`` with the rows of some accounts replaced by unit-variance Student t draws."""
    n = z.shape[0]
    chosen = rng.choice(n, size=min(_N_HEAVY, n), replace=False)
    t = rng.standard_t(_HEAVY_DF, (len(chosen), z.shape[1]))
    out = z.copy()
    out[chosen] = t / np.sqrt(_HEAVY_DF / (_HEAVY_DF - 2.0))
    return out


def _late_starts(
    rng: np.random.Generator, clean_rows: np.ndarray, n_months: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows that start late, their first month (position) and first-month share."""
    rows = rng.choice(clean_rows, size=min(_N_LATE, len(clean_rows)), replace=False)
    first = rng.integers(3, max(n_months - _LATE_MIN_MONTHS, 3) + 1, len(rows))
    share = rng.uniform(*_PRORATED, len(rows))
    return rows, first, share


def _labels() -> pd.DataFrame:
    parts = []
    for account, first, last, kind, direction in _LABELS:
        months = pd.date_range(first, last, freq="MS")
        parts.append(
            pd.DataFrame(
                {
                    "account": account,
                    "month": months,
                    "type": kind,
                    "direction": direction,
                    "event_start": pd.Timestamp(first),
                }
            )
        )
    labels = pd.concat(parts, ignore_index=True)
    return labels.sort_values(["account", "month"], kind="stable").reset_index(drop=True)


def saas_mrr(
    seed: int = 42,
    *,
    months: int = 24,
    yearly_cycle: bool = False,
    heavy_tails: bool = False,
    late_starts: bool = False,
) -> Dataset:
    """Monthly MRR of 30 SaaS accounts over 24 months with five shaped anomalies.

    Parameters
    ----------
    seed : int, default 42
        Seed of ``numpy.random.default_rng``. It changes the clean accounts'
        parameters and everyone's noise; the five anomalies and their months
        are the same for every seed.
    months : int, default 24
        Months of data, at least 24, all ending 2026-06 (more history starts
        earlier).
    yearly_cycle : bool, default False
        Give 12 accounts a yearly cycle (see "Portfolio options").
    heavy_tails : bool, default False
        Give 15 accounts heavy-tailed (Student t, 3 df) noise.
    late_starts : bool, default False
        Start 6 clean accounts late, with a prorated first month.

    Returns
    -------
    Dataset
        ``frame`` has ``account`` (str), ``month`` (datetime64, first of
        month) and ``revenue`` (float, cents), 720 rows sorted by account and
        month; ``labels`` as described in the module docstring.

    Examples
    --------
    >>> ds = saas_mrr()
    >>> ds.frame.shape, ds.frame["account"].nunique(), ds.frame["month"].nunique()
    ((720, 3), 30, 24)
    >>> ds.labels.groupby("type").size().to_dict()
    {'drop': 2, 'level_shift': 5, 'spike': 2, 'trend_change': 17}
    >>> real = saas_mrr(months=36, yearly_cycle=True, heavy_tails=True, late_starts=True)
    >>> real.frame["month"].min().date(), len(real.frame) < 30 * 36, len(real.labels)
    (datetime.date(2023, 7, 1), True, 26)

    Raises
    ------
    ParameterError
        If ``months`` is not an integer of at least 24.
    """
    if isinstance(months, bool) or not isinstance(months, int | np.integer) or months < 24:
        raise ParameterError(f"months must be an integer >= 24, got {months!r}")
    index = pd.date_range(end=MONTHS[-1], periods=int(months), freq="MS")
    rng = np.random.default_rng(seed)
    accounts = list(ANOMALY_ACCOUNTS) + list(CLEAN_ACCOUNTS)
    n_clean = len(CLEAN_ACCOUNTS)
    fixed = np.array(list(ANOMALY_ACCOUNTS.values()))
    clean_base = np.exp(rng.uniform(np.log(5_000.0), np.log(80_000.0), n_clean))
    clean_trend = rng.uniform(-0.008, 0.012, n_clean)
    clean_cv = rng.uniform(0.02, 0.05, n_clean)
    base = np.concatenate([fixed[:, 0], clean_base])
    trend = np.concatenate([fixed[:, 1], clean_trend])
    cv = np.concatenate([fixed[:, 2], clean_cv])
    z = rng.standard_normal((len(accounts), len(index)))
    extra = np.random.default_rng([seed, 1])  # the options' own stream

    t = np.arange(len(index)) - (len(index) - len(MONTHS))  # 0 at 2024-07
    expected = base[:, None] * (1.0 + trend[:, None]) ** t[None, :]
    if yearly_cycle:
        expected = expected * _yearly_cycles(extra, len(accounts), index)
    if heavy_tails:
        z = _heavy_noise(extra, z)
    noise = np.maximum(1.0 + cv[:, None] * z, _NOISE_FLOOR)
    revenue = expected * _anomaly_multipliers(accounts, index) * noise
    present = np.ones(revenue.shape, dtype=bool)
    if late_starts:
        clean_rows = np.arange(len(ANOMALY_ACCOUNTS), len(accounts))
        rows, first, share = _late_starts(extra, clean_rows, len(index))
        present[rows] = np.arange(len(index))[None, :] >= first[:, None]
        revenue[rows, first] *= share
    frame = pd.DataFrame(
        {
            "account": np.repeat(np.array(accounts, dtype=object), len(index)),
            "month": np.tile(index.to_numpy(), len(accounts)),
            "revenue": np.round(revenue.ravel(), 2),
        }
    )
    frame = frame[present.ravel()]
    frame["account"] = frame["account"].astype("str")
    frame = frame.sort_values(["account", "month"], kind="stable").reset_index(drop=True)
    logger.debug("saas-mrr: %d rows, seed %d", len(frame), seed)
    options = [
        name
        for name, on in (
            ("yearly cycles", yearly_cycle),
            ("heavy-tailed noise", heavy_tails),
            ("late starts", late_starts),
        )
        if on
    ]
    portfolio = f" Options: {', '.join(options)}." if options else ""
    return Dataset(
        name="saas-mrr",
        frame=frame,
        labels=_labels(),
        id_columns=("account",),
        time_column="month",
        value_column="revenue",
        description=(
            f"Monthly recurring revenue of 30 fictitious SaaS accounts, "
            f"{index[0]:%Y-%m}..2026-06 "
            "(seed 000): churn (Apex Holdings), a billing-error spike (Lighthouse Media), "
            "slow erosion (Northgate Partners), a spike then genuine expansion (Sterling "
            "Capital) and a disruption with partial recovery (Crestline Industries)." + portfolio
        ),
    )
