"""Errors of the baseline methods.

Hierarchy::

    FlexledgerError
    └── MarketError                                   (market/errors.py)
        └── BaselineError(MarketError, ValueError)    ``field`` names the bad input

A method that cannot produce a baseline (too little history, a missing slot, a misaligned
time) raises :class:`BaselineError`; it never guesses a value.
"""

from market.errors import MarketError


class BaselineError(MarketError, ValueError):
    """A baseline input is unusable; ``field`` names it and the message says what to do."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
