"""Root cause of an incident on a total: which dimension values explain it.

Given a metric broken down by dimension columns (payment method, country,
product, ...) and an incident window on the total, :func:`explain` says
which values, alone or in pairs, account for the deviation, what share of the
impact each carries, and whether the anomaly is *concentrated* (a few cells
carry it: a technical cause such as a payment processor or a deployment) or
*diffuse* (every cell moves in proportion: demand, seasonality, pricing).

Expected values
---------------
For each leaf (one combination of every dimension) the expected value of a
period is the median of the same period of the season in the ``history``
previous seasons (the same weekday of the previous four weeks for daily
data); with less than two seasons of history, the median of the
``history`` previous periods. This uses only data before each period.

Two published algorithms
------------------------
* **Adtributor** (Bhagwan et al., NSDI 2014), one dimension at a time.
  For value ``j`` with actual ``A_j`` and expected ``F_j`` (totals ``A``,
  ``F``) the *explanatory power* is ``EP_j = (A_j - F_j) / (A - F)`` and the
  *surprise* the Jensen-Shannon divergence between the expected share
  ``p_j = F_j / F`` and the actual share ``q_j = A_j / A``. Per dimension the
  values are taken by decreasing surprise, keeping those with
  ``EP_j > t_eep``, until their explanatory power exceeds ``t_ep``; the
  dimensions are ranked by the summed surprise of their explanatory set.
* **Pairs by potential score** (HotSpot, Sun et al., IEEE Access 2018; the
  generalized potential score of Squeeze, Li et al., ISSRE 2019). Every
  single value and every pair of values of two dimensions is a candidate
  cause ``c``. If ``c`` were the cause, its leaves would move by its own
  ratio ``A_c / F_c`` (the *ripple effect*) and every other leaf would stay
  at its expectation. The potential score ``1 - sum |v - a| / sum |v - f|``
  (``v`` actual, ``f`` expected, ``a`` the hypothesised leaves) is 1 when
  the hypothesis reproduces every leaf. Candidates are ranked by potential
  score, the simpler (fewer dimensions) first on ties.

Concentrated or diffuse: the best candidate is *concentrated* when it
carries at least ``concentrated_share`` of the impact with at most
``concentrated_mass`` of the expected total, and it explains the leaves
better than a uniform move of everything (the root hypothesis) by
``margin``.

Metric signature
----------------
Seed 001's rules on transaction count and average order value (AOV),
relative changes against expectation over the window:

===============================  ======================
count down, AOV stable           ``payment_processing``
count down, AOV up by less than  ``payment_processing``
half the count's fall (mix)
count down, AOV down             ``checkout``
count stable, AOV changed        ``pricing``
count up, AOV stable             ``volume_up``
anything else                    ``mixed``
===============================  ======================

``stable`` means within ``± stable`` (3 % by default). A payment failure
concentrated in a segment with low order values (cards in one country) also
raises the total's AOV a little, by mix: the surviving payments are the
larger ones. So a count that falls with an AOV that rises by less than half
as much is still ``payment_processing``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from revwatch.data.panel import FREQUENCIES, Panel
from revwatch.errors import MissingColumnError, ParameterError

logger = logging.getLogger(__name__)

__all__ = [
    "RootCause",
    "RootCauseSettings",
    "explain",
    "explain_cells",
    "match_past",
    "metric_signature",
    "seasonal_expectation",
]

SIGNATURES: tuple[str, ...] = ("payment_processing", "checkout", "pricing", "volume_up", "mixed")


@dataclass(frozen=True)
class RootCauseSettings:
    """Parameters of :func:`explain` (defaults from the papers and seed 001).

    Parameters
    ----------
    history : int, default 4
        Seasons (or periods) the expectation of a leaf is the median of.
    t_eep : float, default 0.1
        Adtributor: minimum explanatory power of a value to be kept.
    t_ep : float, default 0.67
        Adtributor: explanatory power a dimension's set must reach.
    max_order : int, default 2
        Largest number of dimensions combined in one candidate.
    concentrated_share : float, default 0.6
        Share of the impact the best candidate must carry to be concentrated.
    concentrated_mass : float, default 0.5
        Largest share of the expected total it may hold.
    margin : float, default 0.1
        How much better than the root hypothesis its potential score must be.
    top : int, default 5
        Candidates kept in :attr:`RootCause.candidates`.
    """

    history: int = 4
    t_eep: float = 0.1
    t_ep: float = 0.67
    max_order: int = 2
    concentrated_share: float = 0.6
    concentrated_mass: float = 0.5
    margin: float = 0.1
    top: int = 5

    def __post_init__(self) -> None:
        if int(self.history) < 1:
            raise ParameterError(f"history must be at least 1, got {self.history}")
        if int(self.max_order) < 1:
            raise ParameterError(f"max_order must be at least 1, got {self.max_order}")


@dataclass(frozen=True)
class RootCause:
    """What :func:`explain` found.

    Attributes
    ----------
    actual, expected : float
        The total over the window and its expectation.
    dimensions : DataFrame
        Adtributor per value: ``dimension``, ``value``, ``actual``,
        ``expected``, ``explanatory_power``, ``surprise``, ``chosen`` and
        ``dimension_surprise``; ranked dimensions first.
    candidates : DataFrame
        Best single values and pairs: ``element`` (``"a=x & b=y"``),
        ``order``, ``actual``, ``expected``, ``change_pct``,
        ``share_of_impact``, ``expected_mass`` and ``potential_score``.
    pattern : str
        ``"concentrated"`` or ``"diffuse"`` (``"none"`` with no deviation).
    root_score : float
        Potential score of a uniform move of every leaf.
    lines : list of str
        Human-readable summary lines.
    """

    actual: float
    expected: float
    dimensions: pd.DataFrame
    candidates: pd.DataFrame
    pattern: str
    root_score: float
    lines: list[str] = field(default_factory=list)

    @property
    def deviation(self) -> float:
        """``actual - expected``."""
        return self.actual - self.expected

    @property
    def best(self) -> str | None:
        """The top candidate element, or None."""
        return None if self.candidates.empty else str(self.candidates["element"].iloc[0])


def seasonal_expectation(values: np.ndarray, season: int, history: int = 4) -> np.ndarray:
    """Causal expectation of every cell: median of the same season phase before it.

    Parameters
    ----------
    values : ndarray, shape (n_series, n_periods)
        The data (NaN for missing).
    season : int
        Periods per season (7 for daily data). With fewer than ``2 × season``
        periods, the previous periods are used instead.
    history : int, default 4
        How many earlier seasons (or periods) to take the median of.

    Returns
    -------
    ndarray
        Same shape; NaN where no earlier value exists.

    Examples
    --------
    >>> y = np.array([[1.0, 2, 1, 2, 1, 2, 9, 2]])
    >>> seasonal_expectation(y, 2, history=2)[0].tolist()[4:]
    [1.0, 2.0, 1.0, 2.0]
    """
    y = np.asarray(values, dtype=float)
    n_periods = y.shape[1]
    step = season if season > 1 and n_periods >= 2 * season else 1
    lags = []
    for k in range(1, int(history) + 1):
        shift = k * step
        lagged = np.full_like(y, np.nan)
        if shift < n_periods:
            lagged[:, shift:] = y[:, :-shift]
        lags.append(lagged)
    stack = np.stack(lags)
    out = np.full_like(y, np.nan)
    have = np.isfinite(stack).any(axis=0)
    with np.errstate(all="ignore"):
        out[have] = np.nanmedian(stack[:, have], axis=0)
    return out


def _js(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Elementwise Jensen-Shannon term of Adtributor's surprise."""
    m = (p + q) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        tp = np.where(p > 0, p * np.log(p / m), 0.0)
        tq = np.where(q > 0, q * np.log(q / m), 0.0)
    return 0.5 * (tp + tq)


