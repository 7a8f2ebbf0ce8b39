"""Loading a book: validation, per-order columns and the slot groups.

Every check mirrors one the contract makes at trade time (``FlexMarket._checkShape``,
``_checkFill``, ``_checkSellAsset``) so that no trade the engine emits can revert on them.
The orders are read once into columns and checked column by column with builtins (the common
case, all valid, costs a few C-level passes); only when a column fails are the orders checked
one by one against :data:`_CHECKS`, to name the order and the field in the error.
"""

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, islice, repeat
from operator import eq, ge, is_, le, not_, or_
from typing import Any

from market.clearing.capacity import CappedSell, contested_sells
from market.clearing.errors import ClearingInputError
from market.clearing.model import ClearingOrder
from market.clearing.topology import MAX_NODE_ID, GridTopology
from market.clearing.vocab import Reason
from oracle.types import SLOT_SECONDS, Direction, Side

U16 = 2**16 - 1
U32 = 2**32 - 1
U64 = 2**64 - 1

GroupKey = tuple[int, int, int]  # slot_start, slot_count, direction

AON = 1  # skip kind: an all-or-nothing order could not be filled whole in this trade
MIN = 2  # skip kind: a fill would undercut a divisible order's min_power_w
CAP = 4  # skip kind: the sell's asset has no capacity left for the fill in one of its slots


@dataclass(frozen=True, slots=True)
class Columns:
    """The orders' fields, one list per field, indexed like the orders."""

    ids: Sequence[str]
    side: Sequence[Side]
    direction: Sequence[Direction]
    node: Sequence[int]
    asset_node: Sequence[int | None]
    slot_start: Sequence[int]
    slot_count: Sequence[int]
    power: Sequence[int]
    min_w: Sequence[int]
    divisible: Sequence[bool]
    price: Sequence[int]
    expiry: Sequence[int]


@dataclass(slots=True)
class Book:
    """A validated book, indexed like the orders it was loaded from.

    ``columns.node`` is where an order stands in the grid (for a sell, its asset's node: the
    two are equal once loaded). ``kind`` is the skip kind an order's own minimum raises:
    ``AON`` if indivisible, else ``MIN``. ``open_w`` is what was open before clearing;
    ``remaining_w`` starts equal and is consumed by matching. ``by_id`` lists positions in
    ascending ``order_id`` order; ``groups`` holds the tradable positions (buys, sells), each in
    ascending ``order_id`` order; ``excluded`` the expired and already-filled ones.
    ``capped`` holds the sells of contested assets (:mod:`market.clearing.capacity`).
    """

    columns: Columns
    ids: Sequence[str]
    price: Sequence[int]
    node: Sequence[int]
    min_w: Sequence[int]
    kind: list[int]
    open_w: list[int]
    remaining_w: list[int]
    by_id: list[int]
    groups: dict[GroupKey, tuple[list[int], list[int]]]
    excluded: dict[int, Reason]
    capped: dict[int, CappedSell]


def load_book(
    orders: Sequence[ClearingOrder],
    topology: GridTopology,
    *,
    now_s: int,
    filled_w: Mapping[str, int],
) -> Book:
    """Validates ``orders`` and ``filled_w`` and lays them out for matching."""
    columns = _columns(orders)
    if not _columns_valid(columns, topology):
        _raise_for_first_invalid(orders, topology)
    ids = columns.ids
    by_id = sorted(range(len(ids)), key=ids.__getitem__)
    sorted_ids = list(map(ids.__getitem__, by_id))
    if any(map(eq, sorted_ids, islice(sorted_ids, 1, None))):
        _raise_duplicate(ids)
    open_w = _open_power(orders, columns.power, by_id, sorted_ids, filled_w)
    excluded = _excluded(columns, open_w, now_s)
    return Book(
        columns=columns,
        ids=ids,
        price=columns.price,
        node=columns.node,
        min_w=columns.min_w,
        kind=list(map((AON, MIN).__getitem__, columns.divisible)),
        open_w=open_w,
        remaining_w=list(open_w),
        by_id=by_id,
        groups=_group(columns, by_id, excluded),
        excluded=excluded,
        capped=contested_sells(orders, open_w),
    )


