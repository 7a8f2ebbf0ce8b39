"""Sell offers from a portfolio's flexibility, per asset or per grid node.

The day (or the window ``first_slot``, ``slot_count`` of it, e.g. the DSO's congestion
hours) is cut into blocks of ``block_slots``. For each block an asset offers the largest
constant power it can hold over the whole block *given that all its earlier blocks are
accepted too* (:func:`flexibility.limits.max_block_w` with those blocks committed). As
feasibility is monotone, every subset of an asset's offers is then deliverable together.

Price: the asset's marginal price plus ``margin_pct``, rounded up to whole cents per MWh.
Divisibility: EV offers are all-or-nothing (``min_power_w = power_w``, see
:mod:`flexibility.ev_charger`); the rest are divisible down to ``min_fill_w``.

Per node (:func:`node_offers`): the divisible assets below one node pool each block into one
divisible offer at the highest of their prices (so every unit's cost is covered);
all-or-nothing assets keep their own offers. Offers below ``min_offer_w`` are not made.
"""

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from flexibility.errors import FlexibilityInputError
from flexibility.limits import block, combined
from flexibility.portfolio import FleetAsset
from flexibility.profile import Activation, check_block
from oracle.types import SLOT_SECONDS, Direction


@dataclass(frozen=True, slots=True)
class FlexOffer:
    """A sell offer in the contract's units; ``asset_id`` is the asset or the node group.

    ``members`` lists the assets whose flexibility the offer pools (one for an asset offer).
    """

    asset_id: str
    node_id: int
    direction: Direction
    slot_start: int
    slot_count: int
    power_w: int
    price_cents_per_mwh: int
    divisible: bool
    min_power_w: int
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OfferRules:
    """How offers are cut and priced (see the module docstring)."""

    block_slots: int = 4
    first_slot: int = 0
    slot_count: int = 96
    margin_pct: float = 20.0
    min_offer_w: int = 1_000
    min_fill_w: int = 1_000


DEFAULT_RULES = OfferRules()


def asset_offers(
    asset: FleetAsset,
    node_id: int,
    day_start_s: int,
    direction: Direction,
    rules: OfferRules = DEFAULT_RULES,
) -> list[FlexOffer]:
    """The asset's offers for every block of the window, earliest first."""
    _check(day_start_s, rules)
    seller = _Seller(
        offer_id=asset.asset_id,
        members=(asset.asset_id,),
        node_id=node_id,
        price_cents_per_mwh=_price(asset, direction, rules),
        divisible=not asset.model.all_or_nothing,
    )
    return _offers(seller, block_powers(asset, direction, rules), direction, day_start_s, rules)


def node_offers(
    assets: Sequence[FleetAsset],
    node_of: Mapping[str, int],
    day_start_s: int,
    direction: Direction,
    rules: OfferRules = DEFAULT_RULES,
) -> list[FlexOffer]:
    """Offers per node: pooled divisible blocks plus every all-or-nothing asset's own."""
    _check(day_start_s, rules)
    by_node: dict[int, list[FleetAsset]] = defaultdict(list)
    for asset in assets:
        if asset.asset_id not in node_of:
            raise FlexibilityInputError("node_of", f"asset {asset.asset_id!r} has no grid node")
        by_node[node_of[asset.asset_id]].append(asset)
    offers: list[FlexOffer] = []
    for node_id in sorted(by_node):
        members = by_node[node_id]
        pooled = [a for a in members if not a.model.all_or_nothing]
        if pooled:
            offers += _pooled_offers(pooled, node_id, day_start_s, direction, rules)
        for asset in members:
            if asset.model.all_or_nothing:
                offers += asset_offers(asset, node_id, day_start_s, direction, rules)
    return offers


def block_powers(
    asset: FleetAsset, direction: Direction, rules: OfferRules = DEFAULT_RULES
) -> dict[int, int]:
    """First slot of each block -> the W offered there, every earlier block committed."""
    committed: Activation = {}
    powers: dict[int, int] = {}
    for first, count in _blocks(rules):
        power_w = asset.model.max_block_w(direction, first, count, committed)
        if power_w < rules.min_offer_w:
            power_w = 0  # not offered; pinning these slots would take the rebound's room
        else:
            committed = combined(committed, block(direction, first, count, power_w))
        powers[first] = power_w
    return powers


class _Seller(NamedTuple):
    """What every offer of one asset or one node pool shares."""

    offer_id: str
    members: tuple[str, ...]
    node_id: int
    price_cents_per_mwh: int
    divisible: bool


def _pooled_offers(
    pooled: list[FleetAsset],
    node_id: int,
    day_start_s: int,
    direction: Direction,
    rules: OfferRules,
) -> list[FlexOffer]:
    seller = _Seller(
        offer_id=f"node-{node_id}-pool",
        members=tuple(a.asset_id for a in pooled),
        node_id=node_id,
        price_cents_per_mwh=max(_price(a, direction, rules) for a in pooled),
        divisible=True,
    )
    totals: dict[int, int] = defaultdict(int)
    for asset in pooled:
        for first, power_w in block_powers(asset, direction, rules).items():
            totals[first] += power_w
    return _offers(seller, totals, direction, day_start_s, rules)


def _offers(
    seller: _Seller,
    powers: Mapping[int, int],
    direction: Direction,
    day_start_s: int,
    rules: OfferRules,
) -> list[FlexOffer]:
    return [
        FlexOffer(
            asset_id=seller.offer_id,
            node_id=seller.node_id,
            direction=direction,
            slot_start=day_start_s + first * SLOT_SECONDS,
            slot_count=count,
            power_w=powers[first],
            price_cents_per_mwh=seller.price_cents_per_mwh,
            divisible=seller.divisible,
            min_power_w=min(rules.min_fill_w, powers[first]) if seller.divisible else powers[first],
            members=seller.members,
        )
        for first, count in _blocks(rules)
        if powers.get(first, 0) >= rules.min_offer_w
    ]


def _blocks(rules: OfferRules) -> list[tuple[int, int]]:
    """(first slot, slot count) of each block; the last one may be shorter."""
    end = rules.first_slot + rules.slot_count
    return [
        (first, min(rules.block_slots, end - first))
        for first in range(rules.first_slot, end, rules.block_slots)
    ]


def _price(asset: FleetAsset, direction: Direction, rules: OfferRules) -> int:
    cost = asset.model.marginal_price_cents_per_mwh(direction)
    # exact decimal arithmetic: 5000 * 1.2 in floats is 6000.000000000001
    return math.ceil(cost * (1 + Fraction(str(rules.margin_pct)) / 100))


def _check(day_start_s: int, rules: OfferRules) -> None:
    if day_start_s % SLOT_SECONDS:
        raise FlexibilityInputError("day_start_s", f"{day_start_s} is not a slot start")
    check_block(rules.first_slot, rules.slot_count)
    if rules.block_slots < 1:
        raise FlexibilityInputError("block_slots", f"{rules.block_slots} must be at least 1")
    if rules.margin_pct < 0:
        raise FlexibilityInputError("margin_pct", f"{rules.margin_pct} must not be negative")
