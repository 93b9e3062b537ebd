"""Units of a metric and the one function that formats amounts in them.

A metric is ``money`` (with an ISO currency code), a ``count`` (transactions,
orders), a ``ratio`` (a value within [0, 1]: success rate, churn) or a
``percent`` (0 to 100). The unit comes from the config (``unit =
"money:EUR"``), from ``--unit``, or is inferred from the column
(:func:`infer_unit`). Amounts, axes, impact lines, alert texts and totals
follow it (:func:`format_amount`); totals and "at stake" sums are only formed
for additive units (money, counts) and never across units
(:func:`totals_by_unit`).

Examples
--------
>>> format_amount(-300_000, Unit.parse("money:USD"), compact=True)
'−$300k'
>>> format_amount(1152, Unit.parse("count"))
'1,152'
>>> format_amount(0.953, Unit.parse("ratio"))
'95.3 %'
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from revwatch.errors import ParameterError

__all__ = [
    "UNIT_KINDS",
    "Unit",
    "format_amount",
    "infer_unit",
    "money_name",
    "totals_by_unit",
]

#: The kinds of unit, in the order of the docs.
UNIT_KINDS: tuple[str, ...] = ("money", "count", "ratio", "percent")
_ADDITIVE = frozenset({"money", "count"})
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "¥"}
_MINUS = "\u2212"
_COUNT_NAME = re.compile(
    r"(count|^n_|_n$|number|transactions?|orders?|units|quantity|qty|visits|sessions|users|"
    r"signups|customers|accounts|subscribers|tickets|events|clicks)",
    re.IGNORECASE,
)
_RATE_NAME = re.compile(r"(rate|ratio|share|conversion|churn|fraction|prob)", re.IGNORECASE)
_PERCENT_NAME = re.compile(r"(percent|pct)", re.IGNORECASE)
#: Words in a column name that say it holds money (whole words) ...
_MONEY_WORDS = frozenset(
    [
        "mrr",
        "arr",
        "gmv",
        "usd",
        "eur",
        "gbp",
        "jpy",
        "chf",
        "cad",
        "aud",
        "inr",
        "cny",
        "cost",
        "costs",
        "fee",
        "fees",
        "bill",
        "bills",
        "price",
        "prices",
        "spend",
        "margin",
        "profit",
        "income",
        "dollars",
        "euros",
    ]
)
#: ... and stems anywhere in it.
_MONEY_STEMS = ("revenue", "sales", "amount", "payment", "invoice", "billing", "turnover")


@dataclass(frozen=True)
class Unit:
    """A metric's unit.

    Parameters
    ----------
    kind : {"money", "count", "ratio", "percent"}
    currency : str, optional
        ISO code of a money unit (``USD``); None for the others.
    symbol : str, optional
        Overrides the currency symbol (``"CHF "``); by default from the code.
    """

    kind: str = "money"
    currency: str | None = "USD"
    symbol: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in UNIT_KINDS:
            raise ParameterError(
                f"unit {self.kind!r} is not one of {', '.join(UNIT_KINDS)} "
                "(money takes a currency code: money:EUR)"
            )

    @classmethod
    def parse(cls, text: str | None, *, default_currency: str = "USD") -> Unit:
        """``money``, ``money:EUR``, ``count``, ``ratio`` or ``percent`` (None: money).

        Examples
        --------
        >>> Unit.parse("money:eur"), Unit.parse("count").text
        (Unit(kind='money', currency='EUR', symbol=None), 'count')
        """
        if not text:
            return cls("money", default_currency)
        kind, _, code = str(text).strip().partition(":")
        kind = kind.strip().lower()
        if kind != "money":
            if code:
                raise ParameterError(f"unit {text!r}: only money takes a currency code")
            return cls(kind, None)
        code = code.strip().upper() or default_currency
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise ParameterError(f"unit {text!r}: the currency is a 3-letter ISO code (money:EUR)")
        return cls("money", code)

    @property
    def text(self) -> str:
        """The unit as stored and written in the config: ``money:USD``, ``count`` ..."""
        return f"money:{self.currency}" if self.kind == "money" else self.kind

    @property
    def additive(self) -> bool:
        """Whether amounts in this unit can be summed (money, counts; not ratios)."""
        return self.kind in _ADDITIVE

    @property
    def prefix(self) -> str:
        """What a money amount is written after (``$``, ``€``, ``CHF ``)."""
        if self.kind != "money":
            return ""
        if self.symbol is not None:
            return self.symbol
        code = self.currency or "USD"
        return _SYMBOLS.get(code, code + " ")


def _compact(size: float) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            scaled = size / limit
            digits = 2 if scaled < 10 else (1 if scaled < 100 else 0)
            text = f"{scaled:.{digits}f}"
            if "." in text:  # trailing zeros of the decimals only: 300 stays 300
                text = text.rstrip("0").rstrip(".")
            return text + suffix
    return f"{size:,.0f}"


def format_amount(
    value: float | None,
    unit: Unit | str | None = None,
    *,
    compact: bool = False,
    signed: bool = False,
) -> str:
    """Format an amount in its unit: the one formatting function of revwatch.

    Parameters
    ----------
    value : float or None
        None or NaN gives ``"–"``.
    unit : Unit or str, optional
        Default money in USD; a string is parsed with :meth:`Unit.parse`.
    compact : bool, default False
        Thousands as ``k``, millions as ``M`` (axes, tight tables).
    signed : bool, default False
        A ``+`` before positive values (changes, impacts).

    Examples
    --------
    >>> usd = Unit.parse("money:USD")
    >>> [format_amount(v, usd) for v in (0, 1, 999, 1_000, 300_000, 1_500_000, -42.4)]
    ['$0', '$1', '$999', '$1,000', '$300,000', '$1,500,000', '−$42']
    >>> [format_amount(v, usd, compact=True) for v in (0, 999, 1_000, 300_000, 1_500_000)]
    ['$0', '$999', '$1k', '$300k', '$1.5M']
    >>> format_amount(-1_234_567, "count", compact=True), format_amount(12, "count", signed=True)
    ('−1.23M', '+12')
    >>> format_amount(-0.0312, "ratio", signed=True), format_amount(97.25, "percent")
    ('−3.1 %', '97.2 %')
    """
    if value is None or not math.isfinite(float(value)):
        return "–"
    u = unit if isinstance(unit, Unit) else Unit.parse(unit)
    number = float(value)
    if u.kind == "ratio":
        number *= 100.0
    sign = _MINUS if number < 0 else ("+" if signed and number > 0 else "")
    size = abs(number)
    if u.kind in ("ratio", "percent"):
        return f"{sign}{size:.1f} %"
    text = _compact(size) if compact else f"{size:,.0f}"
    if text in ("0", "0k"):
        sign = ""
    return f"{sign}{u.prefix}{text}"


def money_name(name: str) -> bool:
    """Whether a column's name says it holds money (``revenue``, ``mrr``, ``amount`` ...).

    Examples
    --------
    >>> money_name("monthly_revenue"), money_name("value"), money_name("y")
    (True, False, False)
    """
    lowered = name.lower()
    words = set(re.split(r"[^a-z]+", lowered))
    return bool(words & _MONEY_WORDS) or any(stem in lowered for stem in _MONEY_STEMS)


def infer_unit(name: str, values: Any, *, currency: str = "USD") -> Unit:
    """The unit a column most likely has, from its name and values.

    * a column of whole numbers named like a count (``transactions``,
      ``orders``, ``*_count``) is a ``count``;
    * values within [0, 1] named like a rate (``success_rate``, ``churn``)
      are a ``ratio``; within [0, 100] named ``*percent*`` / ``*pct*`` a
      ``percent``;
    * anything else is ``money`` in ``currency``.

    Examples
    --------
    >>> infer_unit("transaction_count", [3, 5, 8]).kind
    'count'
    >>> infer_unit("payment_success_rate", [0.97, 0.95]).kind
    'ratio'
    >>> infer_unit("orders", [3.5, 5.0]).kind, infer_unit("revenue", [3, 5]).kind
    ('money', 'money')
    """
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return Unit("money", currency)
    whole = bool(np.all(arr == np.round(arr)))
    if whole and _COUNT_NAME.search(name):
        return Unit("count", None)
    low, high = float(arr.min()), float(arr.max())
    if _RATE_NAME.search(name) and low >= 0.0 and high <= 1.0:
        return Unit("ratio", None)
    if _PERCENT_NAME.search(name) and low >= 0.0 and high <= 100.0:
        return Unit("percent", None)
    return Unit("money", currency)


def totals_by_unit(rows: Iterable[dict[str, Any]], field: str = "impact") -> dict[str, float]:
    """Signed sums of ``field`` per additive unit (``unit`` text of each row; none: money:USD).

    Ratios and percents are left out: their sums mean nothing.

    Examples
    --------
    >>> totals_by_unit([{"impact": -5.0, "unit": "money:USD"}, {"impact": 2.0, "unit": "count"},
    ...                 {"impact": 3.0}, {"impact": 0.1, "unit": "ratio"}])
    {'money:USD': -2.0, 'count': 2.0}
    """
    out: dict[str, float] = {}
    for row in rows:
        unit = Unit.parse(row.get("unit"))
        if not unit.additive:
            continue
        value = row.get(field)
        if value is None or not math.isfinite(float(value)):
            continue
        out[unit.text] = out.get(unit.text, 0.0) + float(value)
    return out