def _adtributor(
    leaves: pd.DataFrame, dims: list[str], total_dev: float, cfg: RootCauseSettings
) -> pd.DataFrame:
    parts = []
    a_total = float(leaves["actual"].sum())
    f_total = float(leaves["expected"].sum())
    for dim in dims:
        g = leaves.groupby(dim, sort=False, observed=True)[["actual", "expected"]].sum()
        g = g.reset_index().rename(columns={dim: "value"})
        g.insert(0, "dimension", dim)
        parts.append(g)
    table = pd.concat(parts, ignore_index=True)
    table["value"] = table["value"].astype(str)
    with np.errstate(divide="ignore", invalid="ignore"):
        ep = (table["actual"] - table["expected"]) / total_dev if total_dev else 0.0
        p = table["expected"].to_numpy() / f_total if f_total else np.zeros(len(table))
        q = table["actual"].to_numpy() / a_total if a_total else np.zeros(len(table))
    table["explanatory_power"] = ep
    table["surprise"] = _js(np.clip(p, 0, None), np.clip(q, 0, None))
    table = table.sort_values(["dimension", "surprise"], ascending=[True, False], kind="stable")
    keep = table["explanatory_power"] > cfg.t_eep
    cum = table["explanatory_power"].where(keep, 0.0).groupby(table["dimension"]).cumsum()
    before = cum - table["explanatory_power"].where(keep, 0.0)
    table["chosen"] = keep & (before <= cfg.t_ep)
    reached = cum.where(table["chosen"]).groupby(table["dimension"]).transform("max") > cfg.t_ep
    table["chosen"] &= reached
    dim_surprise = table["surprise"].where(table["chosen"], 0.0).groupby(table["dimension"])
    table["dimension_surprise"] = dim_surprise.transform("sum")
    table = table.sort_values(
        ["dimension_surprise", "dimension", "chosen", "surprise"],
        ascending=[False, True, False, False],
        kind="stable",
    )
    return table.reset_index(drop=True)


