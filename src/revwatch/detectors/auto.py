"""The default method, ``auto``: the robust detector, peer-relative where peers explain.

``auto`` runs :class:`~revwatch.detectors.robust.RobustShiftDetector` (each
series against its own robust, seasonal, event-aware past) on every panel.
When the panel holds a portfolio of series that move together (a shared
seasonal cycle, a common launch calendar: the smartphone-sales panel of seed
003 is the textbook case), it also runs
:class:`~revwatch.detectors.peer.PeerRelativeDetector` and, in the periods where
the peers explain most of the movement, uses its scores instead:

* **the gate** (per period, causal): the *peer strength*
  (:func:`~revwatch.detectors.peer.peer_strength`) over the ``window`` periods up
  to this one: the typical spread of each series' deviation from its own level
  once the period's common factor is removed, divided by the spread without
  removing it. At or below ``peer_strength`` (0.7: the common factor removes
  about half the variance or more) the peer scores are used. It needs at least
  ``peer_min_series`` series and three periods with a common factor.
* Otherwise (independent accounts, a single series, too few peers) ``auto``
  is the robust detector, unchanged.

On daily data it also divides out each series' calendar effects (day of
month, recurring dates, public holidays with ``country``) before the robust
part (:func:`~revwatch.detectors.calendar.calendar_effects`)
and, once 15 months of history exist, adds the changes of year-over-year
growth that the day-level flags missed
(:func:`~revwatch.detectors.growth.yoy_growth_change`: a slow decline under the
holiday ramp).

On monthly, quarterly and weekly data a flag that deviates from the baseline
the way the same period did a year earlier (within the threshold) is not
reported: seen once, a yearly peak is expected, before the seasonal index has
the cycles it needs (US retail sales: the Decembers of 1993 to 1995). On
monthly and quarterly data with about four years of history, a fall or rise
of the year-over-year growth over a quarter that the period-level flags
missed is a ``trend_change``
(:func:`~revwatch.detectors.growth.periodic_growth_change`: the 2008
recession, 9 % below the baseline in a seasonal December).

On sub-daily data (steps of an hour or shorter) ``auto`` is
:func:`~revwatch.detectors.multiscale.multiscale_scores` instead: each series
on its own scale, against its own time-of-day shape, on three time scales (a
step, an hour, three hours) with bands calibrated on its own past
(``flag_rate``). The robust detector's per-step Gaussian threshold flagged the
heavy-tailed noise of real five-minute counts every day and missed the
hour-long bursts (labelled set: F1 0.21 on the tweet counts).

Both parts use only the periods up to the one they judge (and the other
series' values in that same period), so ``auto`` stays causal. The gate is
computed on at most ``_GATE_SERIES`` evenly spaced series (all of them in
panels up to that size), so a million-series panel pays for the peer model
only when its series do move together.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Self

import numpy as np

from revwatch.data.panel import STEP_SECONDS, SUB_DAILY, VALUE, Panel
from revwatch.detectors._arrays import nanmedian_rows, nanquantile_rows
from revwatch.detectors.base import TYPE_CODES, Detector, Scores
from revwatch.detectors.calendar import (
    CalendarEffects,
    calendar_effects,
    same_weekday_median,
)
from revwatch.detectors.calendar import closed_days as find_closed_days
from revwatch.detectors.growth import GrowthChange, periodic_growth_change, yoy_growth_change
from revwatch.detectors.intermittent import intermittent_cells, intermittent_scores
from revwatch.detectors.multiscale import multiscale_scores
from revwatch.detectors.peer import PeerRelativeDetector, log_positive, peer_strength, period_common
from revwatch.detectors.robust import _WINDOWS, RobustShiftDetector, _is_number
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["AutoDetector", "peer_gate"]

#: Series the gate looks at, at most (evenly spaced rows of the matrix).
_GATE_SERIES = 2_000
_TREND = TYPE_CODES["trend_change"]
#: The robust detector's parameters, which ``auto`` also takes under their own names.
_ROBUST_PARAMS = frozenset(RobustShiftDetector().get_params(deep=False))
#: Share of normal sub-daily steps flagged by default (``flag_rate``).
_DEFAULT_FLAG_RATE = 0.005
_FIELDS = ("score", "z", "baseline", "lower", "upper", "flag", "kind", "provisional")


def peer_gate(
    y: np.ndarray, window: int, *, min_series: int = 5, strength: float = 0.7
) -> np.ndarray:
    """Periods where the series' peers explain their movement (boolean, per period).

    A quick, causal version of the peer model on the raw values: each series'
    level is the median of its log values over the ``window`` periods before
    ``t`` (adjusted by the common factor), the common factor the median across
    series of the deviation at ``t``; the gate is on where
    :func:`~revwatch.detectors.peer.peer_strength` of the last ``window``
    periods is at most ``strength``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> season = np.tile([1.0, 1.5, 0.7, 1.2], 4)
    >>> shared = 100 * season * (1 + 0.02 * rng.standard_normal((8, 16)))
    >>> bool(peer_gate(shared, 4)[-1])
    True
    >>> alone = 100 * (1 + 0.02 * rng.standard_normal((8, 16)))
    >>> bool(peer_gate(alone, 4)[-1])
    False
    """
    n_series, n_periods = y.shape
    gate = np.zeros(n_periods, dtype=bool)
    if n_series < min_series or n_periods < 4:
        return gate
    if n_series > _GATE_SERIES:
        y = y[np.linspace(0, n_series - 1, _GATE_SERIES).astype(np.int64)]
    logy = log_positive(y)
    common = np.full(n_periods, np.nan)
    own = np.full(logy.shape, np.nan)
    for t in range(1, n_periods):
        lo = max(0, t - window)
        history = logy[:, lo:t] - np.nan_to_num(common[lo:t])[None, :]
        _, _, dev, _, common[t] = period_common(history, logy[:, t], min_series)
        if np.isnan(common[t]):
            continue
        own[:, t] = dev
        lo_g = max(1, t - window + 1)
        if np.isfinite(common[lo_g : t + 1]).sum() >= 3:
            block = own[:, lo_g : t + 1]
            ratio = peer_strength(block - common[None, lo_g : t + 1], block)
            gate[t] = bool(ratio <= strength)
    return gate


class AutoDetector(Detector):
    """The default method: robust per-series scoring, peer-relative where peers explain.

    A composition (see the module docstring): the nested robust detector
    (``robust``, scikit-learn style: ``get_params()`` gives ``robust__threshold``
    and the rest, ``set_params(robust__threshold=4.0)`` sets them) plus the
    parts below.

    The robust detector's parameters are also accepted under their own names
    (``set_params(threshold=4.0)`` is ``set_params(robust__threshold=4.0)``):
    the spelling of ``revwatch detect -p threshold=4``, of a config file's
    method parameters and of ``revwatch.detect(..., threshold=4)``, all of
    which go through :meth:`set_params`; without a ``robust`` yet, setting one
    of them starts from ``RobustShiftDetector()``.

    Parameters
    ----------
    robust : RobustShiftDetector or None, default None
        The robust part (each series against its own past); None is
        ``RobustShiftDetector()``, whose by-frequency defaults are resolved in
        :meth:`detect` (for this panel's frequency: see
        :class:`~revwatch.detectors.robust.RobustShiftDetector`). The peer part
        shares its ``window``, ``threshold``, ``min_change``, ``confirm``,
        ``revert`` and ``floor``; the calendar, growth and intermittent parts
        its ``threshold``, ``min_change``, ``seasonal`` and windows.
    peers : bool, default True
        Use the peer-relative scores where the gate is on (see the module
        docstring); False gives the robust detector alone.
    peer_min_series : int, default 5
        Series that must be observed in a period for the peer model.
    peer_strength : float, default 0.7
        Gate: largest ratio of peer-adjusted to unadjusted spread.
    calendar : bool, default True
        On daily data, learn each series' calendar effects from its own past
        (day of month: the 1st, first and last business day, month end; dates
        that recur every year; with ``country`` its public holidays and the
        days next to them) and score those days after dividing them out
        (:func:`~revwatch.detectors.calendar.calendar_effects`). Sub-daily
        data have their own time-of-day model (``flag_rate``).
    country : str or None, default None
        ISO country code whose public holidays (the ``holidays`` package) are
        calendar terms; ``revwatch detect --country``.
    yoy : bool, default True
        On daily data with 15 months of history or more, also report changes
        of the year-over-year growth that no single day shows (a slow decline
        under a holiday ramp) as ``trend_change`` events
        (:func:`~revwatch.detectors.growth.yoy_growth_change`); on monthly and
        quarterly data with four years or more, a change of growth over a
        quarter (:func:`~revwatch.detectors.growth.periodic_growth_change`).
    intermittent : bool, default True
        Where at least half of a series' recent values are zero (a small
        account that buys on some days), score against the mean and standard
        deviation of the window instead of its median, which is then zero
        (:mod:`revwatch.detectors.intermittent`).
    closed_days : bool, default True
        On daily data, leave out the zero days on a weekday that has been
        zero at least 7 of the last 8 weeks (a business closed at weekends):
        they are "not open", not "no sale"
        (:func:`~revwatch.detectors.calendar.closed_days`).
    flag_rate : float or None, default None
        Sub-daily data (steps of an hour or shorter) are scored on several
        time scales (a step, an hour, three hours) with bands calibrated on
        each series' own past (:mod:`revwatch.detectors.multiscale`): at most
        this share of normal steps is flagged, about this share where the
        noise is heavy-tailed. None: 0.005 (525 flagged steps per series-year
        at 5 minutes, 44 hourly, in runs: a few dozen alarms). Ignored on
        daily and coarser data.

    Examples
    --------
    >>> AutoDetector(peers=False).get_params()["peers"]
    False
    >>> auto = AutoDetector().set_params(threshold=4.0, cusum_limit=10)
    >>> auto.robust
    RobustShiftDetector(window=None, scale_window=None, threshold=4.0, ...)
    >>> auto.get_params()["robust__threshold"], auto.get_params()["robust__confirm"]
    (4.0, None)
    """

    name = "auto"
    complexity = "Medium (robust event-aware baseline, peer-relative when peers co-move)"

    def __init__(
        self,
        *,
        robust: RobustShiftDetector | None = None,
        peers: bool = True,
        peer_min_series: int = 5,
        peer_strength: float = 0.7,
        calendar: bool = True,
        country: str | None = None,
        yoy: bool = True,
        intermittent: bool = True,
        closed_days: bool = True,
        flag_rate: float | None = None,
    ) -> None:
        self.robust = robust
        self.peers = peers
        self.peer_min_series = peer_min_series
        self.peer_strength = peer_strength
        self.calendar = calendar
        self.country = country
        self.yoy = yoy
        self.intermittent = intermittent
        self.closed_days = closed_days
        self.flag_rate = flag_rate

    def set_params(self, **params: Any) -> Self:
        """Set parameters; the robust detector's also under their own names (see the class)."""
        params = {f"robust__{k}" if k in _ROBUST_PARAMS else k: v for k, v in params.items()}
        nested = any(key.startswith("robust__") for key in params)
        if nested and self.robust is None and params.get("robust") is None:
            params["robust"] = RobustShiftDetector()
        return super().set_params(**params)

    def _param_names(self) -> list[str]:
        own = [name for name in self.get_params(deep=False) if name != "robust"]
        return [*sorted(own), "robust", *sorted(_ROBUST_PARAMS)]

    def settable_params(self) -> dict[str, Any]:
        """``auto``'s own parameters, then the robust part's under their own names.

        ``None`` there means "by frequency" (see :class:`RobustShiftDetector`).

        Examples
        --------
        >>> shown = AutoDetector().settable_params()
        >>> "robust" in shown, shown["threshold"], shown["peers"]
        (False, None, True)
        """
        own = {k: v for k, v in self.get_params(deep=False).items() if k != "robust"}
        robust = self.robust if self.robust is not None else RobustShiftDetector()
        return {**own, **robust.get_params(deep=False)}

    def detect(self, panel: Panel) -> Scores:
        """Score every period of every series causally; see the module docstring."""
        self._check_auto_params()
        own = self._robust(panel.freq)
        own._check_params()
        if panel.freq in SUB_DAILY:
            return self._sub_daily(panel, own)
        panel, closed = self._without_closed_days(panel)
        panel, effects = self._without_calendar(panel)
        robust = own.detect(panel)
        if panel.freq in _SWING_FREQS:
            _drop_drifts_within_swing(robust, panel.matrix().values, _SWING_FREQS[panel.freq])
        if own.seasonal and panel.freq in _YEAR:
            _explained_by_last_year(
                robust, panel.matrix().values, _YEAR[panel.freq], float(own.threshold)
            )
        if closed is not None:
            robust.extra["closed"] = closed
        n_series, n_periods = robust.score.shape
        peer_used = np.zeros((n_series, n_periods), dtype=bool)
        if self.peers and n_series >= int(self.peer_min_series):
            window = int(own.window) if own.window is not None else _WINDOWS.get(panel.freq, 12)
            y = panel.matrix().values
            gate = peer_gate(
                y,
                window,
                min_series=int(self.peer_min_series),
                strength=float(self.peer_strength),
            )
            if gate.any():
                logger.info(
                    "auto: peers explain the movement in %d of %d periods; scoring those "
                    "against the peers",
                    int(gate.sum()),
                    n_periods,
                )
                peer = PeerRelativeDetector(
                    window=window,
                    threshold=own.threshold,
                    min_change=own.min_change,
                    min_peers=int(self.peer_min_series),
                    confirm=own.confirm,
                    revert=own.revert,
                    floor=own.floor,
                ).detect(panel)
                peer_used = gate[None, :] & np.isfinite(peer.score)
                _merge(robust, peer, peer_used)
        robust.extra["peer"] = peer_used.astype(np.float64)
        if self.intermittent:
            self._score_intermittent(robust, panel, own)
        if self.yoy and panel.freq == "daily":
            # on the calendar-adjusted values: a holiday is no change of growth
            _add_growth_change(robust, panel.matrix().values, float(own.threshold))
        elif self.yoy and panel.freq in ("monthly", "quarterly"):
            y = panel.matrix().values
            found = periodic_growth_change(
                y,
                robust.z,
                robust.flag,
                period=_YEAR[panel.freq],
                threshold=float(own.threshold),
            )
            _add_growth_change(robust, y, float(own.threshold), found)
        if effects is not None:
            _not_judged(robust, effects.unknown)
            if effects.seen is not None:
                _widen_for_learned_effects(robust, effects.seen, float(own.threshold))
            for name in ("baseline", "lower", "upper"):
                getattr(robust, name)[...] *= effects.factor
            robust.extra["calendar_factor"] = effects.factor
            robust.extra["calendar_unknown"] = effects.unknown
        return robust

    def _sub_daily(self, panel: Panel, own: RobustShiftDetector) -> Scores:
        """Steps of an hour or shorter: several time scales, bands from the series' own past."""
        rate = _DEFAULT_FLAG_RATE if self.flag_rate is None else float(self.flag_rate)
        matrix = panel.matrix()
        scores = multiscale_scores(
            matrix.values,
            86_400 // STEP_SECONDS[panel.freq],
            periods=matrix.periods,
            rate=rate,
            threshold=float(own.threshold),
        )
        scores.extra["multiscale"] = scores.flag.astype(np.float64)
        return scores

    def _without_closed_days(self, panel: Panel) -> tuple[Panel, np.ndarray | None]:
        """The panel with the days each series is closed (weekends of a B2B account) missing."""
        if not (self.closed_days and panel.freq == "daily"):
            return panel, None
        matrix = panel.matrix()
        if not (matrix.values == 0).any():  # one cheap pass: no zero, nothing closed
            return panel, None
        closed = find_closed_days(matrix.values, matrix.periods)
        if not closed.any():
            return panel, None
        logger.info(
            "auto: %d series are closed on some weekdays; leaving %d closed days out",
            int(closed.any(axis=1).sum()),
            int(closed.sum()),
        )
        values = np.where(closed, np.nan, matrix.values)
        frame = panel.frame.assign(**{VALUE: matrix.to_rows(values)})
        return dataclasses.replace(panel, frame=frame), closed

    def _score_intermittent(self, scores: Scores, panel: Panel, own: RobustShiftDetector) -> None:
        """Score mostly-zero periods against the window's mean and sd (in place)."""
        window = (
            int(own.scale_window)
            if own.scale_window is not None
            else 3 * int(own.window if own.window is not None else _WINDOWS.get(panel.freq, 12))
        )
        values = panel.matrix().values
        # only series with a zero day can be intermittent: one cheap pass finds them
        rows = np.flatnonzero((values == 0).any(axis=1))
        if rows.size == 0:
            return
        part = values[rows]
        cells = intermittent_cells(part, window)
        if not cells.any():
            return
        logger.info(
            "auto: %d series have stretches with many zero days; scoring those against the "
            "window's mean",
            int(cells.any(axis=1).sum()),
        )
        fallback = intermittent_scores(
            part, window, threshold=float(own.threshold), min_change=float(own.min_change)
        )
        mask = np.zeros(values.shape, dtype=bool)
        mask[rows] = cells
        scores.extra["intermittent"] = mask
        _merge_rows(scores, fallback, rows, cells)

    def _check_auto_params(self) -> None:
        """Validate ``auto``'s own parameters (the robust detector's: its ``_check_params``)."""
        if not (_is_number(self.peer_min_series) and int(self.peer_min_series) >= 3):
            raise ParameterError(
                f"peer_min_series must be at least 3, got {self.peer_min_series!r}"
            )
        if not (_is_number(self.peer_strength) and float(self.peer_strength) > 0):
            raise ParameterError(f"peer_strength must be positive, got {self.peer_strength!r}")
        if not (self.robust is None or isinstance(self.robust, RobustShiftDetector)):
            raise ParameterError(f"robust must be a RobustShiftDetector, got {self.robust!r}")
        for name in ("peers", "calendar", "yoy", "intermittent", "closed_days"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ParameterError(f"{name} must be true or false, got {getattr(self, name)!r}")
        rate = self.flag_rate
        if rate is not None and not (_is_number(rate) and 0 < float(rate) < 0.5):
            raise ParameterError(f"flag_rate must be between 0 and 0.5 or none, got {rate!r}")
        if not (self.country is None or isinstance(self.country, str)):
            raise ParameterError(f"country must be a country code such as US, got {self.country!r}")

    def _robust(self, freq: str) -> RobustShiftDetector:
        """The robust part (``robust``, None: the default one), its defaults by frequency set."""
        robust = self.robust if self.robust is not None else RobustShiftDetector()
        return robust.for_frequency(freq)

    def _without_calendar(self, panel: Panel) -> tuple[Panel, CalendarEffects | None]:
        """The panel with each series' calendar effects divided out (daily data)."""
        if not (self.calendar and panel.freq == "daily"):
            return panel, None
        matrix = panel.matrix()
        effects = calendar_effects(matrix.values, matrix.periods, country=self.country)
        if np.all(effects.factor == 1.0) and not effects.unknown.any():
            return panel, None
        logger.info(
            "auto: %d calendar days adjusted, %d not judged (effect not known yet)",
            int((effects.factor != 1).sum()),
            int(effects.unknown.sum()),
        )
        adjusted = matrix.values / effects.factor
        if effects.unknown.any():
            # a day whose effect is not known yet is not judged; the baselines after it see
            # the median of its weekday over the three weeks before instead (a gap would
            # shorten the windows and widen every band after it)
            adjusted = np.where(effects.unknown, same_weekday_median(adjusted), adjusted)
        frame = panel.frame.assign(**{VALUE: matrix.to_rows(adjusted)})
        return dataclasses.replace(panel, frame=frame), effects


_SWING_FREQS = {"monthly": 12, "quarterly": 4}
#: Share of the series' earlier departures a drift must exceed.
_SWING_QUANTILE = 0.9


def drift_beyond_swing(values: np.ndarray, rows: np.ndarray, t: int, period: int) -> np.ndarray:
    """Whether each of ``rows`` departs at ``t`` further than its own earlier swing (boolean).

    The departure of a period is its log value minus the median of the ``period`` periods
    before it (a year for monthly data); the swing is the 90 % quantile of the absolute
    departures of the ``2 * period`` periods before ``t`` (at least ``period // 2`` of them,
    otherwise there is no swing to compare with and the drift stands). A yearly cycle or heavy
    noise departs this much every year; a sustained change of growth departs further.

    Examples
    --------
    >>> cycle = 100 * np.exp(0.2 * np.sin(np.arange(36) * np.pi / 6))
    >>> erosion = cycle.copy(); erosion[30:] *= np.exp(-0.1 * np.arange(1, 7))
    >>> drift_beyond_swing(np.vstack([cycle, erosion]), np.array([0, 1]), 35, 12).tolist()
    [False, True]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.where(values[rows, : t + 1] > 0, values[rows, : t + 1], np.nan))
    least = max(period // 2, 2)
    lo = max(period, t - 2 * period)
    if t - lo < least:
        return np.ones(rows.size, dtype=bool)
    depart = np.full((rows.size, t + 1 - lo), np.nan)
    for k, s in enumerate(range(lo, t + 1)):
        ref, _ = nanmedian_rows(logs[:, s - period : s])
        depart[:, k] = np.abs(logs[:, s] - ref)
    past = depart[:, :-1]
    enough = np.count_nonzero(~np.isnan(past), axis=1) >= least
    swing = nanquantile_rows(past, _SWING_QUANTILE)
    return ~enough | ~(depart[:, -1] <= swing)


def _drop_drifts_within_swing(scores: Scores, values: np.ndarray, period: int) -> None:
    """Un-flag CUSUM drifts that do not leave the series' own swing (in place).

    A CUSUM alarm is a ``trend_change`` confirmed on its own period; the regime restart it
    caused stays (the detector has moved on), only the report goes.
    """
    confirm_at = scores.extra.get("confirm_at")
    if confirm_at is None:
        return
    cols = np.arange(scores.flag.shape[1])[None, :]
    drift = scores.flag & (scores.kind == _TREND) & (confirm_at == cols)
    if not drift.any():
        return
    dropped = 0
    for t in np.unique(np.nonzero(drift)[1]).tolist():
        rows = np.flatnonzero(drift[:, t])
        within = rows[~drift_beyond_swing(values, rows, t, period)]
        if within.size:
            scores.flag[within, t] = False
            scores.kind[within, t] = 0
            confirm_at[within, t] = -1
            dropped += within.size
    if dropped:
        logger.info("auto: %d slow drifts within their series' own swing not reported", dropped)


#: Periods a year of the frequencies whose yearly cycle a single year can show.
_YEAR = {"monthly": 12, "quarterly": 4, "weekly": 52}


def _explained_by_last_year(
    scores: Scores, values: np.ndarray, period: int, threshold: float
) -> None:
    """Un-flag periods that deviate from the baseline as the same period did a year ago (in place).

    Until a series has the cycles its own seasonal index needs (two, pooled
    with the portfolio's when there are five series or more), a December
    peak is judged against a baseline without it, and the peak that recurs
    every year is flagged every year (US retail sales: the Decembers of 1993
    to 1995). The same period a year earlier is a second expectation: the
    deviation from the baseline now, ``log(y[t] / baseline[t])``, against the
    deviation then, in units of the relative noise of the band
    (``(upper - baseline) / (threshold * baseline)``, times sqrt 2 for the
    difference of two). A flag whose deviation points the way last year's did
    and is within ``threshold`` of it is not new: seen once, a yearly peak is
    expected. Only un-flags: a one-off spike last year never makes a normal
    value a drop this year. A period a year after a missing value, or on a
    scale with zeros or negatives, is left as it is.
    """
    if values.shape[1] <= period:
        return
    # only the flagged cells a year on are read: flags are few
    s, t = np.nonzero(scores.flag[:, period:])
    if not s.size:
        return
    t = t + period
    base_now, base_then = scores.baseline[s, t], scores.baseline[s, t - period]
    with np.errstate(invalid="ignore", divide="ignore"):
        dev_now = np.log(values[s, t] / base_now)
        dev_then = np.log(values[s, t - period] / base_then)
        rel = (scores.upper[s, t] - base_now) / (threshold * np.abs(base_now))
        z = (dev_now - dev_then) / (rel * np.sqrt(2.0))
    explained = (
        np.isfinite(z)
        & (rel > 0)
        & (np.sign(dev_then) == np.sign(dev_now))
        & (np.abs(z) < threshold)
    )
    # a run that has become a level shift or a trend change is not a yearly peak
    explained &= np.isin(scores.kind[s, t], [TYPE_CODES["spike"], TYPE_CODES["drop"]]) | (
        np.abs(dev_then) >= 0.5 * np.abs(dev_now)
    )
    if not explained.any():
        return
    s, t, z = s[explained], t[explained], z[explained]
    scores.flag[s, t] = False
    scores.kind[s, t] = 0
    scores.provisional[s, t] = False
    scores.score[s, t] = np.minimum(scores.score[s, t], np.abs(z))
    scores.z[s, t] = np.sign(scores.z[s, t]) * scores.score[s, t]
    logger.info("auto: %d flags deviate as the same period a year before did", int(s.size))


def _widen_for_learned_effects(scores: Scores, seen: np.ndarray, threshold: float) -> None:
    """Widen the band of calendar days by the uncertainty of their learned effect (in place).

    A day whose calendar effect was learned from ``n`` earlier occurrences is judged on its
    value divided by that effect; the estimate (a median of ``n`` ratios, each as noisy as the
    day) has about ``1.25 / sqrt(n)`` of the day's own noise, so the deviation's noise is
    ``sqrt(1 + 1.5625 / n)`` times the band's: the z, the score and the band are scaled by it,
    and a flag that no longer passes ``threshold`` goes (July 4 learned from one year, on
    another weekday the next). Before the calendar factor is multiplied back in.
    """
    cells = seen > 0
    if not cells.any():
        return
    scale = np.sqrt(1.0 + 1.5625 / np.where(cells, seen, 1.0))
    scale = np.where(cells, scale, 1.0)
    below = scores.flag & ~(scores.score / scale >= threshold)
    short = np.isin(scores.kind, [TYPE_CODES["spike"], TYPE_CODES["drop"]])
    gone = below & short
    # an onset of a level shift or trend change the detector has moved on from stays as it is
    scale = np.where(below & ~short, 1.0, scale)
    scores.z[...] = scores.z / scale
    scores.score[...] = scores.score / scale
    if scores.severity is not None:
        scores.severity[...] = scores.severity / scale
    for name in ("lower", "upper"):
        band = getattr(scores, name)
        band[...] = scores.baseline + (band - scores.baseline) * scale
    if gone.any():
        scores.flag[gone] = False
        scores.kind[gone] = 0
        scores.provisional[gone] = False
        logger.info("auto: %d calendar days within their effect's uncertainty", int(gone.sum()))


def _not_judged(scores: Scores, cells: np.ndarray) -> None:
    """Clear the scores and flags of ``cells`` (calendar days whose effect is unknown)."""
    if not cells.any():
        return
    scores.flag[cells] = False
    scores.kind[cells] = 0
    scores.provisional[cells] = False
    for name in ("score", "z"):
        getattr(scores, name)[cells] = np.nan
    if scores.severity is not None:
        scores.severity[cells] = np.nan


def _add_growth_change(
    scores: Scores, values: np.ndarray, threshold: float, found: GrowthChange | None = None
) -> None:
    """Add the year-over-year growth changes the period-level flags missed (in place).

    ``found`` None: the daily :func:`~revwatch.detectors.growth.yoy_growth_change`.
    """
    if found is None:
        shift = scores.flag & np.isin(scores.kind, [TYPE_CODES["level_shift"], _TREND])
        found = yoy_growth_change(values, scores.z, scores.flag, shift, threshold=threshold)
    scores.extra["yoy_change"] = found.change
    cells = found.flag & ~scores.flag
    scores.extra["yoy"] = cells
    if not cells.any():
        return
    logger.info("auto: %d year-over-year growth changes", int(cells.sum()))
    s, t = np.nonzero(cells)
    z = found.z[s, t].astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        # the value had the old growth continued, and the band around it
        expected = values[s, t] * np.exp(-found.change[s, t].astype(np.float64))
        band = np.exp(threshold * found.scale[s, t].astype(np.float64))
    scores.flag[s, t] = True
    scores.kind[s, t] = _TREND
    scores.provisional[s, t] = False
    scores.z[s, t] = z
    scores.score[s, t] = np.abs(z)
    scores.baseline[s, t] = expected
    scores.lower[s, t] = expected / band
    scores.upper[s, t] = expected * band
    if scores.severity is not None:
        scores.severity[s, t] = np.abs(z)
    if "confirm_at" in scores.extra:
        # confirmed on its onset: 28 days of evidence are behind it. Its episode is that day
        # only: a month-long episode would merge every other flag of the portfolio in that
        # month into one incident (a concentrated outage and a slow decline are two stories)
        scores.extra["confirm_at"][s, t] = t


def _merge_rows(into: Scores, other: Scores, rows: np.ndarray, cells: np.ndarray) -> None:
    """Take ``other``'s results (scores of ``into``'s ``rows`` only) for ``cells`` (in place)."""
    s, t = np.nonzero(cells)
    target_s = rows[s]
    for name in _FIELDS:
        getattr(into, name)[target_s, t] = getattr(other, name)[s, t]
    severity = into.severity if into.severity is not None else into.score.copy()
    other_severity = other.severity if other.severity is not None else other.score
    severity[target_s, t] = other_severity[s, t]
    into.severity = severity
    if "confirm_at" in into.extra and "confirm_at" in other.extra:
        into.extra["confirm_at"][target_s, t] = other.extra["confirm_at"][s, t]


def _merge(into: Scores, other: Scores, cells: np.ndarray) -> None:
    """Take ``other``'s results for ``cells`` (in place)."""
    for name in _FIELDS:
        target = getattr(into, name)
        target[cells] = getattr(other, name)[cells]
    sev_into = into.severity if into.severity is not None else into.score.copy()
    sev_other = other.severity if other.severity is not None else other.score
    sev_into[cells] = sev_other[cells]
    into.severity = sev_into
    for key in ("confirm_at",):
        if key in into.extra and key in other.extra:
            into.extra[key][cells] = other.extra[key][cells]
