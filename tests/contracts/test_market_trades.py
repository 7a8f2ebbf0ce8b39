"""FlexMarket trades: every check of recordTrade, fills, nonce claims and batch proofs."""

from __future__ import annotations

import os
import random
from dataclasses import replace
from typing import Any

import pytest

from oracle.eip712 import Order
from oracle.types import Direction, Role, Side
from tests.contracts import merkle
from tests.contracts.world import (
    ASSET_BATTERY,
    ASSET_ELSEWHERE,
    NODE_DSO,
    NODE_DSO_RIGHT,
    NODE_OTHER_ROOT,
    NODE_TSO_ROOT,
    SLOT_S,
    World,
    digest,
    events,
    first_slot,
    make_order,
    place,
    reverts,
    send,
    signed,
)

ZERO_ROOT = b"\0" * 32


def buy_sell(
    world: World,
    *,
    placed: bool = True,
    slot_start: int | None = None,
    buy: dict[str, Any] | None = None,
    sell: dict[str, Any] | None = None,
    **common: Any,
) -> tuple[Order, Order]:
    """A matching buy (DSO, node 2) and sell (FSP battery, node 3), placed on the wallet path."""
    slot = first_slot(world) if slot_start is None else slot_start
    buy_kw = {"slot_start": slot, "price": 25_000, **common, **(buy or {})}
    sell_kw = {"slot_start": slot, "price": 15_000, **common, **(sell or {})}
    buy_order = make_order(world, world.dso, Side.BUY, **buy_kw)
    sell_order = make_order(world, world.fsp, Side.SELL, **sell_kw)
    if placed:
        place(world, buy_order)
        place(world, sell_order)
    return buy_order, sell_order


def trade(world: World, buy: Any, sell: Any, power_w: int = 2_000_000, price: int = 20_000) -> dict:
    """Records a trade; ``buy``/``sell`` are Orders (wallet path) or SignedOrder tuples."""
    if isinstance(buy, Order):
        buy = signed(world, buy, world.dso)
    if isinstance(sell, Order):
        sell = signed(world, sell, world.fsp)
    return send(world.market.functions.recordTrade(buy, sell, power_w, price), world.operator)


def test_record_trade_stores_terms_and_logs_everything(world: World) -> None:
    buy, sell = buy_sell(world)
    buy_signed, sell_signed = signed(world, buy, world.dso), signed(world, sell, world.fsp)
    receipt = trade(world, buy_signed, sell_signed, 2_000_000, 20_000)
    [event] = events(world.market, receipt, "TradeRecorded")
    buy_hash, sell_hash = digest(world, buy), digest(world, sell)
    assert (event["tradeId"], event["buyHash"], event["sellHash"]) == (1, buy_hash, sell_hash)
    for side, expected in (("buy", buy_signed), ("sell", sell_signed)):
        logged = event[side]
        assert tuple(logged["order"].values()) == expected[0]
        assert (logged["signature"], logged["root"], logged["proof"]) == expected[1:]
    assert (event["powerW"], event["priceCentsPerMWh"]) == (2_000_000, 20_000)

    m = world.market.functions
    terms = (int(Direction.UP), buy.slot_start, 4, 2_000_000, 20_000)
    assert m.trade(1).call() == (terms, world.dso.address, world.fsp.address, ASSET_BATTERY)
    assert m.tradeTerms(1).call() == terms
    packed = m.packedTradeTerms(1).call()
    widths = (8, 64, 16, 32, 32)
    offsets = (0, 8, 72, 88, 120)
    assert (
        tuple((packed >> o) & ((1 << w) - 1) for o, w in zip(offsets, widths, strict=True)) == terms
    )
    assert packed >> 152 == 0
    assert m.tradeCount().call() == 1
    assert m.orderFilled(buy_hash).call() == 2_000_000
    assert m.orderFilled(sell_hash).call() == 2_000_000
    assert m.nonceClaim(world.dso.address, buy.nonce).call() == buy_hash
    assert m.nonceClaim(world.fsp.address, sell.nonce).call() == sell_hash


