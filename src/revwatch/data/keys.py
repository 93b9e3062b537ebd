"""A series key as text: the one place that turns a key into what people read or what is stored.

A series is named by its key, the values of the panel's id columns (``{"account": "Apex",
"region": "EU"}``). Two forms exist, each defined once here:

* :func:`series_key_text` / :func:`series_key_texts`: what people read, ``account=Apex,
  region=EU`` (``total`` for the whole metric, a key without id columns). Incident records,
  terminal tables, chart titles, the web pages and the HTML report all show this form.
* :func:`series_key_json` / :func:`series_key_jsons`: the stored identity, canonical JSON with
  sorted keys (``{"account": "Apex", "region": "EU"}``). The store keeps it and the monitor
  matches a panel's series against stored labels and incidents with it; it tells ``1`` from
  ``"1"``, which the readable form does not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TOTAL", "series_key_json", "series_key_jsons", "series_key_text", "series_key_texts"]

#: The readable name of the key of a whole metric (no id columns).
TOTAL = "total"


def series_key_text(key: Mapping[str, Any] | None, *, names: bool = True) -> str:
    """A series key as people read it: ``column=value`` parts joined by ``", "``.

    Parameters
    ----------
    key : mapping of str to value, or None
        Id column -> value, in the panel's column order.
    names : bool, default True
        False shows the values only, joined by ``" / "`` (``"Apex / EU"``): the short form of
        chart titles, where one panel shows one series.

    Returns
    -------
    str
        ``"account=Apex, region=EU"``; ``"total"`` for an empty or missing key.

    Examples
    --------
    >>> series_key_text({"account": "Apex", "region": "EU"})
    'account=Apex, region=EU'
    >>> series_key_text({"account": "Apex", "region": "EU"}, names=False)
    'Apex / EU'
    >>> series_key_text({}), series_key_text(None)
    ('total', 'total')
    """
    if not key:
        return TOTAL
    if not names:
        return " / ".join(str(value) for value in key.values())
    return ", ".join(f"{column}={value}" for column, value in key.items())


def series_key_texts(keys: pd.DataFrame, columns: Sequence[str] | None = None) -> np.ndarray:
    """:func:`series_key_text` of every row of a frame of keys, column-wise (no loop over rows).

    Parameters
    ----------
    keys : pandas.DataFrame
        One row per series (or per panel row).
    columns : sequence of str, optional
        The id columns, in order (default: every column of ``keys``).

    Returns
    -------
    numpy.ndarray
        Object array of ``len(keys)`` texts; ``"total"`` for each row when there are no columns.

    Examples
    --------
    >>> frame = pd.DataFrame({"account": ["Apex", "Bolt"], "region": ["EU", "US"]})
    >>> series_key_texts(frame).tolist()
    ['account=Apex, region=EU', 'account=Bolt, region=US']
    >>> series_key_texts(frame, []).tolist()
    ['total', 'total']
    """
    cols = list(keys.columns if columns is None else columns)
    if not cols:
        return np.full(len(keys), TOTAL, dtype=object)
    text = cols[0] + "=" + keys[cols[0]].astype(str)
    for col in cols[1:]:
        text = text + ", " + col + "=" + keys[col].astype(str)
    return text.to_numpy(dtype=object)


def series_key_json(key: Mapping[str, Any]) -> str:
    """Canonical JSON of a series key (sorted keys), as the store keeps it.

    Examples
    --------
    >>> series_key_json({"b": 1, "a": "x"})
    '{"a": "x", "b": 1}'
    >>> series_key_json({})
    '{}'
    """
    return json.dumps(dict(key), sort_keys=True, default=str)


def series_key_jsons(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """:func:`series_key_json` of every row of ``frame`` over the id ``columns``.

    Examples
    --------
    >>> frame = pd.DataFrame({"account": ["Apex"], "n": [1]})
    >>> series_key_jsons(frame, ["account", "n"]).tolist()
    ['{"account": "Apex", "n": 1}']
    >>> series_key_jsons(frame, []).tolist()
    ['{}']
    """
    if not columns:
        return np.full(len(frame), series_key_json({}), dtype=object)
    records: list[dict[str, Any]] = frame[list(columns)].astype(object).to_dict("records")  # type: ignore[assignment]
    return np.asarray([series_key_json(r) for r in records], dtype=object)
