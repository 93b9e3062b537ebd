"""revwatch: which accounts, products or regions are behaving differently from their own normal."""

from revwatch.errors import (
    InputError,
    MissingDependencyError,
    ParameterError,
    RevwatchError,
)

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "MissingDependencyError",
    "ParameterError",
    "RevwatchError",
    "__version__",
]
