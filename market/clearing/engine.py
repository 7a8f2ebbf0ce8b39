"""The clearing engine: grid-aware matching per slot group, pure and deterministic.

**Groups.** Orders clear per ``(slot_start, slot_count, direction)``: the contract only records
trades whose buy and sell share all three, so groups are independent.

**Priority (tie-breaks).** Within a group, buys go in order of price, highest first, then
``order_id`` ascending (string order); each buy walks the sells that qualify for it in order of
price, lowest first, then ``order_id`` ascending. So between equal prices the smaller id wins,
on both sides, whatever the input order. The engine is a priority greedy, not a welfare
optimiser: a buy takes what it can before the next buy looks.

**A pair qualifies** when the sell's asset node is at or below the buy's node and the sell's
price is at most the buy's. Each node's ancestors are computed once (:class:`GridTopology`) and
every sell is filed once under each ancestor that has buys in the group, so a buy reads the
ladder of sells under its own node, already in price order, with no tree walk per pair.

**Volume.** A fill ``q`` is the smaller of the two open volumes. It is skipped (the buy moves on
to the next sell) when for either order ``q < min_power_w`` and ``q`` is not that order's whole
remainder: the contract's ``FillBelowMinimum``. An all-or-nothing order has
``min_power_w == power_w`` (checked on load), so the same test keeps it to one trade of its
whole power: two sells never fill an all-or-nothing buy between them.

**Pricing.** ``PAY_AS_BID``: every trade is priced at the sell's ask: each accepted offer is
paid what it bid, as in NODES and Piclo Flex, and never more than the buyer's limit.
``PAY_AS_CLEAR``: every trade of buys at the same node in the same group has one price, ``P``:
the highest ask among those trades (the marginal accepted sell). To keep ``P`` inside every
pair's range, pay-as-clear adds one acceptance rule: a buy at node ``n`` takes part only if
its price is at least the highest ask accepted at ``n`` so far (else it is explained as
``BELOW_CLEARING_PRICE``). Without all-or-nothing or
minimum-acceptance skips the rule removes no trade: an earlier buy at the same node took the
ladder from its cheap end, so a later, lower buy only meets asks at least as high.

*Claim.* For every trade ``(b, s)`` with ``b`` at node ``n``: ``s.price <= P <= b.price``.

*Proof.* ``s.price <= P`` since ``P`` is the maximum over these asks. Let ``s*`` (bought by
``b*``) be the ask that sets ``P``. If ``b* = b``, then ``P = s*.price <= b.price`` because every
trade has its ask at or below its bid. If ``b*`` went before ``b``, then when ``b`` started the
highest accepted ask at ``n`` was already ``>= P``, and ``b`` passed the acceptance rule, so
``b.price >= P``. If ``b*`` went after ``b``, then ``b*.price <= b.price`` (buys go in falling
price order) and ``P = s*.price <= b*.price``. In all cases ``P <= b.price``. ∎

**Limits.** One pass, no backtracking: a pair one of whose fills was skipped is not looked at
again, even when a later fill shrinks the sell so that the pair would fit (a 3 kW buy skipped a
10 kW sell with a 5 kW minimum; after another buy takes 8 kW, 2 kW would fit). Such volume stays
open and is explained; the next clearing (with ``filled_w``) can take it.

**Cost.** Loading is a few passes per field; each group costs one sort per side, one append
per sell and buy node above it, and one step per (buy, sell) pair a buy walks past. A walk
drops the exhausted sells it meets from its ladder, and a buy too large for every offer under
its node is settled without a walk. The cyclic garbage collector is paused while clearing
(:func:`~market.clearing.gcpause.gc_paused`).
"""

from collections.abc import Mapping, Sequence
from functools import partial

from market.clearing.book import AON, CAP, Book, GroupKey, load_book
from market.clearing.errors import ClearingInputError
from market.clearing.gcpause import gc_paused
from market.clearing.model import ClearingOrder, ClearingResult, SlotGroup, Trade
from market.clearing.outcome import Explanations, Notes, SellContext, skip_reason
from market.clearing.topology import GridTopology
from market.clearing.vocab import PricingRule, Reason
from oracle.types import Direction

_trade = partial(tuple.__new__, Trade)  # NamedTuple rows without the keyword-handling wrapper


