"""FlexSettlement: the settlement arithmetic (hand cases and fuzzed against a Python reference),
attestation and dispute windows, disputes, resolution and finalisation."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts import load_artifact
from oracle.settlement_math import pack_attestation, unpack_attested_records
from oracle.types import Direction, Role, Side
from tests.contracts.world import (
    ASSET_CAPACITY_W,
    ATTESTATION_WINDOW_S,
    DISPUTE_WINDOW_S,
    PENALTY_FACTOR_BPS,
    SLOT_S,
    World,
    decode_error,
    events,
    first_slot,
    make_order,
    place,
    revert_data,
    reverts,
    send,
    signed,
    without_dry_runs,
)

MWH = 1_000_000


@dataclass(frozen=True)
class Expected:
    traded_wh: int
    delivered_wh: int
    shortfall_wh: int
    payment_cents: int
    penalty_cents: int


def reference(
    direction: int,
    slot_count: int,
    power_w: int,
    price: int,
    baseline_wh: int,
    metered_wh: int,
    factor_bps: int,
) -> Expected:
    """The settlement rule as written in IFlexSettlement, in plain Python integers."""
    traded = power_w * slot_count * 900 // 3600
    change = baseline_wh - metered_wh if direction == Direction.UP else metered_wh - baseline_wh
    delivered = min(max(change, 0), traded)
    shortfall = traded - delivered
    penalty_rate = price * factor_bps // 10_000
    return Expected(
        traded, delivered, shortfall, price * delivered // MWH, penalty_rate * shortfall // MWH
    )


def make_trade(
    world: World,
    *,
    direction: Direction = Direction.UP,
    power_w: int = 2_000_000,
    slot_count: int = 4,
    price: int = 20_000,
) -> tuple[int, int]:
    """Records one trade; returns (trade id, delivery end)."""
    slot = first_slot(world)
    common = {
        "slot_start": slot,
        "direction": direction,
        "power_w": power_w,
        "slot_count": slot_count,
        "price": price,
    }
    buy = make_order(world, world.dso, Side.BUY, **common)
    sell = make_order(world, world.fsp, Side.SELL, **common)
    place(world, buy)
    place(world, sell)
    fn = world.market.functions.recordTrade(
        signed(world, buy, world.dso), signed(world, sell, world.fsp), power_w, price
    )
    receipt = send(fn, world.operator)
    trade_id = events(world.market, receipt, "TradeRecorded")[0]["tradeId"]
    return trade_id, slot + slot_count * SLOT_S


def attest(world: World, trade_id: int, baseline_wh: int, metered_wh: int) -> dict:
    receipt = send(
        world.settlement.functions.attest((trade_id, baseline_wh, metered_wh)), world.oracle
    )
    return events(world.settlement, receipt, "SettlementAttested")[0]


def outcome(event: dict) -> Expected:
    return Expected(
        event["tradedWh"],
        event["deliveredWh"],
        event["shortfallWh"],
        event["paymentCents"],
        event["penaltyCents"],
    )


# --- arithmetic --------------------------------------------------------------------------------

HAND_CASES = [
    # USEF shape: 10 MW baseline for an hour, 2 MW up ordered, nothing delivered
    (
        "usef-nothing-delivered",
        Direction.UP,
        10 * MWH,
        10 * MWH,
        Expected(2 * MWH, 0, 2 * MWH, 0, 60_000),
    ),
    ("full-delivery", Direction.UP, 10 * MWH, 8 * MWH, Expected(2 * MWH, 2 * MWH, 0, 40_000, 0)),
    (
        "over-delivery-clipped",
        Direction.UP,
        10 * MWH,
        7 * MWH,
        Expected(2 * MWH, 2 * MWH, 0, 40_000, 0),
    ),
    (
        "partial",
        Direction.UP,
        10 * MWH,
        9_500_000,
        Expected(2 * MWH, 500_000, 1_500_000, 10_000, 45_000),
    ),
    (
        "up-but-consumed-more",
        Direction.UP,
        10 * MWH,
        11 * MWH,
        Expected(2 * MWH, 0, 2 * MWH, 0, 60_000),
    ),
    (
        "down-partial",
        Direction.DOWN,
        1 * MWH,
        2_500_000,
        Expected(2 * MWH, 1_500_000, 500_000, 30_000, 15_000),
    ),
    ("down-over-delivered", Direction.DOWN, 0, 5 * MWH, Expected(2 * MWH, 2 * MWH, 0, 40_000, 0)),
    (
        "down-but-consumed-less",
        Direction.DOWN,
        3 * MWH,
        2 * MWH,
        Expected(2 * MWH, 0, 2 * MWH, 0, 60_000),
    ),
]


@pytest.mark.parametrize(
    ("direction", "baseline", "metered", "expected"),
    [c[1:] for c in HAND_CASES],
    ids=[c[0] for c in HAND_CASES],
)
def test_hand_computed_settlements(
    world: World, direction: Direction, baseline: int, metered: int, expected: Expected
) -> None:
    # 2 MW for 4 slots at 200 EUR/MWh, penalty factor 1.5
    trade_id, delivery_end = make_trade(world, direction=direction)
    assert world.settlement.functions.quoteSettlement(trade_id, baseline, metered).call() == (
        expected.traded_wh,
        expected.delivered_wh,
        expected.shortfall_wh,
        expected.payment_cents,
        expected.penalty_cents,
    )
    world.at(delivery_end)
    event = attest(world, trade_id, baseline, metered)
    assert outcome(event) == expected
    assert event["oracle"] == world.oracle.address
    assert (event["baselineWh"], event["meteredWh"]) == (baseline, metered)
    assert event["penaltyFactorBps"] == PENALTY_FACTOR_BPS
    assert event["disputeDeadline"] == delivery_end + ATTESTATION_WINDOW_S + DISPUTE_WINDOW_S


def test_rounding_is_down_at_every_step(world: World) -> None:
    compute = world.settlement.functions.computeSettlement
    # 7 W x 3 slots = 5.25 Wh -> 5; price 333 c/MWh; factor 3333 bps -> rate 110.9889 -> 110
    assert compute(0, 3, 7, 333, 5, 2, 3333).call() == (5, 3, 2, 0, 0)
    assert compute(0, 96, 2**32 - 1, 2**32 - 1, 2**64 - 1, 0, 50_000).call() == (
        103_079_215_080,
        103_079_215_080,
        0,
        (2**32 - 1) * 103_079_215_080 // MWH,
        0,
    )
    result = compute(1, 96, 2**32 - 1, 2**32 - 1, 0, 0, 50_000).call()
    assert result[4] == ((2**32 - 1) * 50_000 // 10_000) * 103_079_215_080 // MWH


settlement_inputs = st.tuples(
    st.sampled_from([0, 1]),
    st.integers(1, 2**16 - 1),
    st.integers(1, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(0, 50_000),
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(settlement_inputs)
def test_compute_settlement_matches_reference(world: World, inputs: tuple[int, ...]) -> None:
    got = world.settlement.functions.computeSettlement(*inputs).call()
    assert tuple(got) == tuple(vars(reference(*inputs)).values())


@settings(max_examples=30, deadline=None)
@given(
    direction=st.sampled_from(list(Direction)),
    slot_count=st.integers(1, 96),
    power_w=st.integers(1, 50_000_000),
    price=st.integers(0, 100_000_000),
    factor=st.integers(0, 50_000),
    baseline=st.integers(0, 10**9),
    metered=st.integers(0, 10**9),
)
def test_attested_settlement_matches_reference(
    deployed: World,
    direction: Direction,
    slot_count: int,
    power_w: int,
    price: int,
    factor: int,
    baseline: int,
    metered: int,
) -> None:
    world = deployed
    snapshot = world.tester.take_snapshot()
    try:
        with without_dry_runs():
            send(world.settlement.functions.setPenaltyFactor(factor), world.operator)
            trade_id, delivery_end = make_trade(
                world, direction=direction, power_w=power_w, slot_count=slot_count, price=price
            )
            world.at(delivery_end)
            event = attest(world, trade_id, baseline, metered)
        assert outcome(event) == reference(
            direction, slot_count, power_w, price, baseline, metered, factor
        )
    finally:
        world.tester.revert_to_snapshot(snapshot)


# --- attestation -------------------------------------------------------------------------------


def test_attestation_window(world: World) -> None:
    trade_id, end = make_trade(world)
    attest_fn = world.settlement.functions.attest((trade_id, 1, 1))
    stamp = world.at(end - 1)
    with reverts(world.settlement, "AttestationTooEarly", trade_id, end, stamp):
        send(attest_fn, world.oracle)
    second_id, _ = make_trade(world)
    closes = end + ATTESTATION_WINDOW_S
    world.at(closes)
    attest(world, second_id, 1, 1)  # the last second still counts
    stamp = world.at(closes + 1)
    with reverts(world.settlement, "AttestationWindowClosed", trade_id, closes, stamp):
        send(attest_fn, world.oracle)


def test_attest_rules(world: World) -> None:
    trade_id, end = make_trade(world)
    world.at(end)
    fn = world.settlement.functions.attest
    with reverts(world.settlement, "MissingRole", world.operator.address, int(Role.ORACLE)):
        send(fn((trade_id, 1, 1)), world.operator)
    with reverts(world.settlement, "UnknownTrade", 99):
        send(fn((99, 1, 1)), world.oracle)
    send(fn((trade_id, 1, 1)), world.oracle)
    assert world.settlement.functions.isAttested(trade_id).call()
    with reverts(world.settlement, "AlreadyAttested", trade_id):
        send(fn((trade_id, 5, 1)), world.oracle)


def test_attest_batch(world: World) -> None:
    ids = [make_trade(world)[0] for _ in range(3)]
    world.at(first_slot(world) + 4 * SLOT_S)
    batch = world.settlement.functions.attestBatch
    receipt = send(batch([pack_attestation(i, 10 * MWH, 9 * MWH) for i in ids]), world.oracle)
    assert events(world.settlement, receipt, "SettlementAttested") == []
    [logged] = events(world.settlement, receipt, "SettlementsAttested")
    assert (logged["oracle"], logged["penaltyFactorBps"]) == (world.oracle.address, 15_000)
    attested = unpack_attested_records(logged["records"])
    assert [e["tradeId"] for e in attested] == ids
    single = reference(Direction.UP, 4, 2_000_000, 20_000, 10 * MWH, 9 * MWH, 15_000)
    for record in attested:
        assert (record["baselineWh"], record["meteredWh"]) == (10 * MWH, 9 * MWH)
        assert outcome(record) == single
    with reverts(world.settlement, "AlreadyAttested", ids[0]):
        send(batch([pack_attestation(ids[0], 1, 1)]), world.oracle)
    with reverts(world.settlement, "BatchSizeOutOfRange", 0, 256):
        send(batch([]), world.oracle)
    with reverts(world.settlement, "BatchSizeOutOfRange", 257, 256):
        send(batch([pack_attestation(ids[0], 1, 1)] * 257), world.oracle)
    with reverts(world.settlement, "MissingRole", world.dso.address, int(Role.ORACLE)):
        send(batch([pack_attestation(ids[0], 1, 1)]), world.dso)


def test_attest_batch_records_hold_the_largest_values(world: World) -> None:
    """Every packed field keeps its full range: the largest trade and energies round-trip."""
    power_w, price, top = ASSET_CAPACITY_W, 2**32 - 1, 2**64 - 1
    ids = [
        make_trade(world, direction=d, power_w=power_w, slot_count=96, price=price)[0]
        for d in (Direction.UP, Direction.DOWN)
    ]
    send(world.settlement.functions.setPenaltyFactor(50_000), world.operator)
    world.at(first_slot(world) + 96 * SLOT_S)
    batch = [(ids[0], 0, top), (ids[1], 0, top)]
    packed = [pack_attestation(*item) for item in batch]
    receipt = send(world.settlement.functions.attestBatch(packed), world.oracle)
    [logged] = events(world.settlement, receipt, "SettlementsAttested")
    records = unpack_attested_records(logged["records"])
    assert [(r["tradeId"], r["baselineWh"], r["meteredWh"]) for r in records] == batch
    for record, direction in zip(records, (Direction.UP, Direction.DOWN), strict=True):
        assert outcome(record) == reference(direction, 96, power_w, price, 0, top, 50_000)


def test_attest_batch_refuses_a_trade_twice_in_one_batch(world: World) -> None:
    """The batch keeps the attested bits in memory between writes: a repeat is still caught,
    in or out of order, and nothing of the batch stays."""
    ids = [make_trade(world)[0] for _ in range(3)]
    world.at(first_slot(world) + 4 * SLOT_S)
    batch = world.settlement.functions.attestBatch
    for order in ([ids[0], ids[1], ids[0]], [ids[2], ids[0], ids[2]]):
        with reverts(world.settlement, "AlreadyAttested", order[0]):
            send(batch([pack_attestation(i, 1, 1) for i in order]), world.oracle)
    assert not any(world.settlement.functions.isAttested(i).call() for i in ids)
    send(batch([pack_attestation(i, 1, 1) for i in reversed(ids)]), world.oracle)
    assert all(world.settlement.functions.isAttested(i).call() for i in ids)


def test_packed_trade_terms_batch(world: World) -> None:
    trade_id, _ = make_trade(world)
    m = world.market.functions
    keys = [pack_attestation(trade_id, 5, 6), pack_attestation(99, 0, 0)]
    assert m.packedTradeTermsBatch(keys).call() == [m.packedTradeTerms(trade_id).call(), 0]
    with reverts(world.market, "BatchSizeOutOfRange", 257, 256):
        m.packedTradeTermsBatch([0] * 257).call()


def test_attest_batch_is_atomic(world: World) -> None:
    ids = [make_trade(world)[0] for _ in range(2)]
    world.at(first_slot(world) + 4 * SLOT_S)
    with reverts(world.settlement, "UnknownTrade", 42):
        items = [pack_attestation(ids[0], 1, 1), pack_attestation(42, 1, 1)]
        send(world.settlement.functions.attestBatch(items), world.oracle)
    assert not world.settlement.functions.isAttested(ids[0]).call()


# --- disputes and finalisation -------------------------------------------------------------------


def attested_trade(world: World) -> tuple[int, int]:
    """An attested trade and its dispute deadline."""
    trade_id, end = make_trade(world)
    world.at(end + 60)
    deadline = attest(world, trade_id, 10 * MWH, 9 * MWH)["disputeDeadline"]
    assert world.settlement.functions.disputeDeadline(trade_id).call() == deadline
    return trade_id, deadline


def test_dispute_by_either_party(world: World) -> None:
    reason = b"\x42" * 32
    first, _ = attested_trade(world)
    receipt = send(world.settlement.functions.dispute(first, reason), world.dso)
    assert events(world.settlement, receipt, "SettlementDisputed") == [
        {"tradeId": first, "disputant": world.dso.address, "reasonHash": reason}
    ]
    assert world.settlement.functions.isDisputed(first).call()
    with reverts(world.settlement, "AlreadyDisputed", first):
        send(world.settlement.functions.dispute(first, reason), world.fsp)
    second, _ = attested_trade(world)
    send(world.dids.functions.changeOwner(world.fsp.address, world.spare.address), world.fsp)
    with reverts(world.settlement, "NotTradeParty", second, world.fsp.address):
        send(world.settlement.functions.dispute(second, reason), world.fsp)
    send(world.settlement.functions.dispute(second, reason), world.spare)


def test_dispute_rules(world: World) -> None:
    trade_id, end = make_trade(world)
    dispute = world.settlement.functions.dispute(trade_id, b"\0" * 32)
    with reverts(world.settlement, "NotAttested", trade_id):
        send(dispute, world.dso)
    world.at(end)
    attest(world, trade_id, 1, 1)
    with reverts(world.settlement, "NotTradeParty", trade_id, world.outsider.address):
        send(dispute, world.outsider)
    deadline = end + ATTESTATION_WINDOW_S + DISPUTE_WINDOW_S
    world.at(deadline - 1)
    send(world.settlement.functions.dispute(trade_id, b"\1" * 32), world.fsp)
    other, deadline = attested_trade(world)
    stamp = world.at(deadline)
    with reverts(world.settlement, "DisputeWindowClosed", other, deadline, stamp):
        send(world.settlement.functions.dispute(other, b"\0" * 32), world.dso)


def test_resolve_dispute_recomputes_and_finalises(world: World) -> None:
    trade_id, _ = attested_trade(world)
    resolve = world.settlement.functions.resolveDispute
    with reverts(world.settlement, "NotDisputed", trade_id):
        send(resolve(trade_id, 10 * MWH, 8 * MWH), world.operator)
    send(world.settlement.functions.dispute(trade_id, b"\7" * 32), world.fsp)
    with reverts(world.settlement, "MissingRole", world.oracle.address, int(Role.MARKET_OPERATOR)):
        send(resolve(trade_id, 10 * MWH, 8 * MWH), world.oracle)
    receipt = send(resolve(trade_id, 10 * MWH, 8 * MWH), world.operator)
    assert events(world.settlement, receipt, "SettlementResolved") == [
        {
            "tradeId": trade_id,
            "resolver": world.operator.address,
            "baselineWh": 10 * MWH,
            "meteredWh": 8 * MWH,
            "tradedWh": 2 * MWH,
            "deliveredWh": 2 * MWH,
            "shortfallWh": 0,
            "paymentCents": 40_000,
            "penaltyCents": 0,
            "penaltyFactorBps": PENALTY_FACTOR_BPS,
        }
    ]
    assert events(world.settlement, receipt, "SettlementFinalised") == [
        {"tradeId": trade_id, "finaliser": world.operator.address}
    ]
    assert world.settlement.functions.isFinalised(trade_id).call()
    with reverts(world.settlement, "AlreadyFinalised", trade_id):
        send(resolve(trade_id, 1, 1), world.operator)
    with reverts(world.settlement, "AlreadyDisputed", trade_id):
        send(world.settlement.functions.dispute(trade_id, b"\0" * 32), world.dso)


def test_finalise_after_deadline_only(world: World) -> None:
    trade_id, deadline = attested_trade(world)
    finalise = world.settlement.functions.finalise(trade_id)
    stamp = world.at(deadline - 1)
    with reverts(world.settlement, "DisputeWindowOpen", trade_id, deadline, stamp):
        send(finalise, world.outsider)
    world.at(deadline)
    receipt = send(finalise, world.outsider)
    assert events(world.settlement, receipt, "SettlementFinalised") == [
        {"tradeId": trade_id, "finaliser": world.outsider.address}
    ]
    with reverts(world.settlement, "AlreadyFinalised", trade_id):
        send(finalise, world.outsider)


def test_finalise_rules(world: World) -> None:
    disputed, deadline = attested_trade(world)
    send(world.settlement.functions.dispute(disputed, b"\0" * 32), world.dso)
    unattested, _ = make_trade(world)
    world.at(deadline + 1)
    with reverts(world.settlement, "AlreadyDisputed", disputed):
        send(world.settlement.functions.finalise(disputed), world.outsider)
    with reverts(world.settlement, "NotAttested", unattested):
        send(world.settlement.functions.finalise(unattested), world.outsider)


def test_finalise_batch(world: World) -> None:
    ids = [attested_trade(world)[0] for _ in range(3)]
    batch = world.settlement.functions.finaliseBatch
    world.at(world.settlement.functions.disputeDeadline(ids[-1]).call())
    receipt = send(batch(ids), world.auditor)
    assert [e["tradeId"] for e in events(world.settlement, receipt, "SettlementFinalised")] == ids
    with reverts(world.settlement, "BatchSizeOutOfRange", 0, 256):
        send(batch([]), world.auditor)
    with reverts(world.settlement, "BatchSizeOutOfRange", 257, 256):
        send(batch([1] * 257), world.auditor)
    with reverts(world.settlement, "AlreadyFinalised", ids[0]):
        send(batch(ids[:1]), world.auditor)


# --- parameters ----------------------------------------------------------------------------------


def test_set_penalty_factor(world: World) -> None:
    s = world.settlement.functions
    receipt = send(s.setPenaltyFactor(20_000), world.operator)
    assert events(world.settlement, receipt, "PenaltyFactorChanged") == [
        {
            "previousBps": PENALTY_FACTOR_BPS,
            "penaltyFactorBps": 20_000,
            "changedBy": world.operator.address,
        }
    ]
    assert s.penaltyFactorBps().call() == 20_000
    with reverts(world.settlement, "PenaltyFactorTooHigh", 50_001, 50_000):
        send(s.setPenaltyFactor(50_001), world.operator)
    with reverts(world.settlement, "MissingRole", world.dso.address, int(Role.MARKET_OPERATOR)):
        send(s.setPenaltyFactor(1), world.dso)


def test_set_windows_keeps_the_deadlines_of_recorded_trades(world: World) -> None:
    """Regression: new windows once moved every recorded trade's deadlines (operator
    retroactivity). They now apply only to trades recorded after the change."""
    s = world.settlement.functions
    trade_id, end = make_trade(world)
    old_deadline = end + ATTESTATION_WINDOW_S + DISPUTE_WINDOW_S
    receipt = send(s.setWindows(600, 1200), world.operator)
    assert events(world.settlement, receipt, "WindowsChanged") == [
        {
            "attestationWindowS": 600,
            "disputeWindowS": 1200,
            "fromTradeId": trade_id + 1,
            "changedBy": world.operator.address,
        }
    ]
    assert (s.attestationWindowS().call(), s.disputeWindowS().call()) == (600, 1200)
    assert s.windowsOf(trade_id).call() == [ATTESTATION_WINDOW_S, DISPUTE_WINDOW_S]
    assert s.disputeDeadline(trade_id).call() == old_deadline
    later_id, later_end = make_trade(world)
    assert s.windowsOf(later_id).call() == [600, 1200]
    assert s.disputeDeadline(later_id).call() == later_end + 1800
    # the old trade is still attestable past the new window, with its own deadline
    world.at(end + 601)
    assert attest(world, trade_id, 10 * MWH, 9 * MWH)["disputeDeadline"] == old_deadline
    with reverts(world.settlement, "InvalidWindows", 0, 5):
        send(s.setWindows(0, 5), world.operator)
    with reverts(world.settlement, "InvalidWindows", 5, 0):
        send(s.setWindows(5, 0), world.operator)
    with reverts(world.settlement, "MissingRole", world.oracle.address, int(Role.MARKET_OPERATOR)):
        send(s.setWindows(1, 1), world.oracle)


def test_windows_history_finds_each_trades_windows(world: World) -> None:
    """Several changes, some without trades between them: each trade keeps the windows in
    force when it was recorded (binary search over the history), finalisation follows them."""
    s = world.settlement.functions
    expected = {}
    for windows in [(100, 200), (300, 400), (500, 600), (700, 800), (900, 1000)]:
        trade_id, _ = make_trade(world)
        expected[trade_id] = tuple(s.windowsOf(trade_id).call())
        send(s.setWindows(*windows), world.operator)
        send(s.setWindows(windows[0] + 1, windows[1] + 1), world.operator)  # no trade between
    last_id, _ = make_trade(world)
    expected[last_id] = (901, 1001)
    assert {t: tuple(s.windowsOf(t).call()) for t in expected} == expected
    assert list(expected.values())[:3] == [
        (ATTESTATION_WINDOW_S, DISPUTE_WINDOW_S),
        (101, 201),
        (301, 401),
    ]


def test_views_of_unknown_trades(world: World) -> None:
    s = world.settlement.functions
    with reverts(world.settlement, "UnknownTrade", 5):
        s.disputeDeadline(5).call()
    with reverts(world.settlement, "UnknownTrade", 5):
        s.quoteSettlement(5, 1, 1).call()
    assert not s.isAttested(5).call() and not s.isDisputed(5).call() and not s.isFinalised(5).call()
    assert s.market().call() == world.market.address


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((50_001, 1, 1), ("PenaltyFactorTooHigh", (50_001, 50_000))),
        ((1, 0, 1), ("InvalidWindows", (1, 0))),
        ((1, 1, 0), ("InvalidWindows", (0, 1))),
    ],
)
def test_constructor_validates(world: World, args: tuple[int, int, int], error: tuple) -> None:
    artifact = load_artifact("FlexSettlement")
    factory = world.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    with pytest.raises(Exception) as info:
        factory.constructor(world.roles.address, world.market.address, *args).estimate_gas(
            {"from": world.operator.address}
        )
    assert decode_error(artifact.abi, revert_data(info.value)) == error
