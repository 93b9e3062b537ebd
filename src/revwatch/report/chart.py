"""Charts of flagged series: each line against its own baseline and normal band.

:func:`plot_top_series` draws the four-panel overview (the series with the
most severe anomalies, one panel each) and writes it as a PNG.
:func:`plot_series` draws one series on a given :class:`~matplotlib.axes.Axes`
and is the building block other reports reuse. :func:`incident_chart_png` draws one stored
incident (the review pages, the HTML report and the alert emails all use it).

Figures are built with :class:`matplotlib.figure.Figure` on the Agg canvas,
never through :mod:`matplotlib.pyplot`, so no global state is touched and
charts can be drawn from several threads.
"""

from __future__ import annotations

import base64
import io
import logging
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon
from matplotlib.ticker import FuncFormatter

from revwatch.data.keys import series_key_text
from revwatch.errors import ParameterError
from revwatch.report._style import TYPE_COLORS, TYPE_MARKERS, type_color
from revwatch.report.context import context_frame
from revwatch.report.terminal import _check_columns, _is_missing
from revwatch.units import Unit, format_amount

logger = logging.getLogger(__name__)

#: Fill of the periods an incident covers (``in_incident`` in the series frame).
INCIDENT_SPAN_COLOR = "#d9485f"

__all__ = [
    "DPI",
    "FIGSIZE",
    "THEMES",
    "ChartTheme",
    "chart_data_uri",
    "incident_chart_png",
    "legend_handles",
    "plot_series",
    "plot_top_series",
]

#: Size of :func:`plot_top_series` figures in inches, and their resolution.
FIGSIZE: tuple[float, float] = (14.0, 9.0)
DPI = 150

_NO_ANOMALIES = "no anomalies flagged"


@dataclass(frozen=True)
class ChartTheme:
    """Colours of one chart style.

    Attributes
    ----------
    background, panel : str
        Figure and axes face colours.
    text, muted, grid : str
        Titles and labels, secondary text and ticks, grid lines.
    line, baseline, band : str
        The series line, its baseline and its normal band.
    """

    background: str
    panel: str
    text: str
    muted: str
    grid: str
    line: str
    baseline: str
    band: str


#: The chart styles :func:`plot_series` and :func:`plot_top_series` accept.
THEMES: dict[str, ChartTheme] = {
    "light": ChartTheme(
        background="#ffffff",
        panel="#fbfcfe",
        text="#1f2430",
        muted="#5c6370",
        grid="#e4e7ee",
        line="#2f6db5",
        baseline="#6b7280",
        band="#2f6db5",
    ),
    "dark": ChartTheme(
        background="#0f1420",
        panel="#151b28",
        text="#e6e9ef",
        muted="#9aa3b2",
        grid="#263042",
        line="#5aa9ff",
        baseline="#a3acba",
        band="#5aa9ff",
    ),
}


def _theme(style: str) -> ChartTheme:
    if style not in THEMES:
        raise ParameterError(f"unknown chart style {style!r}; choose one of {', '.join(THEMES)}")
    return THEMES[style]


def _title(ids: Sequence[str], key: Hashable) -> str:
    """A panel's title: the key's values (``Widgets / EMEA``, a missing one shown as ``–``),
    ``all series`` when the data has no id columns."""
    values = key if isinstance(key, tuple) else (key,)
    parts = {c: "–" if _is_missing(v) else v for c, v in zip(ids, values, strict=False)}
    return series_key_text(parts, names=False) if parts else "all series"


def _flags(frame: pd.DataFrame) -> np.ndarray:
    """Boolean array: True where the row is a flagged (non-normal) anomaly."""
    if "type" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return np.array(
        [isinstance(kind, str) and kind not in ("", "normal") for kind in frame["type"].tolist()],
        dtype=bool,
    )


def _provisional(frame: pd.DataFrame) -> np.ndarray:
    if "provisional" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return np.array(
        [not _is_missing(flag) and bool(flag) for flag in frame["provisional"].tolist()],
        dtype=bool,
    )