def test_unknown_trade(world: World) -> None:
    with reverts(world.market, "UnknownTrade", 7):
        world.market.functions.trade(7).call()
    assert world.market.functions.tradeTerms(7).call() == (0, 0, 0, 0, 0)


def test_only_market_operator_records(world: World) -> None:
    buy, sell = buy_sell(world)
    fn = world.market.functions.recordTrade(
        signed(world, buy, world.dso), signed(world, sell, world.fsp), 2_000_000, 20_000
    )
    with reverts(world.market, "MissingRole", world.oracle.address, int(Role.MARKET_OPERATOR)):
        send(fn, world.oracle)


def test_trade_with_orders_proven_against_a_1000_order_batch(world: World) -> None:
    buy, sell = buy_sell(world, placed=False)
    leaves = [os.urandom(32) for _ in range(1000)]
    rng = random.Random(7)
    buy_at, sell_at = rng.sample(range(1000), 2)
    leaves[buy_at], leaves[sell_at] = digest(world, buy), digest(world, sell)
    send(world.market.functions.commitOrderBatch(leaves), world.oracle)
    root = merkle.root(leaves)
    buy_proof, sell_proof = merkle.proof(leaves, buy_at), merkle.proof(leaves, sell_at)
    assert len(buy_proof) == 10
    receipt = trade(
        world,
        signed(world, buy, world.dso, root=root, proof=buy_proof),
        signed(world, sell, world.fsp, root=root, proof=sell_proof),
    )
    [event] = events(world.market, receipt, "TradeRecorded")
    assert event["buy"]["root"] == root and event["buy"]["proof"] == buy_proof
    # the last, promoted leaf of an odd batch has a shorter proof and still verifies
    odd = leaves[:999]
    assert merkle.verify(odd[998], merkle.proof(odd, 998), merkle.root(odd))


def test_batch_publication_errors(world: World) -> None:
    buy, sell = buy_sell(world, placed=False)
    buy_hash = digest(world, buy)
    leaves = [buy_hash, digest(world, sell), os.urandom(32)]
    root = merkle.root(leaves)
    sell_signed = signed(world, sell, world.fsp, root=root, proof=merkle.proof(leaves, 1))
    good_proof = merkle.proof(leaves, 0)
    with reverts(world.market, "BatchNotCommitted", root):
        trade(world, signed(world, buy, world.dso, root=root, proof=good_proof), sell_signed)
    send(world.market.functions.commitOrderBatch(leaves), world.oracle)
    with reverts(world.market, "InvalidProof", buy_hash, root):
        trade(world, signed(world, buy, world.dso, root=root, proof=[os.urandom(32)]), sell_signed)
    with reverts(world.market, "ProofTooLong", 17, 16):
        trade(
            world,
            signed(world, buy, world.dso, root=root, proof=[os.urandom(32)] * 17),
            sell_signed,
        )
    with reverts(world.market, "OrderNotPlaced", buy_hash, world.dso.address, buy.nonce):
        trade(world, buy, sell_signed)
    trade(world, signed(world, buy, world.dso, root=root, proof=good_proof), sell_signed)


def test_wrong_sides(world: World) -> None:
    buy, sell = buy_sell(world)
    with reverts(world.market, "WrongSide", digest(world, sell), 1, 0):
        trade(world, signed(world, sell, world.fsp), signed(world, buy, world.dso))


def test_trade_time_checks_signature_expiry_and_cancellation(world: World) -> None:
    buy, sell = buy_sell(world, buy={"expiry": world.now() + 500})
    bad = signed(world, buy, world.outsider)
    with reverts(
        world.market, "BadSignature", digest(world, buy), world.dso.address, world.outsider.address
    ):
        trade(world, bad, sell)
    send(world.market.functions.cancelOrder(sell.as_tuple()), world.fsp)
    with reverts(world.market, "OrderIsCancelled", digest(world, sell)):
        trade(world, buy, sell)
    stamp = world.at(buy.expiry)
    with reverts(world.market, "OrderExpired", digest(world, buy), buy.expiry, stamp):
        trade(world, buy, sell)


