"""Raw payment events -> seed 001's metric vector at hourly or daily grain.

One input row per charge attempt: ``timestamp``, ``amount``, ``currency``,
``status`` (``succeeded``, ``failed`` or ``refunded``) and any dimensions
(payment method, country, product, customer segment). For each period and
combination of the chosen dimensions, :func:`aggregate_events` computes, with
one vectorized pandas ``groupby``:

``revenue``
    Sum of the amounts captured (``succeeded`` plus ``refunded``: a refunded
    charge was captured first, as in seed 001 where refunds are a share of
    successful payments), converted to one currency.
``transaction_count``
    Captured charges.
``avg_order_value``
    ``revenue / transaction_count`` (NaN when there were none).
``payment_success_rate``
    Captured charges / all attempts.
``refund_rate``
    ``refunded`` / captured charges.

A period with no events for a combination has no row (missing, not zero);
the loader and detectors treat it as missing.

Examples
--------
>>> import pandas as pd
>>> events = pd.DataFrame({
...     "timestamp": ["2025-01-01 10:00", "2025-01-01 11:00", "2025-01-01 12:00",
...                   "2025-01-02 09:00"],
...     "amount": [100.0, 50.0, 30.0, 20.0],
...     "currency": "USD",
...     "status": ["succeeded", "failed", "refunded", "succeeded"],
...     "country": ["US", "US", "US", "DE"],
... })
>>> out = aggregate_events(events, grain="daily")
>>> first = out.iloc[0]
>>> str(first["period"]), float(first["revenue"]), int(first["transaction_count"])
('2025-01-01 00:00:00', 130.0, 2)
>>> round(float(first["payment_success_rate"]), 3), float(first["refund_rate"])
(0.667, 0.5)
>>> aggregate_events(events, grain="daily", dimensions=["country"])["country"].tolist()
['DE', 'US']
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from revwatch.errors import InputError, MissingColumnError, ParameterError

logger = logging.getLogger(__name__)

__all__ = ["METRICS", "STATUSES", "aggregate_events"]

#: The metric vector of seed 001, in output order.
METRICS: tuple[str, ...] = (
    "revenue",
    "transaction_count",
    "avg_order_value",
    "payment_success_rate",
    "refund_rate",
)
#: Accepted values of the status column.
STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "refunded"})
_GRAINS = {"hourly": "h", "daily": "D"}


def aggregate_events(
    events: pd.DataFrame,
    *,
    grain: str = "daily",
    dimensions: Sequence[str] = (),
    timestamp: str = "timestamp",
    amount: str = "amount",
    status: str = "status",
    currency: str = "currency",
    rates: Mapping[str, float] | None = None,
    source: str = "<events>",
) -> pd.DataFrame:
    """Aggregate raw payment events into the seed 001 metric vector.

    Parameters
    ----------
    events : DataFrame
        One row per charge attempt.
    grain : {"daily", "hourly"}
        Period length; timestamps with a time zone are converted to UTC first.
    dimensions : list of str
        Columns to break the metrics down by (none: one total series).
    timestamp, amount, status, currency : str
        Column names. ``currency`` may be absent (one currency assumed).
    rates : mapping, optional
        Currency -> factor to the reporting currency. Required when the events
        hold more than one currency.
    source : str
        Name used in messages.

    Returns
    -------
    DataFrame
        The dimension columns, ``period`` and :data:`METRICS`, sorted.

    Raises
    ------
    MissingColumnError
        A named column is absent.
    InputError
        Unknown status values, unparsable timestamps or amounts, or several
        currencies without ``rates``.
    """
    if grain not in _GRAINS:
        raise ParameterError(f"grain {grain!r} must be 'hourly' or 'daily'")
    dims = list(dimensions)
    for column in [timestamp, amount, status, *dims]:
        if column not in events.columns:
            raise MissingColumnError(
                f"{source}: no column {column!r} in the events "
                f"(columns: {', '.join(map(str, events.columns))}); name it in the config"
            )
    stamps = pd.to_datetime(events[timestamp], errors="coerce", utc=True)
    if stamps.isna().any():
        row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        raise InputError(
            f"{source}: row {row + 1}: {timestamp} {events[timestamp].iloc[row]!r} is not a "
            "timestamp; use ISO 8601 like 2025-01-31T14:05:00Z"
        )
    periods = stamps.dt.tz_localize(None).dt.floor(_GRAINS[grain])
    values = pd.to_numeric(events[amount], errors="coerce")
    if values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise InputError(
            f"{source}: row {row + 1}: {amount} {events[amount].iloc[row]!r} is not a number"
        )
    state = events[status].astype(str).str.strip().str.lower()
    unknown = sorted(set(state.unique()) - STATUSES)
    if unknown:
        raise InputError(
            f"{source}: status values {unknown} are not one of "
            f"{', '.join(sorted(STATUSES))}; map them before loading"
        )
    if currency in events.columns:
        currencies = sorted(events[currency].astype(str).str.upper().unique())
        if rates:
            missing = [c for c in currencies if c not in rates]
            if missing:
                raise InputError(
                    f"{source}: no rate for currency {', '.join(missing)}; add it to rates"
                )
            factor = events[currency].astype(str).str.upper().map(dict(rates)).astype(float)
            values = values * factor.to_numpy()
        elif len(currencies) > 1:
            raise InputError(
                f"{source}: events hold several currencies ({', '.join(currencies)}); "
                "add rates = { EUR = 1.08, ... } to the source, or use currency as a dimension"
            )
    captured = state.isin(["succeeded", "refunded"]).to_numpy()
    work = pd.DataFrame(
        {
            **{d: events[d].to_numpy() for d in dims},
            "period": periods.to_numpy(),
            "attempts": np.ones(len(events), dtype=np.int64),
            "captured": captured.astype(np.int64),
            "refunded": (state == "refunded").to_numpy().astype(np.int64),
            "revenue": np.where(captured, values.to_numpy(dtype=np.float64), 0.0),
        }
    )
    grouped = (
        work.groupby([*dims, "period"], sort=True, observed=True)[
            ["attempts", "captured", "refunded", "revenue"]
        ]
        .sum()
        .reset_index()
    )
    count = grouped["captured"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        grouped["transaction_count"] = grouped["captured"].astype(np.int64)
        grouped["avg_order_value"] = np.where(count > 0, grouped["revenue"] / count, np.nan)
        grouped["payment_success_rate"] = count / grouped["attempts"].to_numpy(dtype=np.float64)
        grouped["refund_rate"] = np.where(
            count > 0, grouped["refunded"].to_numpy(dtype=np.float64) / count, np.nan
        )
    logger.info("aggregated %d events into %d rows (%s)", len(events), len(grouped), grain)
    return grouped[[*dims, "period", *METRICS]]