def _numbers(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _date_numbers(periods: pd.Series) -> np.ndarray:
    """Matplotlib date numbers of ``periods`` (timezone-aware ones at wall time)."""
    if isinstance(periods.dtype, pd.PeriodDtype):
        stamps = periods.dt.to_timestamp()
    else:
        stamps = pd.to_datetime(periods, errors="coerce")
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_localize(None)
    values = stamps.to_numpy(dtype="datetime64[ns]")
    out = np.full(len(values), np.nan)
    valid = ~np.isnat(values)
    if valid.any():
        out[valid] = mdates.date2num(values[valid])
    return out


def _value_formatter(span: float) -> FuncFormatter:
    """Tick labels with thousands separators; decimals only for small ranges."""
    decimals = 0 if span >= 20 else (1 if span >= 2 else 2)

    def fmt(value: float, _pos: int | None = None) -> str:
        return f"{value:,.{decimals}f}"

    return FuncFormatter(fmt)


def _draw_gradient(ax: Axes, x: np.ndarray, y: np.ndarray, bottom: float, color: str) -> None:
    """Shade the area under the line with a gradient fading towards ``bottom``."""
    finite = np.isfinite(x) & np.isfinite(y)
    if finite.sum() < 2:
        return
    xs, ys = x[finite], y[finite]
    top = float(ys.max())
    if not top > bottom:
        return
    rgba = np.zeros((256, 1, 4))
    rgba[:, :, :3] = to_rgb(color)
    rgba[:, 0, 3] = np.linspace(0.26, 0.0, 256) ** 1.3
    image = ax.imshow(
        rgba,
        aspect="auto",
        extent=(float(xs.min()), float(xs.max()), bottom, top),
        origin="upper",
        interpolation="bilinear",
        zorder=1.5,
    )
    vertices = np.vstack([[xs[0], bottom], np.column_stack([xs, ys]), [xs[-1], bottom]])
    clip = Polygon(vertices, closed=True, facecolor="none", edgecolor="none")
    ax.add_patch(clip)
    image.set_clip_path(clip)


def _y_limits(core: np.ndarray, band: np.ndarray) -> tuple[float, float]:
    """Y range: the values and baseline, padded; the band may widen it only a little.

    A band that blows up after an outlier would otherwise squash the line.
    """
    low, high = float(core.min()), float(core.max())
    span = high - low if high > low else max(abs(high), 1.0)
    band = band[np.isfinite(band)]
    if band.size:
        low = max(min(low, float(band.min())), low - 0.25 * span)
        high = min(max(high, float(band.max())), high + 0.25 * span)
        span = high - low
    return low - 0.14 * span, high + 0.14 * span


def _runs(positions: np.ndarray, kinds: list[str]) -> list[tuple[int, int]]:
    """(first position, run length) of each run of consecutive flags of one type."""
    runs: list[tuple[int, int]] = []
    previous_pos, previous_kind = -2, ""
    for pos, kind in zip(positions.tolist(), kinds, strict=True):
        if runs and pos == previous_pos + 1 and kind == previous_kind:
            start, length = runs[-1]
            runs[-1] = (start, length + 1)
        else:
            runs.append((pos, 1))
        previous_pos, previous_kind = pos, kind
    return runs


def _annotate_runs(
    ax: Axes,
    x: np.ndarray,
    value: np.ndarray,
    baseline: np.ndarray,
    positions: np.ndarray,
    kinds: list[str],
    theme: ChartTheme,
) -> None:
    """Label the first point of each run of one type; stack labels that would collide."""
    x_low, x_high = float(np.nanmin(x)), float(np.nanmax(x))
    x_span = x_high - x_low or 1.0
    # Axes width in points (before layout; close enough to space labels out).
    width_pt = max(ax.bbox.width * 72.0 / ax.figure.dpi, 1.0)
    last_end = {True: -math.inf, False: -math.inf}  # right edge of the last label per side
    last_level = {True: 0, False: 0}
    for start, length in _runs(positions, [kinds[i] for i in positions]):
        kind = kinds[start]
        label = kind if length == 1 else f"{kind} ×{length}"
        above = not (np.isfinite(baseline[start]) and value[start] < baseline[start])
        where = (x[start] - x_low) / x_span
        ha = "left" if where < 0.08 else ("right" if where > 0.92 else "center")
        label_pt = 5.6 * len(label) + 8
        center_pt = where * width_pt
        left_pt = {"left": center_pt, "center": center_pt - label_pt / 2}.get(
            ha, center_pt - label_pt
        )
        level = (last_level[above] + 1) % 3 if left_pt < last_end[above] + 4 else 0
        last_level[above], last_end[above] = level, left_pt + label_pt
        offset = 13 + 17 * level
        ax.annotate(
            label,
            xy=(x[start], value[start]),
            xytext=(0, offset if above else -offset),
            textcoords="offset points",
            ha=ha,
            va="bottom" if above else "top",
            fontsize=8.5,
            fontweight="bold",
            color=theme.text,
            zorder=6,
            annotation_clip=False,
            arrowprops=(
                {"arrowstyle": "-", "color": type_color(kind), "linewidth": 0.9, "shrinkB": 6}
                if level
                else None
            ),
            bbox={
                "boxstyle": "round,pad=0.28",
                "facecolor": theme.panel,
                "edgecolor": type_color(kind),
                "linewidth": 1.0,
                "alpha": 0.92,
            },
        )


def plot_series(
    series: pd.DataFrame,
    ax: Axes,
    *,
    value_label: str = "value",
    title: str | None = None,
    style: str = "light",
    annotate: bool = True,
    note: str | None = None,
) -> Axes:
    """Draw one series against its baseline and band, with its anomalies marked.

    Parameters
    ----------
    series : DataFrame
        The rows of one series: ``period`` and ``value``, and optionally
        ``baseline``, ``lower``, ``upper`` (the normal band; NaN allowed),
        ``type`` (``"normal"`` when not flagged), ``severity`` and
        ``provisional``. Row order does not matter.
    ax : matplotlib.axes.Axes
        Where to draw.
    value_label : str, default "value"
        Name of the value (legend and y-axis label).
    title : str, optional
        Panel title, drawn on the left.
    style : {"light", "dark"}, default "light"
        Colour theme (:data:`THEMES`).
    annotate : bool, default True
        Label each run of consecutive anomalies of one type with the type.
    note : str, optional
        A short note drawn at the top of the panel (e.g. "no anomalies flagged").

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.

    Raises
    ------
    MissingColumnError
        If ``period`` or ``value`` is absent.
    ParameterError
        If ``style`` is unknown.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> frame = pd.DataFrame(
    ...     {
    ...         "period": pd.date_range("2025-01-01", periods=6, freq="MS"),
    ...         "value": [10.0, 11, 10, 30, 11, 10],
    ...         "baseline": [10.0] * 6,
    ...         "type": ["normal"] * 3 + ["spike"] + ["normal"] * 2,
    ...         "severity": [np.nan] * 3 + [7.5] + [np.nan] * 2,
    ...     }
    ... )
    >>> ax = plot_series(frame, Figure().add_subplot(), title="Lighthouse Media")
    >>> ax.get_title(loc="left")
    'Lighthouse Media'
    """
    theme = _theme(style)
    _check_columns(series, ["period", "value"], "the series frame")
    order = np.argsort(_date_numbers(series["period"]), kind="stable")
    frame = series.iloc[order]
    x = _date_numbers(frame["period"])
    value = _numbers(frame, "value")
    baseline = _numbers(frame, "baseline")
    lower = _numbers(frame, "lower")
    upper = _numbers(frame, "upper")
    flagged = _flags(frame) & np.isfinite(x) & np.isfinite(value)
    provisional = _provisional(frame)
    severity = _numbers(frame, "severity")
    kinds = [str(kind) for kind in frame["type"].tolist()] if "type" in frame.columns else []

    ax.set_facecolor(theme.panel)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(theme.grid)
    ax.tick_params(colors=theme.muted, labelsize=8.5, length=0, pad=4)
    ax.grid(True, axis="y", color=theme.grid, linewidth=0.8)
    ax.grid(True, axis="x", color=theme.grid, linewidth=0.5, alpha=0.6)
    ax.set_axisbelow(True)

    core = np.concatenate([value, baseline])
    core = core[np.isfinite(core)]
    if core.size == 0 or not np.isfinite(x).any():
        ax.text(
            0.5,
            0.5,
            "no data",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color=theme.muted,
            fontsize=11,
            style="italic",
        )
        ax.set_xticks([])
        ax.set_yticks([])
        if title:
            ax.set_title(title, loc="left", color=theme.text, fontsize=11.5, fontweight="bold")
        return ax
    bottom, top = _y_limits(core, np.concatenate([lower, upper]))

    if "in_incident" in frame.columns:
        _shade_spans(ax, x, frame["in_incident"].fillna(False).to_numpy(dtype=bool), theme)

    band_ok = np.isfinite(lower) & np.isfinite(upper)
    if band_ok.any():
        ax.fill_between(
            x,
            lower,
            upper,
            where=band_ok,
            color=theme.band,
            alpha=0.11,
            linewidth=0,
            zorder=1,
            interpolate=False,
        )
        for edge in (lower, upper):
            ax.plot(x, edge, color=theme.band, alpha=0.22, linewidth=0.6, zorder=1.1)
    if np.isfinite(baseline).any():
        ax.plot(
            x,
            baseline,
            color=theme.baseline,
            linestyle=(0, (5, 3)),
            linewidth=1.3,
            alpha=0.9,
            zorder=2,
        )
    _draw_gradient(ax, x, value, bottom, theme.line)
    ax.plot(
        x,
        value,
        color=theme.line,
        linewidth=2.1,
        solid_capstyle="round",
        solid_joinstyle="round",
        zorder=3,
    )
    if len(x) <= 40:
        ax.scatter(x, value, s=9, color=theme.line, zorder=3.1, linewidths=0)

    positions = np.flatnonzero(flagged)
    for kind in dict.fromkeys(kinds[i] for i in positions):
        color = type_color(kind)
        marker = TYPE_MARKERS.get(kind, "o")
        of_kind = positions[[kinds[i] == kind for i in positions]]
        # The glow: two wider translucent halos under each marker.
        for size, alpha in ((520, 0.07), (240, 0.16)):
            ax.scatter(
                x[of_kind],
                value[of_kind],
                s=size,
                color=color,
                alpha=alpha,
                linewidths=0,
                marker="o",
                zorder=4,
            )
        solid = of_kind[~provisional[of_kind]]
        hollow = of_kind[provisional[of_kind]]
        if solid.size:
            ax.scatter(
                x[solid],
                value[solid],
                s=70,
                marker=marker,
                color=color,
                edgecolors=theme.panel,
                linewidths=1.2,
                zorder=5,
            )
        if hollow.size:
            ax.scatter(
                x[hollow],
                value[hollow],
                s=70,
                marker=marker,
                facecolors=theme.panel,
                edgecolors=color,
                linewidths=1.8,
                zorder=5,
            )

    if annotate and positions.size:
        _annotate_runs(ax, x, value, baseline, positions, kinds, theme)

    finite_x = x[np.isfinite(x)]
    x_pad = 0.02 * (float(finite_x.max() - finite_x.min()) or 1.0)
    ax.set_xlim(float(finite_x.min()) - x_pad, float(finite_x.max()) + x_pad)
    ax.set_ylim(bottom, top)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.xaxis.get_offset_text().set_color(theme.muted)
    ax.yaxis.set_major_formatter(_value_formatter(top - bottom))
    ax.set_ylabel(value_label, color=theme.muted, fontsize=9)

    if title:
        ax.set_title(title, loc="left", color=theme.text, fontsize=11.5, fontweight="bold")
    if positions.size:
        worst = (
            float(np.nanmax(severity[positions]))
            if np.isfinite(severity[positions]).any()
            else None
        )
        summary = f"{positions.size} flagged"
        if worst is not None:
            summary += f" · max severity {worst:,.2f}"
        ax.set_title(summary, loc="right", color=theme.muted, fontsize=9)
    if note:
        ax.text(
            0.5,
            0.96,
            note,
            transform=ax.transAxes,
            ha="center",
            va="top",
            color=theme.muted,
            fontsize=9.5,
            style="italic",
        )
    return ax


def _shade_spans(ax: Axes, x: np.ndarray, inside: np.ndarray, theme: ChartTheme) -> None:
    """Shade each run of consecutive periods inside an incident, half a period either side."""
    if not inside.any():
        return
    steps = np.diff(x[np.isfinite(x)])
    half = float(np.median(steps)) / 2 if steps.size else 0.5
    edges = np.diff(np.concatenate([[0], inside.astype(np.int8), [0]]))
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        ax.axvspan(
            x[start] - half,
            x[stop - 1] + half,
            color=INCIDENT_SPAN_COLOR,
            alpha=0.13,
            linewidth=0,
            zorder=0.5,
        )


def legend_handles(
    kinds: Sequence[str],
    *,
    provisional: bool = False,
    value_label: str = "value",
    style: str = "light",
    spans: bool = False,
) -> list[Any]:
    """Legend entries matching :func:`plot_series`' drawing.

    Parameters
    ----------
    kinds : sequence of str
        The anomaly types drawn (one entry each, in :data:`TYPE_COLORS` order).
    provisional : bool, default False
        Add an entry for the hollow provisional marker.
    value_label : str, default "value"
        Label of the series line.
    style : {"light", "dark"}, default "light"
    spans : bool, default False
        Add an entry for the shaded incident spans.

    Returns
    -------
    list of matplotlib artists

    Examples
    --------
    >>> [h.get_label() for h in legend_handles(["drop", "spike"], provisional=True)]
    ['value', 'baseline', 'normal band', 'spike', 'drop', 'provisional']
    """
    theme = _theme(style)
    handles: list[Any] = [
        Line2D([], [], color=theme.line, linewidth=2.1, label=value_label),
        Line2D(
            [], [], color=theme.baseline, linestyle=(0, (5, 3)), linewidth=1.3, label="baseline"
        ),
        Patch(facecolor=theme.band, alpha=0.18, edgecolor="none", label="normal band"),
    ]
    ordered = [k for k in TYPE_COLORS if k in kinds] + sorted(
        set(kinds) - set(TYPE_COLORS) - {"normal"}
    )
    for kind in ordered:
        if kind == "normal":
            continue
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker=TYPE_MARKERS.get(kind, "o"),
                markersize=8,
                markerfacecolor=type_color(kind),
                markeredgecolor=theme.panel,
                label=kind,
            )
        )
    if provisional:
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markersize=8,
                markerfacecolor=theme.panel,
                markeredgecolor=theme.muted,
                markeredgewidth=1.8,
                label="provisional",
            )
        )
    if spans:
        handles.append(
            Patch(facecolor=INCIDENT_SPAN_COLOR, alpha=0.25, edgecolor="none", label="incident")
        )
    return handles