def test_trade_time_rechecks_roles_and_asset(world: World) -> None:
    buy, sell = buy_sell(world)
    send(world.grid.functions.retireAsset(ASSET_BATTERY), world.fsp)
    with reverts(world.market, "AssetIsRetired", digest(world, sell), ASSET_BATTERY):
        trade(world, buy, sell)
    buy, sell = buy_sell(world, sell={"asset": ASSET_ELSEWHERE, "node_id": NODE_OTHER_ROOT})
    send(world.roles.functions.revokeRole(world.dso.address, Role.DSO), world.operator)
    with reverts(world.market, "NotSystemOperator", world.dso.address):
        trade(world, buy, sell)


def test_terms_must_match(world: World) -> None:
    slot = first_slot(world)
    buy, sell = buy_sell(world, slot_start=slot, sell={"slot_count": 8})
    with reverts(world.market, "SlotMismatch", slot, 4, slot, 8):
        trade(world, buy, sell)
    buy, sell = buy_sell(world, slot_start=slot, sell={"slot_start": slot + 900, "expiry": slot})
    with reverts(world.market, "SlotMismatch", slot, 4, slot + 900, 4):
        trade(world, buy, sell)
    buy, sell = buy_sell(world, slot_start=slot, sell={"direction": Direction.DOWN})
    with reverts(world.market, "DirectionMismatch", 0, 1):
        trade(world, buy, sell)


def test_price_between_limits(world: World) -> None:
    buy, sell = buy_sell(world, divisible=True, min_power_w=1)
    with reverts(world.market, "PriceOutOfRange", 14_999, 15_000, 25_000):
        trade(world, buy, sell, 1_000_000, 14_999)
    with reverts(world.market, "PriceOutOfRange", 25_001, 15_000, 25_000):
        trade(world, buy, sell, 1_000_000, 25_001)
    trade(world, buy, sell, 1_000_000, 15_000)
    trade(world, buy, sell, 1_000_000, 25_000)


def test_sell_asset_must_sit_below_buy_node(world: World) -> None:
    buy, sell = buy_sell(world, buy={"node_id": NODE_DSO_RIGHT})
    with reverts(world.market, "AssetNotBelowNode", ASSET_BATTERY, sell.node_id, NODE_DSO_RIGHT):
        trade(world, buy, sell)
    buy, sell = buy_sell(
        world,
        buy={"node_id": NODE_DSO},
        sell={"asset": ASSET_ELSEWHERE, "node_id": NODE_OTHER_ROOT},
    )
    with reverts(world.market, "AssetNotBelowNode", ASSET_ELSEWHERE, NODE_OTHER_ROOT, NODE_DSO):
        trade(world, buy, sell)
    tso_buy = make_order(
        world, world.tso, Side.BUY, slot_start=buy.slot_start, node_id=NODE_TSO_ROOT, price=25_000
    )
    place(world, tso_buy)
    _, sell = buy_sell(world)
    trade(world, signed(world, tso_buy, world.tso), sell)


def test_zero_fill(world: World) -> None:
    buy, sell = buy_sell(world)
    with reverts(world.market, "ZeroFill", digest(world, buy), digest(world, sell)):
        trade(world, buy, sell, 0)


def test_all_or_nothing(world: World) -> None:
    buy, sell = buy_sell(world, sell={"divisible": True, "min_power_w": 1, "power_w": 5_000_000})
    with reverts(world.market, "IndivisibleFill", digest(world, buy), 1_000_000, 2_000_000):
        trade(world, buy, sell, 1_000_000)
    trade(world, buy, sell, 2_000_000)
    with reverts(world.market, "FillExceedsRemaining", digest(world, buy), 2_000_000, 0):
        trade(world, buy, sell, 2_000_000)