def _candidates(
    leaves: pd.DataFrame, dims: list[str], cfg: RootCauseSettings
) -> tuple[pd.DataFrame, float]:
    v = leaves["actual"].to_numpy(dtype=float)
    f = leaves["expected"].to_numpy(dtype=float)
    base_err = float(np.abs(v - f).sum())
    names: list[str] = []
    orders: list[int] = []
    members: list[np.ndarray] = []
    for order in range(1, min(int(cfg.max_order), len(dims)) + 1):
        for combo in itertools.combinations(dims, order):
            codes = leaves[list(combo)].astype(str)
            label = codes.apply(lambda col: col.name + "=" + col).agg(" & ".join, axis=1)
            keys, inverse = np.unique(label.to_numpy(dtype=str), return_inverse=True)
            onehot = np.zeros((len(keys), len(leaves)), dtype=bool)
            onehot[inverse, np.arange(len(leaves))] = True
            names.extend(keys.tolist())
            orders.extend([order] * len(keys))
            members.append(onehot)
    member = np.vstack(members) if members else np.zeros((0, len(leaves)), dtype=bool)
    a_c = member @ v
    f_c = member @ f
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(f_c != 0, a_c / f_c, 1.0)
        a_total, f_total = float(v.sum()), float(f.sum())
        root_ratio = a_total / f_total if f_total else 1.0
    predicted = np.where(member, f[None, :] * ratio[:, None], f[None, :])
    err = np.abs(v[None, :] - predicted).sum(axis=1)
    root_err = float(np.abs(v - f * root_ratio).sum())
    if base_err > 0:
        score = np.clip(1.0 - err / base_err, 0.0, None)
        root_score = max(1.0 - root_err / base_err, 0.0)
    else:
        score = np.zeros(len(names))
        root_score = 0.0
    dev = a_total - f_total
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (a_c - f_c) / dev if dev else np.zeros(len(names))
        change = np.where(f_c != 0, (a_c - f_c) / np.abs(f_c) * 100.0, np.nan)
        mass = f_c / f_total if f_total else np.zeros(len(names))
    table = pd.DataFrame(
        {
            "element": names,
            "order": orders,
            "actual": a_c,
            "expected": f_c,
            "change_pct": change,
            "share_of_impact": share,
            "expected_mass": mass,
            "potential_score": score,
        }
    )
    table = table.sort_values(
        ["potential_score", "order", "share_of_impact"],
        ascending=[False, True, False],
        kind="stable",
    )
    return table.head(int(cfg.top)).reset_index(drop=True), float(root_score)


