"""The generator options shared by ``revwatch generate`` and ``revwatch compare``.

Kept apart from :mod:`revwatch.cli` so that both command modules can import
them without a cycle. Every option is off by default; one that does not
apply to the chosen generator is an error (exit 2) that names it.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from revwatch.datasets import dataset_options
from revwatch.errors import ParameterError

__all__ = [
    "BillingBumpOption",
    "CountryOption",
    "HeavyTailsOption",
    "HolidaysOption",
    "LateStartsOption",
    "MonthsOption",
    "RealisticOption",
    "SegmentsOption",
    "YearlyCycleOption",
    "generator_options",
]

SegmentsOption = Annotated[
    bool,
    typer.Option("--segments", help="daily-revenue: 12 lines (payment method x country)."),
]
HolidaysOption = Annotated[
    bool,
    typer.Option(
        "--holidays", help="daily-revenue: public holidays and the days next to them (US)."
    ),
]
CountryOption = Annotated[
    str | None,
    typer.Option("--country", help="daily-revenue: the holidays' country (implies --holidays)."),
]
BillingBumpOption = Annotated[
    bool,
    typer.Option("--billing-bump", help="daily-revenue: 1st-of-month billing bump on some lines."),
]
MonthsOption = Annotated[
    int | None,
    typer.Option("--months", help="saas-mrr: months of history (>= 24, ending 2026-06)."),
]
YearlyCycleOption = Annotated[
    bool, typer.Option("--yearly-cycle", help="saas-mrr: 12 accounts with a yearly cycle.")
]
HeavyTailsOption = Annotated[
    bool, typer.Option("--heavy-tails", help="saas-mrr: 15 accounts with Student-t noise.")
]
LateStartsOption = Annotated[
    bool, typer.Option("--late-starts", help="saas-mrr: 6 accounts that start late.")
]
RealisticOption = Annotated[
    bool,
    typer.Option(
        "--realistic",
        help="Every calendar/portfolio option of the data set on (see docs/methods.md).",
    ),
]


def generator_options(
    name: str,
    *,
    segments: bool = False,
    holidays: bool = False,
    country: str | None = None,
    billing_bump: bool = False,
    months: int | None = None,
    yearly_cycle: bool = False,
    heavy_tails: bool = False,
    late_starts: bool = False,
    realistic: bool = False,
) -> dict[str, Any]:
    """The generator's keyword arguments from the command-line flags.

    A flag left off is not passed at all, so the generator's defaults hold.

    Examples
    --------
    >>> generator_options("daily-revenue", country="de", billing_bump=True)
    {'holidays': 'de', 'billing_bump': True}
    >>> generator_options("saas-mrr", realistic=True)["months"]
    36
    """
    holiday_value: bool | str | None = country if country else (True if holidays else None)
    given: dict[str, Any] = {
        "segments": segments or None,
        "holidays": holiday_value,
        "billing_bump": billing_bump or None,
        "months": months,
        "yearly_cycle": yearly_cycle or None,
        "heavy_tails": heavy_tails or None,
        "late_starts": late_starts or None,
    }
    try:
        return dataset_options(name, given, realistic=realistic)
    except ParameterError as exc:
        if country and "no option holidays" in str(exc):  # the user gave --country
            text = str(exc).replace("no option holidays (--holidays)", "no holidays (--country)")
            raise ParameterError(text) from None
        raise
