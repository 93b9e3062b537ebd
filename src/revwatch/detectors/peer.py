"""Peer-relative scoring: each series against its own past *and* its peers' present.

Many portfolios move together: every product sells more in December, every
merchant less on Sunday, every region follows the same launch cycle. With a
year or less of history a series cannot learn that pattern from its own past,
so a method that only looks at one series at a time either flags every
December or needs years of data before it can flag anything. Its peers,
observed in the *same* period, tell what the period did to everybody.

The model is the two-way decomposition, on log values::

    log y[i, t] = level[i] + common[t] + residual[i, t]

computed causally, period by period, for all series at once:

1. ``level[i]`` is the median of the series' clean, peer-adjusted past
   (``log y - common``) over the last ``window`` periods of its current regime;
2. ``common[t]`` is the median, across the series observed at ``t`` that have a
   level (at least ``min_peers``), of ``log y[i, t] - level[i]``: what the
   period did to the typical series. It uses no period after ``t``;
3. the residual is scored against a robust scale that pools the series' own
   past residuals with the cross-section of residuals at ``t``, and calibrated
   through the Student-t (:func:`revwatch.detectors._arrays.wallace_z`).

**Portfolio-wide shocks are not explained away.** A move that hits every
series (a payment outage, a tracking bug) would vanish into ``common[t]``.
Once a full seasonal cycle of ``common`` exists, each ``common[t]`` is compared
with the same phase of earlier cycles; where it departs from that by
``threshold`` robust units, the departure is *not* absorbed: it stays in every
series' residual, so every series affected is flagged. Before a full cycle a
shared move cannot be told from seasonality, and it is absorbed (documented in
``docs/methods.md``).

Events follow the default method's rules (:mod:`revwatch.detectors.robust`): a
flag opens an event; periods that only continue it are not flagged again; a
deviation that lasts ``confirm`` periods becomes a ``level_shift`` and the
series' level restarts from its onset (the new normal).

Only positive values take part (log scale); other cells get no peer score.
"""

from __future__ import annotations

import logging

import numpy as np

from revwatch.data.panel import FREQUENCIES, Panel
from revwatch.detectors._arrays import nanmedian_rows, wallace_t, wallace_z
from revwatch.detectors.base import TYPE_CODES, Detector, Scores
from revwatch.detectors.robust import _MAD_EFFICIENCY, _MAD_TO_SIGMA, _WINDOWS
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = ["PeerRelativeDetector", "log_positive", "peer_strength", "period_common"]

#: Series the ``peer_strength`` summary looks at, at most.
_STRENGTH_SERIES = 2_000
_SPIKE = TYPE_CODES["spike"]
_DROP = TYPE_CODES["drop"]
_LEVEL = TYPE_CODES["level_shift"]


def log_positive(y: np.ndarray) -> np.ndarray:
    """Natural log of the positive cells, NaN elsewhere (no warnings).

    Examples
    --------
    >>> log_positive(np.array([1.0, 0.0, -2.0, np.nan])).tolist()
    [0.0, nan, nan, nan]
    """
    positive = y > 0
    return np.where(positive, np.log(np.where(positive, y, 1.0)), np.nan)


