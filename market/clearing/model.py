"""Plain data of the clearing engine: orders in; trades, prices and explanations out.

Scales are the on-chain ones of :mod:`oracle.types`: power in integer watts, prices in integer
euro cents per MWh, times in integer unix seconds (UTC), slots of 900 s. Positive power is
consumption; ``Direction.UP`` lowers consumption or raises generation.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from market.clearing.explain import render
from market.clearing.vocab import Reason
from oracle.eip712 import Order
from oracle.types import Direction, Side


@dataclass(frozen=True, slots=True, kw_only=True)
class ClearingOrder(Order):
    """An order as the engine sees it: the signed :class:`~oracle.eip712.Order` plus its id
    and where its asset stands.

    ``asset_node_id`` is the grid node the registry confirmed for a sell's asset (``None`` for
    a buy); the contract requires it to equal ``node_id``, and location is judged on it.
    ``asset_capacity_w`` is the asset's prequalified power in the order's direction (``None``:
    a buy, or not known): the engine never trades more than it per slot across all the
    asset's sells in that direction.
    """

    order_id: str
    asset_node_id: int | None = None
    asset_capacity_w: int | None = None

    @classmethod
    def of(
        cls,
        order_id: str,
        order: Order,
        asset_node_id: int | None = None,
        asset_capacity_w: int | None = None,
    ) -> "ClearingOrder":
        """The engine's view of a signed order (the one conversion from :class:`Order`)."""
        return cls(
            *order.field_values(),
            order_id=order_id,
            asset_node_id=asset_node_id,
            asset_capacity_w=asset_capacity_w,
        )


class SlotGroup(NamedTuple):
    """The key a book clears under; groups never trade with each other."""

    slot_start: int
    slot_count: int
    direction: Direction


class Trade(NamedTuple):
    """One match, in the shape ``FlexMarket.recordTrade`` takes (plus the order ids)."""

    buy_id: str
    sell_id: str
    power_w: int
    price_cents_per_mwh: int


class Explanation(NamedTuple):
    """What clearing did with one order, and why not more.

    ``filled_w`` is what this clearing filled; ``remaining_w`` is what is still open after it.
    ``limited_by`` is set for :attr:`Reason.PARTIALLY_FILLED` (why not more).
    ``reference_price_cents_per_mwh`` is the price the text compares against (the cheapest
    qualifying ask, the best qualifying bid or the node's clearing price), where one applies.
    """

    order_id: str
    side: Side
    node_id: int
    divisible: bool
    reason: Reason
    filled_w: int
    remaining_w: int
    limited_by: Reason | None = None
    reference_price_cents_per_mwh: int | None = None

    @property
    def text(self) -> str:
        """One sentence for the participant."""
        return render(self)


@dataclass(frozen=True, slots=True)
class ClearingResult:
    """Trades in clearing order (groups sorted by key, then match sequence) and every order's
    explanation, keyed by order id in ascending id order.

    ``explanations`` is a read-only mapping whose records are built when read (one lookup
    builds one; ``values()`` or ``items()`` builds all in one sweep). ``clearing_prices`` holds
    the uniform price per (slot group, buy node) under pay-as-clear; it is empty under
    pay-as-bid. ``groups`` lists every slot group that had a tradable order, sorted.
    """

    trades: tuple[Trade, ...]
    explanations: Mapping[str, Explanation]
    clearing_prices: Mapping[tuple[SlotGroup, int], int]
    groups: tuple[SlotGroup, ...]
