"""Errors of the clearing engine.

Hierarchy::

    FlexledgerError
    └── MarketError                                         (market/errors.py)
        └── ClearingError
            └── ClearingInputError(ClearingError, ValueError)  malformed book or topology;
                                                               ``field`` names what is wrong

The engine raises nothing else on purpose: an order that merely cannot trade is not an error,
it gets an :class:`~market.clearing.model.Explanation`.
"""

from market.errors import MarketError


class ClearingError(MarketError):
    """Base class of every error the clearing engine raises."""


class ClearingInputError(ClearingError, ValueError):
    """An order, a fill or the topology is malformed; ``field`` names the offending field.

    ``order_id`` is set when one order is at fault (``None`` for topology errors).
    """

    def __init__(self, field: str, message: str, *, order_id: str | None = None) -> None:
        where = f"order {order_id!r}: " if order_id is not None else ""
        super().__init__(f"{where}{field}: {message}")
        self.field = field
        self.order_id = order_id