def test_divisible_fills_and_minimum(world: World) -> None:
    buy, sell = buy_sell(
        world,
        divisible=True,
        buy={"power_w": 5_000_000, "min_power_w": 1},
        sell={"power_w": 3_000_000, "min_power_w": 1_000_000},
    )
    buy_hash, sell_hash = digest(world, buy), digest(world, sell)
    with reverts(world.market, "FillBelowMinimum", sell_hash, 999_999, 1_000_000):
        trade(world, buy, sell, 999_999)
    trade(world, buy, sell, 2_500_000)
    # 500 kW is below the minimum but takes the sell's whole remainder
    trade(world, buy, sell, 500_000)
    assert world.market.functions.orderFilled(sell_hash).call() == 3_000_000
    with reverts(world.market, "FillExceedsRemaining", sell_hash, 1_000_000, 0):
        trade(world, buy, sell, 1_000_000)
    _, sell2 = buy_sell(world, sell={"divisible": True, "min_power_w": 1, "power_w": 9_000_000})
    with reverts(world.market, "FillExceedsRemaining", buy_hash, 2_500_000, 2_000_000):
        trade(world, buy, sell2, 2_500_000)
    trade(world, buy, sell2, 2_000_000)
    assert world.market.functions.orderFilled(buy_hash).call() == 5_000_000


def test_one_order_per_maker_nonce(world: World) -> None:
    buy, sell = buy_sell(
        world, placed=False, buy={"divisible": True, "min_power_w": 1, "power_w": 4_000_000}
    )
    twin = replace(sell, price_cents_per_mwh=14_000)  # same maker and nonce, another order
    leaves = [digest(world, buy), digest(world, sell), digest(world, twin)]
    send(world.market.functions.commitOrderBatch(leaves), world.oracle)
    root = merkle.root(leaves)

    def proven(order: Order, index: int, who: Any) -> tuple:
        return signed(world, order, who, root=root, proof=merkle.proof(leaves, index))

    trade(world, proven(buy, 0, world.dso), proven(sell, 1, world.fsp))
    with reverts(
        world.market, "NonceClaimedByOtherOrder", world.fsp.address, sell.nonce, digest(world, sell)
    ):
        trade(world, proven(buy, 0, world.dso), proven(twin, 2, world.fsp))


def test_record_trades_batch(world: World) -> None:
    first = buy_sell(world)
    second = buy_sell(world)
    inputs = [
        (signed(world, b, world.dso), signed(world, s, world.fsp), 2_000_000, 20_000)
        for b, s in (first, second)
    ]
    record = world.market.functions.recordTrades
    assert record(inputs).call({"from": world.operator.address}) == 1
    receipt = send(record(inputs), world.operator)
    assert [e["tradeId"] for e in events(world.market, receipt, "TradeRecorded")] == [1, 2]
    assert world.market.functions.tradeCount().call() == 2
    with reverts(world.market, "MissingRole", world.oracle.address, 1):
        send(record(inputs), world.oracle)
    with reverts(world.market, "BatchSizeOutOfRange", 0, 8):
        send(record([]), world.operator)
    with reverts(world.market, "BatchSizeOutOfRange", 9, 8):
        send(record(inputs * 4 + inputs[:1]), world.operator)


def test_record_trades_is_atomic(world: World) -> None:
    good = buy_sell(world)
    bad_buy, bad_sell = buy_sell(world)
    inputs = [
        (signed(world, good[0], world.dso), signed(world, good[1], world.fsp), 2_000_000, 20_000),
        (signed(world, bad_buy, world.dso), signed(world, bad_sell, world.fsp), 2_000_000, 1),
    ]
    with reverts(world.market, "PriceOutOfRange", 1, 15_000, 25_000):
        send(world.market.functions.recordTrades(inputs), world.operator)
    assert world.market.functions.tradeCount().call() == 0
    assert world.market.functions.orderFilled(digest(world, good[0])).call() == 0


