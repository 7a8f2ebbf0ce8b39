"""Errors of the FSP-side flexibility models.

Hierarchy::

    FlexledgerError                                         (flexledger/errors.py)
    └── FlexibilityError
        ├── FlexibilityInputError(FlexibilityError, ValueError)  a bad parameter; ``field``
        └── InfeasibleError(FlexibilityError)                     an activation or a sold bid
                                                                  the assets cannot meet

Both carry ``field``, the input at fault, and a message that says what to change.
"""

from flexledger.errors import FlexledgerError


class FlexibilityError(FlexledgerError):
    """Base class of every error the flexibility package raises on purpose."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class FlexibilityInputError(FlexibilityError, ValueError):
    """A parameter is out of range or inconsistent."""


class InfeasibleError(FlexibilityError):
    """The assets cannot do what was asked without breaking a constraint."""