def _columns(orders: Sequence[ClearingOrder]) -> Columns:
    """One pass per field (a comprehension per field beats a row getter and a transpose)."""
    return Columns(
        ids=[o.order_id for o in orders],
        side=[o.side for o in orders],
        direction=[o.direction for o in orders],
        node=[o.node_id for o in orders],
        asset_node=[o.asset_node_id for o in orders],
        slot_start=[o.slot_start for o in orders],
        slot_count=[o.slot_count for o in orders],
        power=[o.power_w for o in orders],
        min_w=[o.min_power_w for o in orders],
        divisible=[o.divisible for o in orders],
        price=[o.price_cents_per_mwh for o in orders],
        expiry=[o.expiry for o in orders],
    )


def _columns_valid(c: Columns, topology: GridTopology) -> bool:
    """Every check of :data:`_CHECKS`, column by column; ``False`` if any order fails one."""
    if not c.ids:
        return True
    try:
        return (
            _all_type(c.ids, str)
            and all(c.ids)
            and _all_type(c.side, Side)
            and _all_type(c.direction, Direction)
            and _all_ints(c.node, 1, MAX_NODE_ID)
            and _all_ints(c.slot_start, 0, U64)
            and not any(start % SLOT_SECONDS for start in set(c.slot_start))
            and _all_ints(c.slot_count, 1, U16)
            and _all_ints(c.power, 1, U32)
            and _all_ints(c.min_w, 0, U32)
            and all(map(le, c.min_w, c.power))
            and _all_type(c.divisible, bool)
            and all(map(or_, c.divisible, map(eq, c.min_w, c.power)))
            and _all_ints(c.price, 0, U32)
            and _all_ints(c.expiry, 0, U64)
            and set(c.node).issubset(topology.ancestor_map)
            and all(map(is_, compress(c.asset_node, map(not_, c.side)), repeat(None)))
            and all(map(eq, compress(c.asset_node, c.side), compress(c.node, c.side)))
        )
    except TypeError:  # e.g. comparing a str with an int; the row checks name it
        return False


def _all_type(column: Sequence[Any], kind: type) -> bool:
    return set(map(type, column)) == {kind}


def _all_ints(column: Sequence[int], low: int, high: int) -> bool:
    """All ints (bools and int enums pass: they are ints on chain too) within [low, high].

    The sum of ints is an int; one float, Decimal or Fraction makes it something else.
    """
    return type(sum(column)) is int and low <= min(column) and max(column) <= high


def _asset_node_ok(side: Side, node: int, asset_node: int | None) -> bool:
    return asset_node == node if side is Side.SELL else asset_node is None


def _int_check(field: str, low: int, high: int) -> "_Check":
    def check(order: ClearingOrder) -> bool:
        value = getattr(order, field)
        return isinstance(value, int) and low <= value <= high

    return field, check, f"must be an int in {low}..{high}"


_Check = tuple[str, Callable[[ClearingOrder], bool], str]

_CHECKS: tuple[_Check, ...] = (
    ("order_id", lambda o: type(o.order_id) is str and o.order_id != "", "must be a non-empty str"),
    ("side", lambda o: type(o.side) is Side, "must be a Side"),
    ("direction", lambda o: type(o.direction) is Direction, "must be a Direction"),
    _int_check("node_id", 1, MAX_NODE_ID),
    _int_check("slot_start", 0, U64),
    ("slot_start", lambda o: o.slot_start % SLOT_SECONDS == 0, f"not a multiple of {SLOT_SECONDS}"),
    _int_check("slot_count", 1, U16),
    _int_check("power_w", 1, U32),
    _int_check("min_power_w", 0, U32),
    ("min_power_w", lambda o: o.min_power_w <= o.power_w, "greater than power_w"),
    ("divisible", lambda o: type(o.divisible) is bool, "must be a bool"),
    (
        "min_power_w",
        lambda o: o.divisible or o.min_power_w == o.power_w,
        "all-or-nothing: must equal power_w",
    ),
    _int_check("price_cents_per_mwh", 0, U32),
    _int_check("expiry", 0, U64),
)


