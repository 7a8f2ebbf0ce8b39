"""The root of every flexledger domain error.

Hierarchy (each package adds its own branch and mixes in a builtin where one fits)::

    FlexledgerError
    ├── SettingsError(FlexledgerError, ValueError)
    ├── oracle.errors.OracleError
    │   ├── ...            (see oracle/errors.py)
    └── market.errors.MarketError (later)
"""


class FlexledgerError(Exception):
    """Base class of every error flexledger raises on purpose."""


class SettingsError(FlexledgerError, ValueError):
    """A setting is missing or invalid; the message names the environment variable."""
