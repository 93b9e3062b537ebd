"""The step of a time column: which frequency it is, series by series, and its phase.

The loader (:mod:`revwatch.data.load`) hands this module the parsed time
stamps and the series of each row; it answers

* which frequency the rows have (:func:`infer_steps`), from the gaps between
  consecutive rows *of the same series*, so that series stamped on different
  phases (one every 5 minutes at :00, another at :02:53) or on month starts
  and month ends still have their own step;
* whether all series share that step: a file where one series is daily and
  another monthly is refused, naming one series of each grain, because
  reading it on the finest step would leave the coarse series without a
  baseline (with ``freq=`` the finer series are rolled up instead);
* the phase of a step shorter than a day (:func:`align_sub_daily`): a
  regular step with a phase (every 5 minutes at :02:53) keeps the input's
  own stamps, and stamps a few seconds off their step are moved onto it.

Everything is done on whole arrays: one sort (none when the export is
already sorted by series and time), differences, and group reductions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from revwatch.data.panel import FREQUENCIES, STEP_SECONDS, SUB_DAILY, _ties
from revwatch.errors import InputError, ParameterError

logger = logging.getLogger(__name__)

__all__ = [
    "AGGREGATE_FIX",
    "FREQ_ALIASES",
    "SPACING_DAYS",
    "SeriesOrder",
    "align_sub_daily",
    "canonical_freq",
    "infer_steps",
    "series_order",
]

#: Length in days that one step of each frequency may have (a gap between two
#: consecutive periods of one series). Also the lowest median gap a frequency accepts.
SPACING_DAYS: dict[str, tuple[float, float]] = {
    **{
        freq: (0.9 * seconds / 86_400, 1.1 * seconds / 86_400)
        for freq, seconds in STEP_SECONDS.items()
        if freq in SUB_DAILY
    },
    "daily": (0.9, 1.1),
    "weekly": (6.5, 7.5),
    "fortnightly": (13.0, 15.0),
    "monthly": (27.5, 31.5),
    "quarterly": (88.0, 93.0),
    "yearly": (360.0, 367.0),
}

#: Other spellings accepted for ``freq=`` / ``--freq`` (case-insensitive).
FREQ_ALIASES: dict[str, str] = {
    "min": "1min",
    "minute": "1min",
    "minutely": "1min",
    "1m": "1min",
    "5m": "5min",
    "10m": "10min",
    "15m": "15min",
    "30m": "30min",
    "h": "hourly",
    "1h": "hourly",
    "60min": "hourly",
    "hour": "hourly",
    "d": "daily",
    "1d": "daily",
    "day": "daily",
    "w": "weekly",
    "1w": "weekly",
    "week": "weekly",
    "2w": "fortnightly",
    "14d": "fortnightly",
    "biweekly": "fortnightly",
    "two-weekly": "fortnightly",
    "2-weekly": "fortnightly",
    "m": "monthly",
    "month": "monthly",
    "q": "quarterly",
    "quarter": "quarterly",
    "y": "yearly",
    "year": "yearly",
    "annual": "yearly",
}

#: Values of ``freq=`` that mean "infer it" (the default).
INFER = frozenset({"infer", "inferred", "auto"})

#: The fix offered when rows must be rolled up to a coarser step.
AGGREGATE_FIX = "--aggregate sum|mean|last"

#: A stamp may be this fraction of a step off its series' phase and still be snapped onto it.
SNAP_FRACTION = 0.1

#: An inferred step shorter than a day has a median gap of at most this many steps.
MOSTLY_DENSE = 3

#: Gaps sampled (evenly) for the median: a panel repeats its step many times.
MEDIAN_SAMPLE = 1_000_000


def canonical_freq(freq: str | None) -> str | None:
    """The key of :data:`~revwatch.data.panel.FREQUENCIES` that ``freq`` names; None: infer.

    Examples
    --------
    >>> canonical_freq("5min"), canonical_freq("biweekly"), canonical_freq("H")
    ('5min', 'fortnightly', 'hourly')
    >>> canonical_freq("inferred") is None
    True
    """
    if freq is None:
        return None
    if not isinstance(freq, str):
        raise ParameterError(f"freq must be a text such as 'daily', got {freq!r}")
    spelled = freq.strip().lower().replace("_", "-").replace(" ", "")
    if spelled in INFER:
        return None
    if spelled in FREQUENCIES:
        return spelled
    if spelled in FREQ_ALIASES:
        return FREQ_ALIASES[spelled]
    raise ParameterError(
        f"unknown frequency {freq!r}; use one of {', '.join(FREQUENCIES)} "
        "(or leave it out to infer it)"
    )


@dataclass(frozen=True)
class SeriesOrder:
    """The rows sorted by series, then time.

    Attributes
    ----------
    order : ndarray of int64 or None
        Row positions in sorted order; None when the rows already are.
    stamps : ndarray of int64
        Nanoseconds since the epoch, in sorted order.
    series : ndarray of int64
        The series number of each row, in sorted order (0, 0, 1, ...).
    starts : ndarray of int64
        Sorted position of the first row of each series.
    """

    order: np.ndarray | None
    stamps: np.ndarray
    series: np.ndarray
    starts: np.ndarray

    def positions(self, sorted_positions: np.ndarray) -> np.ndarray:
        """Input row positions of rows given by their sorted positions."""
        if self.order is None:
            return sorted_positions
        return self.order[sorted_positions]

    def unsort(self, values: np.ndarray) -> np.ndarray:
        """``values`` (in sorted order) back in input row order."""
        if self.order is None:
            return values
        out = np.empty_like(values)
        out[self.order] = values
        return out


def series_order(
    stamps: np.ndarray,
    keys: Mapping[str, pd.Series],
    known: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> SeriesOrder:
    """Sort rows by series then time (no sort when the export already is).

    ``stamps``: ``datetime64[ns]`` of each row; ``keys``: the parsed id
    columns; ``known``: neighbour comparisons of id columns already made.
    """
    ns = stamps.view(np.int64)
    n_rows = len(ns)
    ids = list(keys)
    same: np.ndarray | None = None
    codes: np.ndarray
    if not ids:
        same = np.ones(max(n_rows - 1, 0), dtype=bool)
    else:
        ties = _ties(pd.DataFrame(dict(keys), copy=False), ids, known)
        if ties is not None:
            same = ties[-1]
    if same is not None and bool((ns[1:] >= ns[:-1])[same].all()):
        series = np.concatenate([[0], np.cumsum(~same)]) if n_rows else np.zeros(0, np.int64)
        starts = np.flatnonzero(np.concatenate([[True], ~same])) if n_rows else series
        return SeriesOrder(None, ns, series.astype(np.int64), starts.astype(np.int64))
    if same is not None:
        codes = np.concatenate([[0], np.cumsum(~same)]).astype(np.int64)
    elif len(ids) == 1:
        codes = pd.factorize(keys[ids[0]])[0].astype(np.int64)
    else:
        frame = pd.DataFrame(dict(keys), copy=False)
        codes = np.asarray(frame.groupby(ids, sort=False, dropna=False).ngroup(), np.int64)
    order = np.lexsort((ns, codes))
    sorted_codes = codes[order]
    changed = np.concatenate([[True], sorted_codes[1:] != sorted_codes[:-1]])
    series = np.cumsum(changed) - 1
    return SeriesOrder(order, ns[order], series.astype(np.int64), np.flatnonzero(changed))


#: The ranges of :data:`SPACING_DAYS` in nanoseconds, as one increasing array of edges.
_EDGES = np.array(
    [round(bound * 86_400e9) for bounds in SPACING_DAYS.values() for bound in bounds],
    dtype=np.int64,
)
_EDGES[1::2] += 1  # each range includes its upper bound


def _grain_index(gaps: np.ndarray) -> np.ndarray:
    """Position in :data:`SPACING_DAYS` of the frequency whose step each gap (ns) is; -1 if none."""
    gaps = gaps.astype(np.int64, copy=False)
    if len(gaps) > 100_000:  # a panel repeats a few gaps: classify the distinct ones
        codes, distinct = pd.factorize(gaps)
        return _grain_index(np.asarray(distinct))[codes]
    edge = np.searchsorted(_EDGES, gaps, side="right")
    return np.where(edge % 2 == 1, edge // 2, -1).astype(np.int64)


def _within_gaps(order: SeriesOrder) -> tuple[np.ndarray, np.ndarray]:
    """Gaps in nanoseconds between consecutive rows of one series (positive ones), and rows.

    The second array is the sorted position of the row that ends each gap.
    """
    ns = order.stamps
    if len(ns) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    steps = np.diff(ns)
    keep = (order.series[1:] == order.series[:-1]) & (steps > 0)
    ends = np.flatnonzero(keep) + 1
    return steps[keep], ends


def _median_days(gaps: np.ndarray) -> float:
    """The median gap in days (of an even sample of the gaps when there are many)."""
    if len(gaps) > MEDIAN_SAMPLE:
        gaps = gaps[:: len(gaps) // MEDIAN_SAMPLE + 1]
    return float(np.median(gaps)) / 86_400e9


def _spacing(days: float) -> str:
    if days < 1 / 24:
        return f"{days * 1440:.3g} minutes"
    return f"{days * 24:.3g} hours" if days < 1 else f"{days:.3g} days"


def infer_steps(
    order: SeriesOrder,
    name: str,
    *,
    series_name: Callable[[int], str] | None = None,
) -> tuple[str, str]:
    """The frequency of the rows, and a sentence saying how it was found.

    Each series' own step is the step most of its gaps have (a gap is the
    time between two consecutive rows of the series). When all series with
    an own step agree, that is the frequency; when they disagree, the file
    is refused, naming a series of the finest and of the coarsest step.
    Otherwise (no series has a step most of its gaps agree on) it is the
    finest frequency ``f`` such that the median gap is at least about one
    ``f`` step (the data is not finer than ``f``) and some gap is one ``f``
    step (the data is not coarser); a step shorter than a day also needs a
    median gap of at most :data:`MOSTLY_DENSE` steps. ``series_name(i)``
    names the ``i``-th series in sorted order.
    """
    gaps, ends = _within_gaps(order)
    if not len(gaps):
        # every series has one period (or one repeated period): the distinct periods
        distinct = np.unique(order.stamps)
        if len(distinct) < 2:
            raise InputError(
                f"{name}: all rows have the same period, so the frequency cannot be inferred; "
                f"pass freq= (--freq) one of {', '.join(FREQUENCIES)}"
            )
        gaps = np.diff(distinct)
        ends = np.zeros(0, dtype=np.int64)
    median_days = _median_days(gaps)
    grains = _grain_index(gaps)
    names = list(SPACING_DAYS)
    chosen = None
    for position, freq in enumerate(names):
        if median_days < SPACING_DAYS[freq][0]:
            continue
        if freq in SUB_DAILY and median_days > MOSTLY_DENSE * STEP_SECONDS[freq] / 86_400:
            continue  # events a minute apart now and then are not a 1-minute series
        if bool((grains == position).any()):
            chosen = position
            break
    if len(ends):
        own = _own_steps(order.series[ends], grains, len(order.starts))
        agreed = np.unique(own[own >= 0])
        if len(agreed) > 1:
            raise _mixed_steps(own, name, series_name)
        if len(agreed) == 1:
            chosen = int(agreed[0])
    if chosen is None:
        raise InputError(
            f"{name}: periods are irregularly spaced (median gap {_spacing(median_days)}), "
            f"so no frequency fits; pass freq= (--freq) one of {', '.join(FREQUENCIES)} "
            f"with {AGGREGATE_FIX} to roll the rows up to that step"
        )
    freq = names[chosen]
    return freq, f"inferred --freq {freq} (median gap between periods: {_spacing(median_days)})"


def _own_steps(gap_series: np.ndarray, grains: np.ndarray, n_series: int) -> np.ndarray:
    """Per series: the position of the step at least half of its (two or more) gaps have; -1."""
    n_gaps = np.bincount(gap_series, minlength=n_series)
    if len(grains) and grains.min() == grains.max():  # one step throughout, as usual
        return np.where(n_gaps >= 2, grains[0], -1).astype(np.int64)
    best = np.zeros(n_series, dtype=np.int64)
    own = np.full(n_series, -1, dtype=np.int64)
    for position in range(len(SPACING_DAYS)):
        count = np.bincount(gap_series[grains == position], minlength=n_series)
        better = count > best
        best[better] = count[better]
        own[better] = position
    own[(n_gaps < 2) | (2 * best < n_gaps)] = -1
    return own


def _mixed_steps(
    own: np.ndarray, name: str, series_name: Callable[[int], str] | None
) -> InputError:
    """The error for series of different steps, naming the finest and the coarsest."""
    names = list(SPACING_DAYS)
    known = np.flatnonzero(own >= 0)
    finest = int(known[np.argmin(own[known])])
    coarsest = int(known[np.argmax(own[known])])
    fine, coarse = names[int(own[finest])], names[int(own[coarsest])]
    n_coarser = int(np.count_nonzero(own[known] > own[finest]))
    namer = series_name or (lambda series: f"series {series + 1}")
    return InputError(
        f"{name}: series have different steps: {namer(finest)} is {fine} but "
        f"{namer(coarsest)} is {coarse}"
        + (f" (and {n_coarser - 1} more series are coarser than {fine})" if n_coarser > 1 else "")
        + f"; pass --freq {coarse} with {AGGREGATE_FIX} to roll the finer series up "
        "to that step, or load the series of each step separately"
    )


@dataclass(frozen=True)
class Alignment:
    """Sub-daily stamps moved onto their series' phase."""

    stamps: np.ndarray  # datetime64[ns], input row order
    moved: int  # rows whose stamp changed
    largest_seconds: float  # the largest move
    first_moved: int  # input row position of the first moved row (-1: none)


