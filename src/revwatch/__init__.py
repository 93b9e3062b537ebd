"""revwatch: which accounts, products or regions are behaving differently from their own normal.

>>> import pandas as pd
>>> import revwatch
>>> frame = pd.DataFrame({
...     "account": ["A"] * 12,
...     "month": pd.date_range("2025-01-01", periods=12, freq="MS"),
...     "mrr": [100.0, 101, 99, 100, 102, 100, 99, 101, 100, 300, 100, 101],
... })
>>> revwatch.detect(frame, id="account", time="month", value="mrr")["type"].tolist()
['spike']
"""

from revwatch.data import Panel, from_frame, load
from revwatch.datasets import generate
from revwatch.errors import (
    InputError,
    MissingDependencyError,
    ParameterError,
    RevwatchError,
)
from revwatch.pipeline import Detection, analyze, detect

__version__ = "0.1.0"

__all__ = [
    "Detection",
    "InputError",
    "MissingDependencyError",
    "Panel",
    "ParameterError",
    "RevwatchError",
    "__version__",
    "analyze",
    "detect",
    "from_frame",
    "generate",
    "load",
]
