"""Stateful property test of the market and settlement against a small Python model.

Invariants: no order is filled beyond its power; a non-divisible order is filled whole or not at
all; a (maker, nonce) backs one order; no signature or nonce is replayed; no trade is settled
twice. Every trade attempt is first predicted by the model and must succeed exactly when the
model says so.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from oracle.eip712 import Order
from oracle.types import Side
from tests.contracts.world import (
    SLOT_S,
    World,
    decode_error,
    digest,
    first_slot,
    make_order,
    revert_data,
    send,
    sign,
    signed,
    without_dry_runs,
)


class MarketMachine(RuleBasedStateMachine):
    buys = Bundle("buys")
    sells = Bundle("sells")

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.snapshot = world.tester.take_snapshot()
        self.slot = first_slot(world)
        self.filled: dict[bytes, int] = {}
        self.by_hash: dict[bytes, Order] = {}
        self.claims: dict[tuple[str, int], bytes] = {}
        self.trades: list[int] = []
        self.attested: set[int] = set()

    def teardown(self) -> None:
        self.world.tester.revert_to_snapshot(self.snapshot)

    def _maker(self, order: Order):
        return self.world.dso if order.side == Side.BUY else self.world.fsp

    order_shape: ClassVar[dict[str, st.SearchStrategy[Any]]] = {
        "power_mw": st.sampled_from([2, 2, 4, 1]),
        "divisible": st.integers(0, 3).map(bool),
        "min_mw": st.integers(0, 4),
        "reuse_nonce": st.integers(0, 4).map(lambda n: n == 0),
    }

    @initialize(target=buys, power_mw=st.sampled_from([2, 4]), divisible=st.booleans())
    def first_buy(self, power_mw: int, divisible: bool) -> Order:
        return self._place(Side.BUY, power_mw, divisible, 1, reuse_nonce=False)

    @initialize(target=sells, power_mw=st.sampled_from([2, 4]), divisible=st.booleans())
    def first_sell(self, power_mw: int, divisible: bool) -> Order:
        return self._place(Side.SELL, power_mw, divisible, 1, reuse_nonce=False)

    @rule(target=buys, **order_shape)
    def place_buy(self, power_mw: int, divisible: bool, min_mw: int, reuse_nonce: bool) -> Order:
        return self._place(Side.BUY, power_mw, divisible, min_mw, reuse_nonce)

    @rule(target=sells, **order_shape)
    def place_sell(self, power_mw: int, divisible: bool, min_mw: int, reuse_nonce: bool) -> Order:
        return self._place(Side.SELL, power_mw, divisible, min_mw, reuse_nonce)

    def _place(
        self, side: Side, power_mw: int, divisible: bool, min_mw: int, reuse_nonce: bool
    ) -> Order:
        w = self.world
        maker = w.dso if side == Side.BUY else w.fsp
        power = power_mw * 1_000_000
        minimum = min(min_mw * 1_000_000, power) if divisible else power
        nonce = w.nonces.get(maker.name, 0) if reuse_nonce and w.nonces.get(maker.name) else None
        order = make_order(
            w,
            maker,
            side,
            slot_start=self.slot,
            power_w=power,
            min_power_w=minimum,
            divisible=divisible,
            price=20_000,
            nonce=nonce,
            expiry=self.slot + 30 * 86_400,
        )
        fn = w.market.functions.placeOrder(order.as_tuple(), sign(w, order, maker))
        used = w.market.functions.nonceUsed(maker.address, order.nonce).call()
        if used:  # the nonce went to an earlier order: this one can only be placed nowhere
            assert self._revert_name(fn, maker) == "NonceAlreadyUsed"
        else:
            with without_dry_runs():
                send(fn, maker)
        self.by_hash[digest(w, order)] = order
        return order

    def _revert_name(self, fn, who) -> str | None:
        try:
            fn.call({"from": who.address}, block_identifier="pending")
        except Exception as exc:
            return decode_error(self.world.market.abi, revert_data(exc))[0]
        return None

    @rule(order=st.one_of(buys, sells))
    def replay_signature_on_altered_order(self, order: Order) -> None:
        w = self.world
        maker = self._maker(order)
        altered = replace(
            order, price_cents_per_mwh=order.price_cents_per_mwh + 1, nonce=order.nonce + 10_000
        )
        fn = w.market.functions.placeOrder(altered.as_tuple(), sign(w, order, maker))
        assert self._revert_name(fn, maker) == "BadSignature"

    @rule(order=st.one_of(buys, sells))
    def replay_placement(self, order: Order) -> None:
        w = self.world
        maker = self._maker(order)
        fn = w.market.functions.placeOrder(order.as_tuple(), sign(w, order, maker))
        assert self._revert_name(fn, maker) == "NonceAlreadyUsed"

    def _predict(self, order: Order, power: int) -> bool:
        order_hash = digest(self.world, order)
        filled = self.filled.get(order_hash, 0)
        remaining = order.power_w - filled
        claim = self.claims.get((order.maker, order.nonce))
        if not self.world.market.functions.nonceUsed(order.maker, order.nonce).call():
            return False
        if filled == 0 and claim is not None and claim != order_hash:
            return False
        if power > remaining:
            return False
        if not order.divisible and power != order.power_w:
            return False
        return not (power < order.min_power_w and power != remaining)

    @rule(buy=buys, sell=sells, data=st.data())
    def trade(self, buy: Order, sell: Order, data: st.DataObject) -> None:
        w = self.world
        remaining = [o.power_w - self.filled.get(digest(w, o), 0) for o in (buy, sell)]
        candidates = sorted({0, 1_000_000, buy.min_power_w, sell.min_power_w, *remaining})
        power = data.draw(st.sampled_from(candidates), label="powerW")
        expected = power > 0 and self._predict(buy, power) and self._predict(sell, power)
        fn = w.market.functions.recordTrade(
            signed(w, buy, w.dso), signed(w, sell, w.fsp), power, 20_000
        )
        error = self._revert_name(fn, w.operator)
        assert (error is None) == expected, f"model expected success={expected}, got {error}"
        if error is not None:
            return
        with without_dry_runs():
            send(fn, w.operator)
        for order in (buy, sell):
            order_hash = digest(w, order)
            self.filled[order_hash] = self.filled.get(order_hash, 0) + power
            self.claims[(order.maker, order.nonce)] = order_hash
        self.trades.append(w.market.functions.tradeCount().call())

    @rule(data=st.data())
    def attest(self, data: st.DataObject) -> None:
        if not self.trades:
            return
        w = self.world
        trade_id = data.draw(st.sampled_from(self.trades))
        w.travel_to(self.slot + 4 * SLOT_S)
        fn = w.settlement.functions.attest((trade_id, 10_000_000, 9_000_000))
        try:
            fn.call({"from": w.oracle.address}, block_identifier="pending")
        except Exception as exc:
            name = decode_error(w.settlement.abi, revert_data(exc))[0]
            assert name == "AlreadyAttested" and trade_id in self.attested
            return
        assert trade_id not in self.attested, "a trade was settled twice"
        with without_dry_runs():
            send(fn, w.oracle)
        self.attested.add(trade_id)

    @invariant()
    def fills_within_volume(self) -> None:
        market = self.world.market.functions
        for order_hash, order in self.by_hash.items():
            on_chain = market.orderFilled(order_hash).call()
            assert on_chain == self.filled.get(order_hash, 0)
            assert on_chain <= order.power_w
            if not order.divisible:
                assert on_chain in (0, order.power_w)

    @invariant()
    def one_order_per_nonce(self) -> None:
        market = self.world.market.functions
        for (maker, nonce), order_hash in self.claims.items():
            assert market.nonceClaim(maker, nonce).call() == order_hash


def test_market_invariants(deployed: World) -> None:
    run_state_machine_as_test(
        lambda: MarketMachine(deployed),
        settings=settings(max_examples=8, stateful_step_count=20, deadline=None),
    )
