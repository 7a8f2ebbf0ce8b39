"""Why each order ended where it did: the reasons recorded while matching, and the final
:class:`Explanation` per order.

A buy's reason is noted when it walks (sells only shrink afterwards). A sell's reason is
worked out when its explanation is read, from its group's final state and the bids at or above
its node:

1. no bid at all: ``NO_QUALIFYING_OFFER``; every bid below the ask: ``PRICE_TOO_HIGH``;
2. a bid at or above the ask skipped it: ``ALL_OR_NOTHING_NOT_MET`` or ``BELOW_MIN_ACCEPTANCE``;
3. no bid left open: ``VOLUME_EXHAUSTED``; else the open bids are all below the ask:
   ``PRICE_TOO_HIGH``. (An open bid at or above the ask has always skipped it: a buy walks
   every open ask up to its bid, and pay-as-clear refuses a buy only when its bid is below an
   ask that an earlier buy at its node walked up to, past every cheaper open ask.)
"""

from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from dataclasses import dataclass
from functools import partial

from market.clearing.book import AON, CAP, MIN, Book, GroupKey
from market.clearing.gcpause import gc_paused
from market.clearing.model import Explanation, SlotGroup
from market.clearing.vocab import Reason

_explanation = partial(tuple.__new__, Explanation)  # NamedTuple rows without the keyword wrapper

_Bids = tuple[int, int, int, int]  # best bid, best open bid, blocked AON bid, blocked MIN bid


@dataclass(slots=True)
class Notes:
    """What matching noted, per order position: ``why`` a buy is left open and the ``why_ref``
    price that reason compares against; for sells, the ``skips`` kinds (``AON | MIN``) buys
    skipped them for, and per group the :class:`SellContext` their reasons are read from."""

    why: list[Reason | None]
    why_ref: list[int | None]
    skips: list[int]
    sell_context: dict[GroupKey, "SellContext"]

    @classmethod
    def for_book(cls, size: int) -> "Notes":
        return cls([None] * size, [None] * size, [0] * size, {})


def skip_reason(skipped: int) -> Reason:
    """The reason for a set of skip kinds; the asset's capacity outranks all-or-nothing,
    which outranks minimum acceptance."""
    if skipped & CAP:
        return Reason.ASSET_CAPACITY
    if skipped & AON:
        return Reason.ALL_OR_NOTHING_NOT_MET
    if skipped & MIN:
        return Reason.BELOW_MIN_ACCEPTANCE
    return Reason.VOLUME_EXHAUSTED


class SellContext:
    """A finished group, as needed to say why one of its sells is still open.

    ``buys`` are in priority order (highest bid first); ``above[node]`` lists the buy nodes at
    or above a sell node. ``blocked[node]`` is ``[AON bid, MIN bid]``: the highest bid at
    ``node`` that every fill would have failed on, so it never walked. The bids per node are
    tabulated on the first question and kept.
    """

    __slots__ = ("_above", "_blocked", "_book", "_bounds", "_buys", "_own")

    def __init__(
        self,
        book: Book,
        buys: list[int],
        above: Mapping[int, list[int]],
        blocked: Mapping[int, list[int]],
    ) -> None:
        self._book = book
        self._buys = buys
        self._above = above
        self._blocked = blocked
        self._own: dict[int, list[int]] | None = None
        self._bounds: dict[int, _Bids] = {}

    def reason(self, sell: int, skipped: int) -> tuple[Reason, int | None]:
        """Why open sell ``sell`` is open (see the module docstring), and a reference price."""
        at = self._book.node[sell]
        bids = self._bounds.get(at)
        if bids is None:
            if self._own is None:
                self._own = _bids_by_node(self._book, self._buys, self._blocked)
            own = self._own
            bids = self._bounds[at] = _highest([own[a] for a in self._above.get(at, ())])
        return _sell_reason(self._book.price[sell], bids, skipped)


def _bids_by_node(
    book: Book, buys: list[int], blocked: Mapping[int, list[int]]
) -> dict[int, list[int]]:
    """Per buy node: [best bid, best bid still open, blocked AON bid, blocked MIN bid]."""
    own: dict[int, list[int]] = {}
    for buy in buys:  # highest first, so the first bid per node is that node's best
        at = book.node[buy]
        bids = own.get(at)
        if bids is None:
            bids = own[at] = [book.price[buy], -1, *blocked.get(at, (-1, -1))]
        if bids[1] < 0 and book.remaining_w[buy]:
            bids[1] = book.price[buy]
    return own