def clear(
    orders: Sequence[ClearingOrder],
    topology: GridTopology,
    pricing: PricingRule,
    *,
    now_s: int,
    filled_w: Mapping[str, int] | None = None,
) -> ClearingResult:
    """Clears a book; see the module docstring for the rules.

    ``now_s`` is the clearing time: orders with ``expiry <= now_s`` are left out (the contract
    would reject them). ``filled_w`` maps order ids to power already filled on chain.
    Raises :class:`ClearingInputError` for a malformed book; never for an order that cannot
    trade, which gets an :class:`Explanation` instead.
    """
    uniform = _pricing(pricing) is PricingRule.PAY_AS_CLEAR
    with gc_paused():
        book = load_book(orders, topology, now_s=now_s, filled_w=filled_w or {})
        matcher = _Matcher(book, topology.ancestor_map, uniform)
        trades: list[Trade] = []
        prices: dict[tuple[SlotGroup, int], int] = {}
        groups = tuple(SlotGroup(k[0], k[1], Direction(k[2])) for k in sorted(book.groups))
        for group in groups:
            caps = matcher.clear_group(group, trades)
            if uniform:
                prices.update({(group, node): price for node, price in caps.items()})
        return ClearingResult(
            trades=tuple(trades),
            explanations=Explanations(book, matcher.notes, prices),
            clearing_prices=prices,
            groups=groups,
        )


def _pricing(pricing: PricingRule) -> PricingRule:
    try:
        return PricingRule(pricing)
    except ValueError:
        choices = ", ".join(rule.value for rule in PricingRule)
        raise ClearingInputError("pricing", f"{pricing!r} is not one of {choices}") from None