def _leaf_panel(data: Any, dimensions: Sequence[str], time: str | None, value: str | None) -> Panel:
    if isinstance(data, Panel):
        return data
    from revwatch.data.load import from_frame

    return from_frame(data, id=list(dimensions), time=time, value=value, aggregate="sum")


def explain(
    data: Any,
    dimensions: Sequence[str],
    start: Any,
    end: Any,
    *,
    time: str | None = None,
    value: str | None = None,
    settings: RootCauseSettings | None = None,
) -> RootCause:
    """Explain the deviation of a total over ``[start, end]`` by its dimensions.

    Parameters
    ----------
    data : DataFrame or Panel
        Long data with the dimension columns, a time column and a value
        column (a Panel whose id columns include ``dimensions``). Rows with
        the same dimension values and period are added up.
    dimensions : sequence of str
        The dimension columns to drill into (at least one).
    start, end : date-like
        The incident window, both included.
    time, value : str, optional
        Column names for a DataFrame (inferred when omitted).
    settings : RootCauseSettings, optional
        Thresholds (see the module docstring).

    Returns
    -------
    RootCause

    Raises
    ------
    MissingColumnError
        If a dimension is not a column of the data.
    ParameterError
        If no dimension is given or the window holds no data.

    Examples
    --------
    >>> days = pd.date_range("2025-01-01", periods=35, freq="D")
    >>> rows = [(d, m, c, 100.0) for d in days for m in "ab" for c in "xy"]
    >>> frame = pd.DataFrame(rows, columns=["day", "method", "country", "revenue"])
    >>> hit = (frame["day"] == days[-1]) & (frame["method"] == "a") & (frame["country"] == "y")
    >>> frame.loc[hit, "revenue"] = 20.0
    >>> cause = explain(frame, ["method", "country"], days[-1], days[-1],
    ...                 time="day", value="revenue")
    >>> cause.best, cause.pattern
    ('method=a & country=y', 'concentrated')
    """
    cfg = settings or RootCauseSettings()
    dims = list(dimensions)
    if not dims:
        raise ParameterError("root cause needs at least one dimension column (--dimensions)")
    panel = _leaf_panel(data, dims, time, value)
    missing = [d for d in dims if d not in panel.id_columns]
    if missing:
        raise MissingColumnError(
            f"{panel.source}: dimension column {missing[0]!r} is not a series key column; "
            f"use one of {', '.join(panel.id_columns) or 'none'}"
        )
    mat = panel.matrix()
    season = FREQUENCIES[panel.freq][2]
    expected = seasonal_expectation(mat.values, season, cfg.history)
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    cols = np.flatnonzero((mat.periods >= lo) & (mat.periods <= hi))
    if not cols.size:
        raise ParameterError(
            f"{panel.source}: no period between {lo.date()} and {hi.date()}; "
            "pass a window inside the data"
        )
    cause = explain_cells(mat.keys, mat.values[:, cols], expected[:, cols], dims, cfg)
    logger.info("root cause %s..%s: %s (%s)", lo.date(), hi.date(), cause.best, cause.pattern)
    return cause


