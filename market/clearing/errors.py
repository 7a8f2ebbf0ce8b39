"""Errors of the clearing engine.

Hierarchy::

    FlexledgerError
    └── ClearingError                                   (market.clearing)
        └── ClearingInputError(ClearingError, ValueError)  malformed book or topology;
                                                           ``field`` names what is wrong

The engine raises nothing else on purpose: an order that merely cannot trade is not an error,
it gets an :class:`~market.clearing.model.Explanation`.
"""

from flexledger.errors import FlexledgerError


class ClearingError(FlexledgerError):
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
