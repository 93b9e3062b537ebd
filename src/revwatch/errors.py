"""The exceptions revwatch raises.

Every error a user can cause (a bad file, a bad column, a bad option) is a
:class:`RevwatchError`. Its message is one line that names the file, row or
column at fault and says what to do. The command line maps these errors to
exit code 2 and prints only the message; anything else is a bug.

Hierarchy::

    RevwatchError                 user-facing, exit code 2
    ├── InputError                a data file or query the loader cannot trust
    │   ├── MissingColumnError    a named or required column is absent
    │   └── DuplicateRowsError    two rows for the same series and period
    ├── ParameterError            an invalid option or parameter value
    ├── ConfigError               a bad revwatch.toml key or value (names file, line, key)
    ├── StoreError                an incident store that is unreachable or too new
    ├── DeliveryError             an alert endpoint that refused or kept failing
    └── MissingDependencyError    an optional extra is not installed
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

__all__ = [
    "ConfigError",
    "DeliveryError",
    "DuplicateRowsError",
    "InputError",
    "MissingColumnError",
    "MissingDependencyError",
    "ParameterError",
    "RevwatchError",
    "StoreError",
]


class RevwatchError(Exception):
    """Base class of every error caused by the user's input or options."""

    exit_code = 2


class InputError(RevwatchError):
    """A data source cannot be read or trusted."""


class MissingColumnError(InputError):
    """A column the caller named, or one that is required, is absent."""


class DuplicateRowsError(InputError):
    """More than one row for the same series and period."""


class ParameterError(RevwatchError, ValueError):
    """An option or parameter has an invalid value."""


class ConfigError(RevwatchError):
    """A monitoring config file has a bad key or value (the message names file, line and key)."""


class StoreError(RevwatchError):
    """The incident store cannot be reached, or its schema is newer than this revwatch."""


class DeliveryError(RevwatchError):
    """An alert endpoint refused a message or kept failing after retries."""


class MissingDependencyError(RevwatchError, ImportError):
    """An optional dependency is needed but not installed.

    Parameters
    ----------
    package : str
        The module that failed to import.
    extra : str
        The revwatch extra that installs it.
    """

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{package} is not installed; install it with: pip install 'revwatch[{extra}]'"
        )
