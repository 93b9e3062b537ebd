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

Examples
--------
>>> sorted(DATASETS)
['daily-revenue', 'saas-mrr', 'smartphone-sales']
>>> generate("smartphone-sales", seed=7).frame.shape
(384, 6)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from revwatch.datasets._base import Dataset, write_dataset
from revwatch.datasets.daily_revenue import daily_revenue
from revwatch.datasets.saas_mrr import saas_mrr
from revwatch.datasets.smartphone import smartphone_sales
from revwatch.errors import ParameterError

logger = logging.getLogger(__name__)

__all__ = [
    "DATASETS",
    "Dataset",
    "daily_revenue",
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