def explain_cells(
    keys: pd.DataFrame,
    actual: np.ndarray,
    expected: np.ndarray,
    dimensions: Sequence[str],
    settings: RootCauseSettings | None = None,
) -> RootCause:
    """The core of :func:`explain` on arrays already cut to the window.

    Parameters
    ----------
    keys : DataFrame
        One row per leaf series with (at least) the dimension columns.
    actual, expected : ndarray, shape (n_leaves, n_window)
        Observed and expected values of every leaf over the window.
    dimensions : sequence of str
        Dimension columns of ``keys``.
    settings : RootCauseSettings, optional
        Thresholds.

    Returns
    -------
    RootCause
    """
    cfg = settings or RootCauseSettings()
    dims = list(dimensions)
    ok = np.isfinite(actual) & np.isfinite(expected)
    leaves = keys[dims].reset_index(drop=True).copy()
    leaves["actual"] = np.where(ok, actual, 0.0).sum(axis=1)
    leaves["expected"] = np.where(ok, expected, 0.0).sum(axis=1)
    if leaves.duplicated(dims).any():
        leaves = leaves.groupby(dims, sort=False, observed=True)[["actual", "expected"]].sum()
        leaves = leaves.reset_index()
    a_total = float(leaves["actual"].sum())
    f_total = float(leaves["expected"].sum())
    dev = a_total - f_total
    dim_table = _adtributor(leaves, dims, dev, cfg)
    candidates, root_score = _candidates(leaves, dims, cfg)
    pattern = "none"
    if dev != 0 and not candidates.empty:
        top = candidates.iloc[0]
        concentrated = (
            float(top["share_of_impact"]) >= cfg.concentrated_share
            and float(top["expected_mass"]) <= cfg.concentrated_mass
            and float(top["potential_score"]) >= root_score + cfg.margin
        )
        pattern = "concentrated" if concentrated else "diffuse"
    cause = RootCause(
        actual=a_total,
        expected=f_total,
        dimensions=dim_table,
        candidates=candidates,
        pattern=pattern,
        root_score=root_score,
    )
    cause.lines.extend(_lines(cause))
    return cause


def _lines(cause: RootCause) -> list[str]:
    if cause.pattern == "none":
        return ["no deviation from expectation in the window"]
    lines = []
    top = cause.candidates.iloc[0]
    lines.append(
        f"{top['element']}: {top['actual'] - top['expected']:+,.0f} "
        f"({top['share_of_impact'] * 100:.0f}% of the impact, {top['change_pct']:+.0f}% vs "
        f"expected; potential score {top['potential_score']:.2f})"
    )
    if cause.pattern == "concentrated":
        lines.append(
            "concentrated: a few cells carry the deviation, which points to a technical cause "
            "(payment processor, checkout, a deployment)"
        )
    else:
        lines.append(
            "diffuse: the deviation is spread across the breakdown, which points to demand "
            f"(a uniform move explains the cells with potential score {cause.root_score:.2f})"
        )
    chosen = cause.dimensions[cause.dimensions["chosen"]]
    for dim, part in chosen.groupby("dimension", sort=False):
        values = ", ".join(
            f"{v} {ep * 100:.0f}%"
            for v, ep in zip(part["value"], part["explanatory_power"], strict=True)
        )
        lines.append(
            f"Adtributor {dim}: {values} of the deviation "
            f"(surprise {part['dimension_surprise'].iloc[0]:.3f})"
        )
    return lines


