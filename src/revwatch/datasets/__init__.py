"""Reproducible data generators with ground-truth anomaly labels.

Three data sets, each from one of the project's seeds:

``saas-mrr``
    Monthly MRR of 30 SaaS accounts with five shaped anomalies (seed 000).
``smartphone-sales``
    Monthly unit sales by product and region, an exact port of seed 003's
    generator.
``daily-revenue``
    Daily revenue metrics of one business, optionally by payment method and
    country, with all five anomaly types of seed 001's taxonomy.

Every generator takes ``seed`` and returns a :class:`Dataset` with the data
in long format and a ``labels`` frame with one row per truly anomalous
series-period.

Options that make the data more like a real export (holidays and a billing
bump for ``daily-revenue``; yearly cycles, heavy tails, late starts and more
history for ``saas-mrr``) are off by default; :data:`REALISTIC` holds the
preset that switches them all on, and :func:`dataset_options` checks a set of
options against a generator. They never add labels: the labels stay the
planted events.

Examples
--------
>>> sorted(DATASETS)
['daily-revenue', 'saas-mrr', 'smartphone-sales']
>>> generate("smartphone-sales", seed=7).frame.shape
(384, 6)
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from revwatch.datasets._base import Dataset, write_dataset
from revwatch.datasets.daily_revenue import daily_revenue
from revwatch.datasets.saas_mrr import saas_mrr
from revwatch.datasets.smartphone import smartphone_sales
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = [
    "DATASETS",
    "REALISTIC",
    "Dataset",
    "daily_revenue",
    "dataset_options",
    "generate",
    "saas_mrr",
    "smartphone_sales",
    "write_dataset",
]

#: Data set name -> generator.
DATASETS: dict[str, Callable[..., Dataset]] = {
    "saas-mrr": saas_mrr,
    "smartphone-sales": smartphone_sales,
    "daily-revenue": daily_revenue,
}


#: Data set name -> the options of the ``--realistic`` preset (every calendar
#: and portfolio option on; seed 003's port has none).
REALISTIC: dict[str, dict[str, Any]] = {
    "saas-mrr": {"months": 36, "yearly_cycle": True, "heavy_tails": True, "late_starts": True},
    "smartphone-sales": {},
    "daily-revenue": {"holidays": "US", "billing_bump": True},
}


def dataset_options(
    name: str, options: Mapping[str, Any] | None = None, *, realistic: bool = False
) -> dict[str, Any]:
    """The keyword arguments for a generator: the preset, then the given options.

    Options that are ``None`` are left out (not given); an option the
    generator does not take is an error naming it.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    options : mapping, optional
        Option name (a keyword of the generator) -> value.
    realistic : bool, default False
        Start from :data:`REALISTIC`'s preset for the data set.

    Returns
    -------
    dict

    Raises
    ------
    ParameterError
        If the name is unknown or an option does not apply to the generator.

    Examples
    --------
    >>> dataset_options("daily-revenue", {"segments": True, "months": None}, realistic=True)
    {'holidays': 'US', 'billing_bump': True, 'segments': True}
    >>> dataset_options("saas-mrr", {"billing_bump": True})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    revwatch.errors.ParameterError: data set 'saas-mrr' has no option billing_bump (...); ...
    """
    generator = DATASETS.get(name)
    if generator is None:
        raise ParameterError(
            f"unknown data set {name!r}; choose one of: {', '.join(sorted(DATASETS))}"
        )
    accepted = [p for p in inspect.signature(generator).parameters if p != "seed"]
    out = dict(REALISTIC.get(name, {})) if realistic else {}
    for key, value in (options or {}).items():
        if value is None:
            continue
        if key not in accepted:
            flag = "--" + key.replace("_", "-")
            raise ParameterError(
                f"data set {name!r} has no option {key} ({flag}); its options: "
                + (", ".join(accepted) or "none")
            )
        out[key] = value
    return out


def generate(name: str, *, seed: int = 42, **kwargs: Any) -> Dataset:
    """Generate a data set by name.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    seed : int, default 42
        Random seed.
    **kwargs
        Further arguments of the generator (e.g. ``segments=True`` for
        ``daily-revenue``).

    Returns
    -------
    Dataset

    Raises
    ------
    ParameterError
        If the name is unknown or the generator rejects an argument.

    Examples
    --------
    >>> generate("saas-mrr").frame["account"].nunique()
    30
    >>> generate("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    revwatch.errors.ParameterError: unknown data set 'nope'; choose one of: daily-revenue, ...
    """
    generator = DATASETS.get(name)
    if generator is None:
        raise ParameterError(
            f"unknown data set {name!r}; choose one of: {', '.join(sorted(DATASETS))}"
        )
    try:
        return generator(seed=seed, **kwargs)
    except TypeError as exc:
        # An unknown keyword argument is the caller's mistake, not a bug.
        if "unexpected keyword argument" not in str(exc):
            raise
        raise ParameterError(f"data set {name!r}: {exc}") from exc