def period_common(
    history: np.ndarray, now: np.ndarray, min_peers: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """One period of the two-way model: each series' level and the common factor.

    Parameters
    ----------
    history : ndarray, shape (n_series, k)
        Peer-adjusted past log values (``log y - common``), NaN where unusable.
    now : ndarray, shape (n_series,)
        Log values of the period.
    min_peers : int
        Series with a level and a value needed for a common factor.

    Returns
    -------
    level, n_level, dev, has, common
        Median of ``history`` per series and its count, ``now - level``, where
        that is finite, and the median of ``dev`` over those series (NaN when
        fewer than ``min_peers``).

    Examples
    --------
    >>> hist = np.log(np.array([[100.0, 100.0], [200.0, 200.0], [50.0, 50.0]]))
    >>> now = np.log(np.array([110.0, 220.0, 55.0]))
    >>> round(period_common(hist, now, 3)[4], 4) == round(float(np.log(1.1)), 4)
    True
    """
    level, n_level = nanmedian_rows(history)
    dev = now - level
    has = np.isfinite(dev)
    common = float(np.median(dev[has])) if int(has.sum()) >= min_peers else float("nan")
    return level, n_level, dev, has, common


def _mad_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median absolute deviation of each row (NaN ignored) and its count."""
    med, n = nanmedian_rows(a)
    mad, _ = nanmedian_rows(np.abs(a - med[:, None]))
    return mad, n


def peer_strength(residual: np.ndarray, own: np.ndarray) -> float:
    """How much of the series' movement their peers explain, in [0, inf).

    Ratio of the typical robust spread of the peer-adjusted residuals to that
    of the unadjusted deviations (each series' median absolute deviation,
    median over series). Below about 0.7 the common factor removes more than
    half the variance: the peers are informative.

    Examples
    --------
    >>> common = np.array([0.0, 0.5, -0.5, 0.3])
    >>> noise = np.array([[0.01, -0.02, 0.0, 0.02], [-0.01, 0.02, 0.01, 0.0]])
    >>> round(peer_strength(noise, noise + common), 2) < 0.2
    True
    """
    res_mad, n_res = _mad_rows(residual)
    own_mad, n_own = _mad_rows(own)
    ok = (n_res >= 3) & (n_own >= 3) & np.isfinite(res_mad) & np.isfinite(own_mad)
    if not ok.any():
        return float("nan")
    num = float(np.median(res_mad[ok]))
    den = float(np.median(own_mad[ok]))
    if den <= 0:
        return float("inf") if num > 0 else 1.0
    return num / den


class PeerRelativeDetector(Detector):
    """Score each series against its own past level and its peers' present.

    Parameters
    ----------
    window : int or None, default None
        Periods of a series' clean past that give its level (and its own
        residual scale). None picks one by frequency: 12 monthly, 28 daily, ...
    threshold : float, default 3.5
        Calibrated score (normal-equivalent z) at or above which a period is
        flagged.
    min_change : float, default 0.05
        Minimum relative difference from the baseline for a flag.
    min_peers : int, default 5
        Series with a level that must be observed in a period for the common
        factor to be estimated; fewer and the period gets no peer score.
    confirm : int, default 3
        Periods a deviation must persist to become a level shift.
    revert : float, default 2.0
        An open event ends when the residual is back within ``revert``.
    prior_weight : float, default 10.0
        Largest weight (pseudo-observations) of the cross-section's scale in
        a series' scale.
    floor : float, default 0.005
        Smallest scale, in log units (about 0.5 %).
    shock_cycles : int, default 3
        Earlier cycles of the common factor whose same phase (median) tells
        what the portfolio should do in a period; see the module docstring.

    Examples
    --------
    >>> PeerRelativeDetector(min_peers=8).min_peers
    8
    """

    name = "peer"
    complexity = "Low (medians across series and periods)"

    def __init__(
        self,
        *,
        window: int | None = None,
        threshold: float = 3.5,
        min_change: float = 0.05,
        min_peers: int = 5,
        confirm: int = 3,
        revert: float = 2.0,
        prior_weight: float = 10.0,
        floor: float = 0.005,
        shock_cycles: int = 3,
    ) -> None:
        self.window = window
        self.threshold = threshold
        self.min_change = min_change
        self.min_peers = min_peers
        self.confirm = confirm
        self.revert = revert
        self.prior_weight = prior_weight
        self.floor = floor
        self.shock_cycles = shock_cycles

    def _check_params(self) -> None:
        if self.window is not None and int(self.window) < 2:
            raise ParameterError(f"window must be at least 2, got {self.window}")
        if int(self.min_peers) < 3:
            raise ParameterError(f"min_peers must be at least 3, got {self.min_peers}")
        if int(self.confirm) < 2:
            raise ParameterError(f"confirm must be at least 2, got {self.confirm}")
        if not self.threshold > 0:
            raise ParameterError(f"threshold must be positive, got {self.threshold}")
        if self.min_change < 0:
            raise ParameterError(f"min_change must be >= 0, got {self.min_change}")

    def detect(self, panel: Panel) -> Scores:
        """Score every period of every series causally; see the module docstring."""
        self._check_params()
        y = panel.matrix().values
        period = FREQUENCIES[panel.freq][2] if panel.freq in FREQUENCIES else 1
        window = int(self.window) if self.window is not None else _WINDOWS.get(panel.freq, 12)
        return self._score(y, window, period)

    def _score(self, y: np.ndarray, window: int, period: int) -> Scores:
        n_series, n_periods = y.shape
        thr = float(self.threshold)
        out = Scores.empty((n_series, n_periods), thr)
        severity = np.full((n_series, n_periods), np.nan)
        confirm_at = np.full((n_series, n_periods), -1, dtype=np.int64)
        logy = log_positive(y)
        clean = logy.copy()  # flagged and in-event cells become NaN
        residual = np.full((n_series, n_periods), np.nan)
        own_dev = np.full((n_series, n_periods), np.nan)
        common = np.full(n_periods, np.nan)
        absorbed = np.zeros(n_periods)  # the part of common taken out of residuals
        expected = np.full(n_periods, np.nan)  # common factor from earlier cycles
        cs_var = np.zeros(n_periods)  # squared cross-sectional MAD of residuals
        cs_n = np.zeros(n_periods)
        seg_start = np.zeros(n_series, dtype=np.int64)
        ev_onset = np.full(n_series, -1, dtype=np.int64)
        ev_dir = np.zeros(n_series)
        ev_len = np.zeros(n_series, dtype=np.int64)
        ev_level = np.zeros(n_series)
        ev_peak = np.zeros(n_series)
        cols = np.arange(n_periods)
        min_peers = int(self.min_peers)
        cap = float(self.prior_weight)
        floor = float(self.floor)
        cycles = int(self.shock_cycles)

        for t in range(1, n_periods):
            lo = max(0, t - window)
            hist = clean[:, lo:t] - np.nan_to_num(common[lo:t])[None, :]
            hist[cols[None, lo:t] < seg_start[:, None]] = np.nan
            level, n_level, dev, has, c_t = period_common(hist, logy[:, t], min_peers)
            if np.isnan(c_t):
                continue
            n_peers = int(has.sum())
            common[t] = c_t
            own_dev[:, t] = dev
            take = c_t
            # a portfolio-wide shock: the common factor departs from its own seasonal past
            if period >= 2 and t >= period and cycles > 0:
                same_phase = common[t - period :: -period][:cycles]
                same_phase = same_phase[np.isfinite(same_phase)]
                if same_phase.size:
                    expected[t] = float(np.median(same_phase))
                gap = common[max(1, t - 3 * period) : t] - expected[max(1, t - 3 * period) : t]
                gap = gap[np.isfinite(gap)]
                if np.isfinite(expected[t]) and gap.size >= 3:
                    centre = float(np.median(gap))
                    spread = _MAD_TO_SIGMA * float(np.median(np.abs(gap - centre)))
                    if abs(c_t - expected[t] - centre) >= thr * max(spread, floor):
                        take = float(expected[t]) + centre
            absorbed[t] = take
            r = dev - take
            residual[:, t] = r

            # scale: own past residuals pooled with the cross-section at t
            past_r = residual[:, lo:t].copy()
            past_r[np.isnan(clean[:, lo:t])] = np.nan
            past_r[cols[None, lo:t] < seg_start[:, None]] = np.nan
            own_mad, n_own = _mad_rows(past_r)
            rc = dev[has] - c_t
            cs_var[t] = float(np.median(np.abs(rc - np.median(rc)))) ** 2
            cs_n[t] = n_peers - 1
            # the cross-section's scale, pooled over the window (it changes slowly)
            cs_dof = _MAD_EFFICIENCY * float(np.sum(cs_n[lo : t + 1]))
            cs_pooled = float(np.sum(cs_n[lo : t + 1] * cs_var[lo : t + 1])) / max(
                float(np.sum(cs_n[lo : t + 1])), 1.0
            )
            w_own = _MAD_EFFICIENCY * np.maximum(n_own - 1, 0).astype(np.float64)
            w_cs = min(cs_dof, cap)
            own_var = np.where(w_own > 0, np.nan_to_num(own_mad) ** 2, 0.0)
            scale = _MAD_TO_SIGMA * np.sqrt((w_own * own_var + w_cs * cs_pooled) / (w_own + w_cs))
            # Satterthwaite: degrees of freedom of the weighted mix of the two estimates
            df = (w_own + w_cs) ** 2 / (w_own + w_cs**2 / cs_dof)
            # residuals already carry the error of the level they were measured from
            scale = np.fmax(scale, floor)
            scored = has & (n_level >= 1)
            with np.errstate(invalid="ignore", divide="ignore"):
                z = wallace_z(r / scale, df)
            base_log = level + take
            half = wallace_t(thr, df) * scale
            out.baseline[:, t] = np.where(scored, np.exp(base_log), np.nan)
            out.lower[:, t] = np.where(scored, np.exp(base_log - half), np.nan)
            out.upper[:, t] = np.where(scored, np.exp(base_log + half), np.nan)
            out.z[:, t] = np.where(scored, z, np.nan)
            out.score[:, t] = np.where(scored, np.abs(z), np.nan)
            material = np.abs(np.expm1(r)) >= float(self.min_change)

            # ---- open events: continue, revert or settle
            in_event = (ev_onset >= 0) & scored
            settled_now = np.zeros(n_series, dtype=bool)
            if in_event.any():
                toward = ev_dir * z
                reverted = in_event & (toward < float(self.revert))
                done = np.flatnonzero(reverted)
                out.provisional[done, ev_onset[done]] = False
                confirm_at[done, ev_onset[done]] = t
                ev_onset[done] = -1
                idx = np.flatnonzero(in_event & ~reverted)
                if idx.size:
                    # judged against the level frozen at the onset
                    frozen = ev_level[idx] + take
                    out.baseline[idx, t] = np.exp(frozen)
                    out.lower[idx, t] = np.exp(frozen - half[idx])
                    out.upper[idx, t] = np.exp(frozen + half[idx])
                    clean[idx, t] = np.nan
                    ev_len[idx] += 1
                    ev_peak[idx] = np.fmax(ev_peak[idx], np.abs(z[idx]))
                    severity[idx, ev_onset[idx]] = ev_peak[idx]
                    settle = idx[ev_len[idx] >= int(self.confirm)]
                    if settle.size:
                        onset = ev_onset[settle]
                        out.kind[settle, onset] = _LEVEL
                        out.provisional[settle, onset] = False
                        confirm_at[settle, onset] = t
                        seg_start[settle] = onset
                        settled_now[settle] = True
                        mask = (cols[None, :] >= onset[:, None]) & (cols[None, :] <= t)
                        block = clean[settle]
                        block[mask] = logy[settle][mask]
                        clean[settle] = block
                        ev_onset[settle] = -1

            # ---- new events
            # a series whose event just reverted may open a new one (the other way)
            free = scored & (ev_onset < 0) & ~settled_now
            new = np.flatnonzero(free & (np.abs(z) >= thr) & material)
            if new.size:
                up = z[new] > 0
                out.flag[new, t] = True
                out.kind[new, t] = np.where(up, _SPIKE, _DROP)
                out.provisional[new, t] = True
                severity[new, t] = np.abs(z[new])
                ev_onset[new] = t
                ev_dir[new] = np.where(up, 1.0, -1.0)
                ev_len[new] = 1
                ev_level[new] = level[new]
                ev_peak[new] = np.abs(z[new])
                clean[new, t] = np.nan

        out.severity = severity
        out.extra["confirm_at"] = confirm_at.astype(np.float64)
        out.extra["peer_factor"] = np.broadcast_to(np.exp(absorbed), (n_series, n_periods)).copy()
        out.extra["peer_strength"] = np.broadcast_to(
            _rolling_strength(residual, own_dev, window), (n_series, n_periods)
        ).copy()
        return out


def _rolling_strength(residual: np.ndarray, own: np.ndarray, window: int) -> np.ndarray:
    """:func:`peer_strength` of the ``window`` periods up to and including each period.

    On at most ``_STRENGTH_SERIES`` evenly spaced series: a summary, not a score.
    """
    n_series, n_periods = residual.shape
    if n_series > _STRENGTH_SERIES:
        rows = np.linspace(0, n_series - 1, _STRENGTH_SERIES).astype(np.int64)
        residual, own = residual[rows], own[rows]
    strength = np.full(n_periods, np.nan)
    for t in range(n_periods):
        lo = max(0, t - window + 1)
        strength[t] = peer_strength(residual[:, lo : t + 1], own[:, lo : t + 1])
    return strength