class _Matcher:
    """Matching state over one book; one :meth:`clear_group` call per group.

    ``notes`` collects why each order left open is open (see :class:`Notes`).
    """

    def __init__(self, book: Book, ancestors: Mapping[int, tuple[int, ...]], uniform: bool) -> None:
        self.book = book
        self.ancestors = ancestors
        self.uniform = uniform
        self.notes = Notes.for_book(len(book.ids))
        self.why, self.why_ref = self.notes.why, self.notes.why_ref

    def clear_group(self, key: GroupKey, trades: list[Trade]) -> dict[int, int]:
        """Matches one group and appends its trades. Returns, per buy node with trades, the
        highest accepted ask: the pay-as-clear price."""
        buys, sells = self.book.groups[key]
        price = self.book.price
        buys.sort(key=price.__getitem__, reverse=True)  # stable: ids stay ascending in a tie
        sells.sort(key=price.__getitem__)
        group = _Group(*self._ladders(buys, sells), price, self.book.remaining_w)
        capped = self.book.capped
        group.capped = bool(capped) and not capped.keys().isdisjoint(sells)
        self._match_buys(buys, group)
        self.notes.sell_context[key] = SellContext(self.book, buys, group.above, group.blocked)
        self._price(group.matches, group.caps, trades)
        return group.caps

    def _ladders(
        self, buys: list[int], sells: list[int]
    ) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
        """Per buy node, the sells at or below it, in priority order; and per sell node, the
        buy nodes at or above it."""
        node = self.book.node
        ladders: dict[int, list[int]] = {node[buy]: [] for buy in buys}
        above: dict[int, list[int]] = {}
        targets: dict[int, list[list[int]]] = {}
        for sell in sells:
            at = node[sell]
            into = targets.get(at)
            if into is None:
                above[at] = [a for a in self.ancestors[at] if a in ladders]
                into = targets[at] = [ladders[a] for a in above[at]]
            for ladder in into:
                ladder.append(sell)
        return ladders, above

    def _match_buys(self, buys: list[int], group: "_Group") -> None:
        """Walks each buy (in priority order) down the ladder of its node; records why it is
        left open, if it is. One loop per group with the columns bound once (a call and a
        dozen attribute reads per buy less).

        Three cases need no walk: no ladder, a bid under the ladder's cheapest ask, and a buy
        whose minimum and open power both exceed the ladder's largest offer (every fill would
        be skipped; the sells it would have been skipped on are marked via ``group.blocked``).
        """
        book, why, why_ref = self.book, self.why, self.why_ref
        node, price, min_w, open_w = book.node, book.price, book.min_w, book.remaining_w
        floors, peaks, caps, uniform = group.floors, group.peaks, group.caps, self.uniform
        for buy in buys:
            at, bid = node[buy], price[buy]
            cheapest = floors.get(at)
            if cheapest is None:
                why[buy] = Reason.NO_QUALIFYING_OFFER
            elif uniform and bid < caps.get(at, -1):
                why[buy] = Reason.BELOW_CLEARING_PRICE
            elif cheapest > bid:
                why[buy], why_ref[buy] = Reason.PRICE_TOO_LOW, cheapest
            elif min_w[buy] > peaks[at] and open_w[buy] > peaks[at]:
                group.block(at, book.kind[buy], bid)
                why[buy] = skip_reason(book.kind[buy])
            else:
                self._walk_buy(buy, at, group)

    def _walk_buy(self, buy: int, at: int, group: "_Group") -> None:
        matches, ladder = group.matches, group.ladders[at]
        start = len(matches)
        walk = self._walk_capped if group.capped else self._walk
        skipped, stop = walk(buy, ladder, matches)
        if len(matches) > start:
            top = self.book.price[matches[-2]]  # asks rise along the ladder
            if top > group.caps.get(at, -1):
                group.caps[at] = top
        if not self.book.remaining_w[buy]:
            return
        if skipped:
            self.why[buy] = skip_reason(skipped)
            return
        ask = self._next_open_ask(ladder, stop)
        if ask is None:
            self.why[buy] = Reason.VOLUME_EXHAUSTED
        else:
            self.why[buy], self.why_ref[buy] = Reason.PRICE_TOO_LOW, ask

    def _walk(self, buy: int, ladder: list[int], matches: list[int]) -> tuple[int, int]:
        """The hot loop: one buy down its ladder. Returns the skip kinds it met and where it
        stopped on an ask above its bid (-1: it did not).

        A fill is skipped when it is below either order's ``min_power_w`` without being that
        order's whole remainder (the contract's ``FillBelowMinimum``; for an all-or-nothing
        order, whose minimum is its power, also ``IndivisibleFill``). Exhausted sells met on the
        way are dropped from the walked part of the ladder, so no later buy meets them again.
        """
        book = self.book
        price, remaining, min_w, kinds = book.price, book.remaining_w, book.min_w, book.kind
        skips = self.notes.skips
        bid, open_b, min_b = price[buy], remaining[buy], min_w[buy]
        skipped = exhausted = index = 0
        stop = -1
        for sell in ladder:
            if price[sell] > bid:
                stop = index
                break
            index += 1
            open_s = remaining[sell]
            if open_s == 0:
                exhausted += 1
                continue
            fill = open_b if open_b < open_s else open_s
            kind = kinds[buy] if fill < min_b and fill != open_b else 0
            if not kind and fill < min_w[sell] and fill != open_s:
                kind = kinds[sell]
            if kind:
                skipped |= kind
                skips[sell] |= kind
                continue
            matches += (buy, sell, fill)
            remaining[sell] = open_s - fill
            open_b -= fill
            exhausted += open_s == fill
            if open_b == 0:
                break
        remaining[buy] = open_b
        if exhausted:
            kept = [sell for sell in ladder[:index] if remaining[sell]]
            ladder[:index] = kept
            stop = len(kept) if stop >= 0 else stop
        return skipped, stop

    def _walk_capped(self, buy: int, ladder: list[int], matches: list[int]) -> tuple[int, int]:
        """:meth:`_walk` for a group with sells of contested assets (a second loop, so that
        the common group pays nothing for the constraint): a fill is also cut to the sell's
        asset headroom in the sell's slots, and traded power is taken from that headroom."""
        book = self.book
        price, remaining, capped, skips = (
            book.price,
            book.remaining_w,
            book.capped,
            self.notes.skips,
        )
        bid, open_b = price[buy], remaining[buy]
        skipped = exhausted = index = 0
        stop = -1
        for sell in ladder:
            if price[sell] > bid:
                stop = index
                break
            index += 1
            open_s = remaining[sell]
            if open_s == 0:
                exhausted += 1
                continue
            cap = capped.get(sell)
            limit = open_s if cap is None else min(open_s, cap[0].headroom_w(cap[1]))
            fill = open_b if open_b < limit else limit
            kind = self._fill_kind(buy, sell, fill, open_b, open_s, limit < open_s)
            if kind:
                skipped |= kind
                skips[sell] |= kind
                continue
            matches += (buy, sell, fill)
            if cap is not None:
                cap[0].take(cap[1], fill)
                if fill == limit < open_s:  # cut by capacity: both sides say why not more
                    skipped |= CAP
                    skips[sell] |= CAP
            remaining[sell] = open_s - fill
            open_b -= fill
            exhausted += open_s == fill
            if open_b == 0:
                break
        remaining[buy] = open_b
        return skipped, self._drop_exhausted(ladder, index, stop) if exhausted else stop

    def _fill_kind(
        self, buy: int, sell: int, fill: int, open_b: int, open_s: int, cut: bool
    ) -> int:
        """The skip kind of a fill (0: it trades), as in :meth:`_walk`; a fill cut by the
        asset's capacity that breaks a minimum, or an asset with no headroom, is ``CAP``."""
        min_w, kinds = self.book.min_w, self.book.kind
        if fill == 0:
            return CAP
        if fill < min_w[buy] and fill != open_b:
            return CAP if cut else kinds[buy]
        if fill < min_w[sell] and fill != open_s:
            return CAP if cut else kinds[sell]
        return 0

    def _drop_exhausted(self, ladder: list[int], index: int, stop: int) -> int:
        """Drops the exhausted sells from the walked part of the ladder; the new ``stop``."""
        remaining = self.book.remaining_w
        kept = [sell for sell in ladder[:index] if remaining[sell]]
        ladder[:index] = kept
        return len(kept) if stop >= 0 else stop

    def _next_open_ask(self, ladder: list[int], stop: int) -> int | None:
        """The first ask with volume left from ``stop`` on (``None``: none, or ``stop`` < 0)."""
        if stop >= 0:
            remaining = self.book.remaining_w
            for position in range(stop, len(ladder)):
                if remaining[ladder[position]]:
                    return self.book.price[ladder[position]]
        return None

    def _price(self, matches: list[int], caps: dict[int, int], trades: list[Trade]) -> None:
        """Turns the flat matches into trades, column-wise."""
        ids, price, node = self.book.ids, self.book.price, self.book.node
        buys, sells, fills = matches[0::3], matches[1::3], matches[2::3]
        if self.uniform:
            paid = list(map(caps.__getitem__, map(node.__getitem__, buys)))
        else:
            paid = list(map(price.__getitem__, sells))
        rows = zip(
            map(ids.__getitem__, buys), map(ids.__getitem__, sells), fills, paid, strict=True
        )
        trades.extend(map(_trade, rows))