def _wrap(offsets: np.ndarray, step: int) -> np.ndarray:
    """Offsets into ``[-step / 2, step / 2)``."""
    return (offsets + step // 2) % step - step // 2


def align_sub_daily(order: SeriesOrder, freq: str) -> Alignment | None:
    """Stamps of a step shorter than a day moved onto a common phase of that step.

    The phase is the median offset from the step (per series when the series
    differ), rounded to the second; a stamp may be up to
    :data:`SNAP_FRACTION` of a step off it. None when some stamp is further
    off (the stamps are not regular at this step).
    """
    step = STEP_SECONDS[freq] * 10**9
    tolerance = int(SNAP_FRACTION * step)
    ns = order.stamps
    if not len(ns):
        return Alignment(ns.view("datetime64[ns]"), 0, 0.0, -1)
    residual = ns % step
    # one phase for the whole file (the usual case), else one per series
    offsets = _wrap(residual - residual[0], step)
    phase = int(residual[0] + np.median(offsets))
    phase = int(round(phase / 1e9) * 10**9) % step
    offsets = _wrap(residual - phase, step)
    if int(np.abs(offsets).max()) > tolerance and len(order.starts) > 1:
        first = residual[order.starts][order.series]
        relative = pd.Series(_wrap(residual - first, step))
        medians = relative.groupby(order.series).median().to_numpy()
        phases = np.round((first[order.starts] + medians) / 1e9).astype(np.int64) * 10**9
        offsets = _wrap(residual - phases[order.series] % step, step)
    if int(np.abs(offsets).max()) > tolerance:
        return None
    moved = offsets != 0
    aligned = order.unsort(ns - offsets).view("datetime64[ns]")
    first_moved = int(order.positions(np.flatnonzero(moved)[:1])[0]) if moved.any() else -1
    if first_moved >= 0 and order.order is not None:
        first_moved = int(order.order[np.flatnonzero(moved)].min())
    return Alignment(
        stamps=aligned,
        moved=int(np.count_nonzero(moved)),
        largest_seconds=float(np.abs(offsets).max()) / 1e9,
        first_moved=first_moved,
    )