def metric_signature(
    count_change: np.ndarray | float,
    aov_change: np.ndarray | float,
    *,
    stable: float = 0.03,
) -> np.ndarray:
    """Seed 001's metric signature from relative changes of count and order value.

    Parameters
    ----------
    count_change, aov_change : array-like of float
        Relative change against expectation (``-0.2`` is 20 % below); NaN
        where unknown.
    stable : float, default 0.03
        Changes within ``± stable`` count as stable.

    Returns
    -------
    ndarray of str
        One of ``payment_processing``, ``checkout``, ``pricing``,
        ``volume_up``, ``mixed`` or ``unknown``.

    Examples
    --------
    >>> metric_signature([-0.2, -0.2, 0.0, 0.15, 0.1], [0.0, -0.1, 0.12, 0.01, 0.1]).tolist()
    ['payment_processing', 'checkout', 'pricing', 'volume_up', 'mixed']
    >>> metric_signature([-0.09, -0.09], [0.04, 0.06]).tolist()  # mix shift vs price rise
    ['payment_processing', 'mixed']
    """
    count = np.atleast_1d(np.asarray(count_change, dtype=float))
    aov = np.atleast_1d(np.asarray(aov_change, dtype=float))
    c_flat = np.abs(count) <= stable
    a_flat = np.abs(aov) <= stable
    c_down = count < -stable
    mix_up = (aov > stable) & (aov < -0.5 * count)
    conditions = [
        ~np.isfinite(count) | ~np.isfinite(aov),
        c_down & (a_flat | mix_up),
        c_down & (aov < -stable),
        c_flat & ~a_flat,
        (count > stable) & a_flat,
    ]
    choices = ["unknown", "payment_processing", "checkout", "pricing", "volume_up"]
    return np.select(conditions, choices, default="mixed").astype(object)


def match_past(
    incidents: pd.DataFrame,
    *,
    key: str = "series",
    signature: str = "signature",
    vector: Sequence[str] = ("count_change", "aov_change"),
) -> pd.Series:
    """For each incident, the nearest earlier incident of the same series and signature.

    Parameters
    ----------
    incidents : DataFrame
        ``incident_id``, ``start``, ``end``, the ``key`` and ``signature``
        columns and the ``vector`` columns.
    key, signature : str
        Column names of the series key and of the signature label.
    vector : sequence of str
        Columns forming the signature vector (Euclidean distance, NaN as 0).

    Returns
    -------
    Series of object
        The matching ``incident_id`` (None when there is no earlier one),
        aligned with ``incidents``.

    Examples
    --------
    >>> past = pd.DataFrame({
    ...     "incident_id": ["a", "b", "c"], "series": ["s", "s", "s"],
    ...     "signature": ["checkout"] * 3,
    ...     "start": pd.to_datetime(["2025-01-01", "2025-02-01", "2025-03-01"]),
    ...     "end": pd.to_datetime(["2025-01-02", "2025-02-02", "2025-03-02"]),
    ...     "count_change": [-0.1, -0.5, -0.45], "aov_change": [-0.1, -0.2, -0.2]})
    >>> match_past(past).tolist()
    [None, 'a', 'b']
    """
    if incidents.empty:
        return pd.Series([], dtype=object)
    cols = ["incident_id", key, signature, "start", "end", *vector]
    frame = incidents[cols].reset_index(drop=True).assign(_row=lambda d: np.arange(len(d)))
    pairs = frame.merge(frame, on=[key, signature], suffixes=("", "_past"))
    end_past = pairs["end_past"].fillna(pairs["start_past"])
    pairs = pairs[end_past < pairs["start"]]
    out = pd.Series([None] * len(frame), dtype=object)
    if pairs.empty:
        out.index = incidents.index
        return out
    dist = np.zeros(len(pairs))
    for col in vector:
        diff = pairs[col].to_numpy(dtype=float) - pairs[f"{col}_past"].to_numpy(dtype=float)
        dist += np.nan_to_num(diff) ** 2
    pairs = pairs.assign(_dist=dist).sort_values(["_row", "_dist", "start_past"], kind="stable")
    best = pairs.drop_duplicates("_row")
    out.iloc[best["_row"].to_numpy()] = best["incident_id_past"].to_numpy()
    out.index = incidents.index
    return out