class _Group:
    """What matching one group keeps: per buy node the ladder, the cheapest ask (``floors``)
    and the largest open offer (``peaks``) it started with and the pay-as-clear ``caps``; per
    sell node the buy nodes ``above`` it; the flat ``matches``; the ``blocked`` bids (see
    :class:`market.clearing.outcome.SellContext`).
    """

    __slots__ = ("above", "blocked", "capped", "caps", "floors", "ladders", "matches", "peaks")

    def __init__(
        self,
        ladders: dict[int, list[int]],
        above: dict[int, list[int]],
        price: Sequence[int],
        open_w: list[int],
    ) -> None:
        self.ladders = ladders
        self.above = above
        self.floors = {at: price[ladder[0]] for at, ladder in ladders.items() if ladder}
        self.peaks = {
            at: max(map(open_w.__getitem__, ladder), default=0) for at, ladder in ladders.items()
        }
        self.caps: dict[int, int] = {}
        self.matches: list[int] = []  # flat: buy, sell, power_w, buy, sell, power_w, ...
        self.blocked: dict[int, list[int]] = {}
        self.capped = False  # has sells of contested assets (market.clearing.capacity)

    def block(self, at: int, kind: int, bid: int) -> None:
        """Records a buy at ``at`` that every fill would fail for ``kind`` (AON or MIN)."""
        bids = self.blocked.setdefault(at, [-1, -1])
        slot = 0 if kind == AON else 1
        bids[slot] = max(bids[slot], bid)