def _grid(count: int) -> tuple[int, int]:
    """Rows and columns for ``count`` panels: 1x1, 1x2, then two columns."""
    if count <= 1:
        return 1, 1
    if count == 2:
        return 1, 2
    return math.ceil(count / 2), 2


def plot_top_series(
    series: pd.DataFrame,
    id_columns: Sequence[str],
    path: str | Path,
    *,
    top: int = 4,
    title: str | None = None,
    value_label: str = "value",
    style: str = "light",
) -> Path:
    """Chart the series with the most severe anomalies, one panel each, as a PNG.

    Panels are ranked by each series' highest ``severity`` among its flagged
    rows and laid out two per row (a 2x2 grid for the default ``top=4``; fewer
    panels when fewer series are flagged). When nothing is flagged the series
    with the largest total value are drawn instead, with a note saying so.

    Parameters
    ----------
    series : DataFrame
        The series frame: id columns, ``period``, ``value``, ``baseline``,
        ``lower``, ``upper``, ``type``, ``severity`` and optionally
        ``provisional``, for every row of every series.
    id_columns : sequence of str
        Columns identifying a series (may be empty: one series).
    path : str or Path
        Where to write the PNG (parent folders are created).
    top : int, default 4
        How many series to draw.
    title : str, optional
        Figure title; a description of the selection by default.
    value_label : str, default "value"
        Name of the value (legend and axis labels).
    style : {"light", "dark"}, default "light"
        Colour theme.

    Returns
    -------
    Path
        ``path``. The image is ``FIGSIZE`` inches at ``DPI`` (2100x1350 pixels).

    Raises
    ------
    ParameterError
        If ``top`` is below 1 or ``style`` is unknown.
    MissingColumnError
        If an id column, ``period`` or ``value`` is absent.
    """
    if top < 1:
        raise ParameterError(f"top must be at least 1; got {top}")
    theme = _theme(style)
    ids = list(id_columns)
    _check_columns(series, [*ids, "period", "value"], "the series frame")
    out = Path(path).expanduser()

    groups: dict[Hashable, pd.DataFrame]
    if not ids:
        groups = {(): series} if len(series) else {}
    else:
        groups = dict(iter(series.groupby(ids, sort=False, dropna=False)))

    worst: dict[Hashable, float] = {}
    for key, frame in groups.items():
        flagged = _flags(frame)
        if flagged.any():
            severity = _numbers(frame, "severity")[flagged]
            worst[key] = float(np.nanmax(severity)) if np.isfinite(severity).any() else 0.0
    any_flagged = bool(worst)
    if any_flagged:
        keys = sorted(worst, key=lambda k: -worst[k])[:top]
    else:
        totals = {key: float(np.nansum(_numbers(frame, "value"))) for key, frame in groups.items()}
        keys = sorted(totals, key=lambda k: -totals[k])[:top]

    # A fixed layout (the figure size never changes): constrained layout would
    # more than double the drawing time.
    fig = Figure(figsize=FIGSIZE, dpi=DPI, facecolor=theme.background)
    FigureCanvasAgg(fig)
    nrows, ncols = _grid(len(keys))
    axes = fig.subplots(
        nrows,
        ncols,
        squeeze=False,
        gridspec_kw={
            "left": 0.07,
            "right": 0.985,
            "top": 0.905,
            "bottom": 0.095,
            "wspace": 0.17,
            "hspace": 0.3 if nrows <= 2 else 0.42,
        },
    ).ravel()
    kinds_drawn: list[str] = []
    provisional_drawn = False
    for ax, key in zip(axes, keys, strict=False):
        frame = groups[key]
        flagged = _flags(frame)
        plot_series(
            frame,
            ax,
            value_label=value_label,
            title=_title(ids, key),
            style=style,
            note=None if flagged.any() else _NO_ANOMALIES,
        )
        kinds_drawn.extend(str(k) for k in frame["type"][flagged].tolist())
        provisional_drawn = provisional_drawn or bool((_provisional(frame) & flagged).any())
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    if not keys:
        axes[0].set_visible(True)
        axes[0].set_axis_off()
        axes[0].text(
            0.5,
            0.5,
            "no data",
            transform=axes[0].transAxes,
            ha="center",
            va="center",
            color=theme.muted,
            fontsize=14,
            style="italic",
        )

    if title is None:
        if any_flagged:
            title = (
                "The flagged series"
                if len(keys) == 1
                else f"Top {len(keys)} flagged series by severity"
            )
        elif keys:
            title = f"No anomalies flagged — top {len(keys)} series by total {value_label}"
        else:
            title = "No data"
    fig.suptitle(title, y=0.975, color=theme.text, fontsize=15, fontweight="bold")
    if keys:
        fig.legend(
            handles=legend_handles(
                kinds_drawn,
                provisional=provisional_drawn,
                value_label=value_label,
                style=style,
                spans="in_incident" in series.columns and bool(series["in_incident"].any()),
            ),
            loc="lower center",
            bbox_to_anchor=(0.5, 0.01),
            ncols=8,
            frameon=False,
            labelcolor=theme.text,
            fontsize=9.5,
            handlelength=2.4,
            columnspacing=1.8,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, facecolor=theme.background, format="png")
    logger.info("wrote a chart of %d series to %s", len(keys), out)
    return out


