"""The root of the market platform's errors.

Hierarchy (each subpackage adds its branch)::

    FlexledgerError
    └── MarketError
        ├── market.auth.AuthError          sign-in and sessions (401)
        └── market.clearing.ClearingError  clearing input and rules
"""

from flexledger.errors import FlexledgerError


class MarketError(FlexledgerError):
    """Base class of every error the market platform raises on purpose."""