def _raise_for_first_invalid(orders: Sequence[ClearingOrder], topology: GridTopology) -> None:
    """Raises for the first order, and its first field, that fails a check."""
    for order in orders:
        order_id = order.order_id if type(order.order_id) is str else None
        for field, check, message in _CHECKS:
            if not check(order):
                raise ClearingInputError(field, message, order_id=order_id)
        if order.node_id not in topology:
            message = f"unknown grid node {order.node_id}"
            raise ClearingInputError("node_id", message, order_id=order_id)
        if not _asset_node_ok(order.side, order.node_id, order.asset_node_id):
            message = (
                "must be None for a buy (a buy has no asset)"
                if order.side is Side.BUY
                else f"the asset is at node {order.asset_node_id}, the order names {order.node_id}"
            )
            raise ClearingInputError("asset_node_id", message, order_id=order_id)


def _raise_duplicate(ids: Sequence[str]) -> None:
    seen: set[str] = set()
    for order_id in ids:
        if order_id in seen:
            raise ClearingInputError("order_id", "duplicate order id", order_id=order_id)
        seen.add(order_id)


def _open_power(
    orders: Sequence[ClearingOrder],
    power: Sequence[int],
    by_id: list[int],
    sorted_ids: list[str],
    filled_w: Mapping[str, int],
) -> list[int]:
    """Power still open per order; the contract's fill rules for what was filled before.

    Orders are found by bisection in ``sorted_ids`` (positions ``by_id``): no id index needed.
    """
    open_w = list(power)
    for order_id, filled in filled_w.items():
        field = f"filled_w[{order_id!r}]"
        at = bisect_left(sorted_ids, order_id)
        if at == len(sorted_ids) or sorted_ids[at] != order_id:
            raise ClearingInputError(field, "no such order in the book")
        position = by_id[at]
        order = orders[position]
        if type(filled) is not int or not 0 <= filled <= order.power_w:
            raise ClearingInputError(field, f"must be an int in 0..{order.power_w}")
        if not order.divisible and filled not in (0, order.power_w):
            raise ClearingInputError(field, "an all-or-nothing order is filled wholly or not")
        open_w[position] -= filled
    return open_w


def _excluded(columns: Columns, open_w: list[int], now_s: int) -> dict[int, Reason]:
    """Orders that cannot trade: filled in full before, or expired (``expiry <= now_s``)."""
    positions = range(len(open_w))
    expired = compress(positions, map(ge, repeat(now_s), columns.expiry))
    excluded = dict.fromkeys(expired, Reason.EXPIRED)
    excluded.update(dict.fromkeys(compress(positions, map(not_, open_w)), Reason.ALREADY_FILLED))
    return excluded


def _group(
    columns: Columns, by_id: list[int], excluded: dict[int, Reason]
) -> dict[GroupKey, tuple[list[int], list[int]]]:
    """Tradable positions per group key, then split into buys and sells (order kept)."""
    active = [p for p in by_id if p not in excluded] if excluded else by_id
    keys = zip(columns.slot_start, columns.slot_count, columns.direction, strict=True)
    key_of = list(keys).__getitem__
    members: defaultdict[GroupKey, list[int]] = defaultdict(list)
    for position, key in zip(active, map(key_of, active), strict=True):
        members[key].append(position)
    is_sell = columns.side.__getitem__
    return {
        key: (
            list(compress(positions, map(not_, map(is_sell, positions)))),
            list(compress(positions, map(is_sell, positions))),
        )
        for key, positions in members.items()
    }