def _highest(rows: list[list[int]]) -> _Bids:
    """Column-wise maximum of the nodes' bid rows (-1 where there are none)."""
    if not rows:
        return -1, -1, -1, -1
    if len(rows) == 1:
        best, best_open, aon, low = rows[0]
        return best, best_open, aon, low
    best, best_open, aon, low = map(max, *rows)
    return best, best_open, aon, low


def _sell_reason(ask: int, bids: _Bids, skipped: int) -> tuple[Reason, int | None]:
    best, best_open, aon_bid, min_bid = bids
    if best < 0:
        return Reason.NO_QUALIFYING_OFFER, None
    if best < ask:
        return Reason.PRICE_TOO_HIGH, best
    skipped |= (AON if aon_bid >= ask else 0) | (MIN if min_bid >= ask else 0)
    if skipped:
        return skip_reason(skipped), None
    if best_open < 0:
        return Reason.VOLUME_EXHAUSTED, None
    return Reason.PRICE_TOO_HIGH, best_open


class Explanations(Mapping[str, Explanation]):
    """Every order's :class:`Explanation`, keyed by order id, iterated in ascending id order.

    Built on access from what clearing recorded (the book's volumes and the :class:`Notes`), so
    clearing a large book pays nothing for records nobody reads; ``values()`` and ``items()``
    build them in one sweep. Equal books give equal mappings. Read-only.
    """

    __slots__ = ("_book", "_notes", "_positions", "_prices")

    def __init__(
        self, book: Book, notes: Notes, prices: Mapping[tuple[SlotGroup, int], int]
    ) -> None:
        self._book = book
        self._notes = notes
        self._prices = prices
        self._positions: dict[str, int] | None = None

    def __getitem__(self, order_id: str) -> Explanation:
        if self._positions is None:
            self._positions = dict(zip(self._book.ids, range(len(self._book.ids)), strict=True))
        return self._row(self._positions[order_id])

    def __iter__(self) -> Iterator[str]:
        return map(self._book.ids.__getitem__, self._book.by_id)

    def __len__(self) -> int:
        return len(self._book.ids)

    def __repr__(self) -> str:
        return f"<Explanations of {len(self)} orders>"

    def values(self) -> ValuesView[Explanation]:
        return _Values(self)

    def items(self) -> ItemsView[str, Explanation]:
        return _Items(self)

    def rows(self) -> Iterator[Explanation]:
        """Every explanation, in ascending id order; all are built when iteration starts."""
        with gc_paused():
            return iter(list(map(self._row, self._book.by_id)))

    def _row(self, position: int) -> Explanation:
        book = self._book
        left = book.remaining_w[position]
        filled = book.open_w[position] - left
        limited = ref = None
        reason = book.excluded.get(position)
        if reason is None:
            if left == 0:
                reason = Reason.FILLED
            else:
                reason, ref = self._open_reason(position)
                if filled:
                    reason, limited = Reason.PARTIALLY_FILLED, reason
        c = book.columns
        return _explanation((
            c.ids[position], c.side[position], c.node[position], c.divisible[position],
            reason, filled, left, limited, ref,
        ))  # fmt: skip

    def _open_reason(self, position: int) -> tuple[Reason, int | None]:
        """Why an order that took part is left (partly) open, and a reference price."""
        notes, c = self._notes, self._book.columns
        key = (c.slot_start[position], c.slot_count[position], c.direction[position])
        why = notes.why[position]
        if why is None:  # a sell: worked out now
            return notes.sell_context[key].reason(position, notes.skips[position])
        if why is Reason.BELOW_CLEARING_PRICE:
            return why, self._prices[(SlotGroup(*key), c.node[position])]
        return why, notes.why_ref[position]


class _Values(ValuesView[Explanation]):
    _mapping: Explanations

    def __iter__(self) -> Iterator[Explanation]:
        return self._mapping.rows()


class _Items(ItemsView[str, Explanation]):
    _mapping: Explanations

    def __iter__(self) -> Iterator[tuple[str, Explanation]]:
        return zip(self._mapping, self._mapping.rows(), strict=True)