@pytest.mark.parametrize("direction", [Direction.UP, Direction.DOWN])
def test_direction_is_recorded(world: World, direction: Direction) -> None:
    buy, sell = buy_sell(world, direction=direction)
    trade(world, buy, sell)
    assert world.market.functions.tradeTerms(1).call()[0] == int(direction)


# --- capacity per asset, slot and direction ----------------------------------------------------


def test_one_asset_is_not_sold_past_its_capacity(world: World) -> None:
    """Regression: several offers on one battery used to clear and record beyond its
    prequalified power. Trades now add up per asset, direction and slot, on chain."""
    send(world.grid.functions.updateAssetCapacity(ASSET_BATTERY, 3_000_000, 1_000_000), world.fsp)
    slot = first_slot(world)
    sold = world.market.functions.soldPowerW
    trade(world, *buy_sell(world, slot_start=slot, slot_count=4))
    assert [sold(ASSET_BATTERY, 0, slot + i * SLOT_S).call() for i in range(5)] == [
        2_000_000
    ] * 4 + [0]
    # a second 2 MW offer on the same battery overlapping slot 3 passes 3 MW there
    divisible = {"divisible": True, "min_power_w": 1}
    buy, sell = buy_sell(world, slot_start=slot + 3 * SLOT_S, slot_count=2, **divisible)
    with reverts(
        world.market,
        "CapacityExceeded",
        ASSET_BATTERY,
        0,
        slot + 3 * SLOT_S,
        4_000_000,
        3_000_000,
    ):
        trade(world, buy, sell)
    trade(world, buy, sell, power_w=1_000_000)  # what is left fits
    assert sold(ASSET_BATTERY, 0, slot + 3 * SLOT_S).call() == 3_000_000
    assert sold(ASSET_BATTERY, 0, slot + 4 * SLOT_S).call() == 1_000_000
    # down capacity is separate and smaller
    down_buy, down_sell = buy_sell(world, slot_start=slot, direction=Direction.DOWN, **divisible)
    with reverts(world.market, "CapacityExceeded", ASSET_BATTERY, 1, slot, 2_000_000, 1_000_000):
        trade(world, down_buy, down_sell)
    trade(world, down_buy, down_sell, power_w=1_000_000)
    assert sold(ASSET_BATTERY, 1, slot).call() == 1_000_000
    assert sold(ASSET_BATTERY, 0, slot).call() == 2_000_000


def test_capacity_across_capacity_words_and_batches(world: World) -> None:
    """A trade spanning several eight-slot words, and a batch whose trades together pass
    the capacity: the batch reverts whole."""
    send(world.grid.functions.updateAssetCapacity(ASSET_BATTERY, 3_000_000, 3_000_000), world.fsp)
    slot = first_slot(world, hours_ahead=4)
    buy, sell = buy_sell(world, slot_start=slot, slot_count=20)
    trade(world, buy, sell)
    sold = world.market.functions.soldPowerW
    powers = [sold(ASSET_BATTERY, 0, slot + i * SLOT_S).call() for i in range(-1, 21)]
    assert powers == [0] + [2_000_000] * 20 + [0]
    last = slot + 19 * SLOT_S
    pairs = [buy_sell(world, slot_start=last, slot_count=1, power_w=500_000) for _ in range(3)]
    inputs = [
        (signed(world, b, world.dso), signed(world, s, world.fsp), 500_000, 20_000)
        for b, s in pairs
    ]
    with reverts(world.market, "CapacityExceeded", ASSET_BATTERY, 0, last, 3_500_000, 3_000_000):
        send(world.market.functions.recordTrades(inputs), world.operator)
    send(world.market.functions.recordTrades(inputs[:2]), world.operator)
    assert sold(ASSET_BATTERY, 0, last).call() == 3_000_000