def incident_chart_png(
    incident: dict[str, Any],
    *,
    unit: Unit | None = None,
    title: str | None = None,
    size: tuple[float, float] = (10.0, 4.2),
    dpi: int = 110,
) -> bytes:
    """A PNG of a stored incident's series: baseline band, incident span shaded, anomalies marked.

    The one chart of an incident: the review pages, the HTML report and the alert emails all
    draw it here, with :func:`plot_series` and its legend.

    Parameters
    ----------
    incident : dict
        A store row (with its ``context``, see :func:`revwatch.report.context.context_frame`).
    unit : Unit, optional
        The value axis's unit (``$12.3k``); plain numbers when None.
    title : str, optional
        Default: the metric and the series key (``mrr · account=Apex``).
    size : (float, float), default (10, 4.2)
        Figure size in inches.
    dpi : int, default 110

    Returns
    -------
    bytes
        The PNG image.

    Examples
    --------
    >>> import datetime as dt
    >>> inc = {"incident_id": "x", "metric": "mrr", "series_key": {"account": "Apex"},
    ...        "type": "drop", "severity": 6.0, "impact": -6.0,
    ...        "start_period": dt.datetime(2026, 3, 1), "end_period": dt.datetime(2026, 3, 1),
    ...        "context": [[f"2026-0{m}-01T00:00:00", 10.0 if m != 3 else 4.0, 10.0, 8.0, 12.0]
    ...                    for m in range(1, 5)]}
    >>> incident_chart_png(inc, size=(4, 2), dpi=40)[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    theme = THEMES["light"]
    frame = context_frame(incident)
    fig = Figure(figsize=size, dpi=dpi, facecolor=theme.background)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.085, 0.17, 0.9, 0.73))
    kind = str(incident.get("type", "anomaly"))
    if title is None:
        title = f"{incident.get('metric', '')} · {series_key_text(incident.get('series_key'))}"
    plot_series(frame, ax, value_label=str(incident.get("metric", "value")), title=title)
    if len(frame):
        gaps = frame["period"].diff().dropna()
        half = pd.Timedelta(gaps.median()).total_seconds() / 86400 / 2 if len(gaps) else 0.5
        start = float(mdates.date2num(pd.Timestamp(incident["start_period"]).to_pydatetime()))
        end = float(mdates.date2num(pd.Timestamp(incident["end_period"]).to_pydatetime()))
        ax.axvspan(
            start - half, end + half, color=type_color(kind), alpha=0.12, linewidth=0, zorder=0.5
        )
        if unit is not None:
            shown = unit
            ax.yaxis.set_major_formatter(
                FuncFormatter(lambda v, _p: format_amount(v, shown, compact=True))
            )
    handles = legend_handles([kind], value_label=str(incident.get("metric", "value")))
    handles.append(Patch(facecolor=type_color(kind), alpha=0.25, label="incident span"))
    fig.legend(
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 0.0),
        ncols=len(handles),
        frameon=False,
        fontsize=9,
        labelcolor=theme.text,
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor=theme.background)
    return buffer.getvalue()


def chart_data_uri(png: bytes) -> str:
    """A ``data:`` URI for an ``<img src>`` (self-contained HTML).

    Examples
    --------
    >>> chart_data_uri(b"abc")
    'data:image/png;base64,YWJj'
    """
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
