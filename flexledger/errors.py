"""The root of every flexledger domain error.

Hierarchy (each package adds its own branch and mixes in a builtin where one fits)::

    FlexledgerError
    ├── SettingsError(FlexledgerError, ValueError)
    ├── oracle.errors.OracleError
    │   ├── ...            (see oracle/errors.py)
    ├── market.errors.MarketError      (see market/errors.py)
    ├── grid.errors.GridError          (see grid/errors.py)
    └── flexibility.errors.FlexibilityError
"""


class FlexledgerError(Exception):
    """Base class of every error flexledger raises on purpose."""


class SettingsError(FlexledgerError, ValueError):
    """A setting is missing or invalid; the message names the environment variable."""
