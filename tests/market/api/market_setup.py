"""A grid, mapped assets and trades recorded on chain, for the baseline and settlement tests.

Rows go straight into the platform's tables and every chain write goes the way production
sends it: registry calls signed by the participant's wallet and relayed, orders committed
by the oracle in a Merkle batch, trades recorded by the market operator (the mechanics of
flexledger/scenario_market.py). The platform's own grid, asset and order endpoints have
their own tests; these helpers only need their chain side.
"""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak
from sqlmodel import Session, select

from market.assets import TECHNOLOGY_CODE, Technology
from market.db.models import (
    Asset,
    ClearingRun,
    GridNode,
    MarketOrder,
    MarketTrade,
    OrganisationKind,
)
from market.transactions import unsigned_call
from oracle.eip712 import ZERO_ADDRESS, Order, order_digest
from oracle.payloads import OrderFields
from oracle.types import SLOT_SECONDS, Address, ChainId, Direction, Side
from tests.market.api.platform_world import Actor, PlatformWorld

_ids = itertools.count(70_001)


def next_id() -> int:
    return next(_ids)


@dataclass
class Market:
    """A DSO operating ``root`` -> ``feeder``, and an FSP with assets at ``feeder``."""

    world: PlatformWorld
    dso: Actor
    fsp: Actor
    root: int
    feeder: int


@dataclass(frozen=True)
class TradeSpec:
    asset: Asset
    slot_start: int
    slot_count: int
    power_w: int
    price_cents_per_mwh: int
    market: str = "intraday"
    gate_closure: int | None = None  # default: the market's rule for slot_start
    direction: Direction = Direction.UP


def open_market(world: PlatformWorld, name: str) -> Market:
    # The platform asked "does the oracle hold ORACLE?" before granting it, and the publish
    # view caches that "no" for VIEW_TTL_S; a fast test would publish inside that window.
    world.platform.oracle.view.forget()
    dso = world.onboard(OrganisationKind.DSO, f"DSO {name}")
    fsp = world.onboard(OrganisationKind.FSP, f"FSP {name}")
    root, feeder = next_id(), next_id()
    publish_nodes(world, dso, [(root, 0), (feeder, root)])
    return Market(world, dso, fsp, root, feeder)


def store_nodes(world: PlatformWorld, dso: Actor, nodes: Sequence[tuple[int, int]]) -> None:
    """Platform rows for the DSO's nodes, as a grid import stores them (not yet on chain)."""
    assert dso.organisation_id is not None
    with Session(world.platform.engine) as session:
        for node_id, parent in nodes:
            session.add(
                GridNode(
                    node_id=node_id,
                    operator_id=dso.organisation_id,
                    parent_id=parent,
                    name=f"bus {node_id}",
                    kind="bus",
                    voltage_kv=0.4,
                    network="tests",
                )
            )
        session.commit()


def publish_nodes(world: PlatformWorld, dso: Actor, nodes: Sequence[tuple[int, int]]) -> None:
    store_nodes(world, dso, nodes)
    for node_id, parent in nodes:
        relay(world, dso, "registerNode", (node_id, parent, dso.address))
    world.settle()


def relay(world: PlatformWorld, actor: Actor, function: str, args: tuple[Any, ...]) -> None:
    """Have ``actor``'s wallet sign a GridRegistry call and relay it through the API."""
    tx = unsigned_call(world.platform, Address(actor.address), "GridRegistry", function, args)
    raw = actor.wallet.sign_transaction({k: v for k, v in tx.items() if k != "from"})
    response = world.client.post(
        "/api/v1/transactions", json={"raw_transaction": raw}, headers=actor.headers
    )
    assert response.status_code == 202, response.text


def add_assets(market: Market, plans: Sequence[tuple[Technology, float]]) -> list[Asset]:
    """Register assets (technology, prequalified up kW) at the feeder on chain and have the
    DSO confirm the node."""
    world = market.world
    assert market.fsp.organisation_id is not None
    assets = [
        Asset(
            id=Address(Account.create().address),
            owner_id=market.fsp.organisation_id,
            name=f"asset {n}",
            technology=technology.value,
            meter_point_id=f"{next_id():018d}",
            latitude=52.5,
            longitude=13.4,
            up_w=round(up_kw * 1000),
            down_w=0,
            proposed_node_id=market.feeder,
        )
        for n, (technology, up_kw) in enumerate(plans)
    ]
    with Session(world.platform.engine) as session:
        session.add_all(assets)
        session.commit()
        for asset in assets:
            session.refresh(asset)
    for asset in assets:
        code = TECHNOLOGY_CODE[Technology(asset.technology)]
        meter_hash = keccak(text=asset.meter_point_id)
        args = (asset.id, meter_hash, asset.up_w, asset.down_w, code, market.feeder)
        relay(world, market.fsp, "registerAsset", args)
    world.settle()
    for asset in assets:
        relay(world, market.dso, "confirmAssetNode", (asset.id, market.feeder))
    world.settle()
    return assets


def record_trades(market: Market, specs: Sequence[TradeSpec]) -> list[MarketTrade]:
    """One buy and one sell order per spec, committed, matched and recorded on chain."""
    world = market.world
    signed = [(_signed(market, spec, Side.BUY), _signed(market, spec, Side.SELL)) for spec in specs]
    for buy, sell in signed:
        _commit(world, *buy)
        _commit(world, *sell)
    world.settle()
    with Session(world.platform.engine) as session:
        run = ClearingRun(
            market="tests", period_start=0, period_end=0, pricing="pay_as_bid", orders=0, trades=0
        )
        session.add(run)
        session.commit()
        assert run.id is not None
        run_id = run.id
        for spec, (buy, sell) in zip(specs, signed, strict=True):
            session.add(_order_row(market, spec, *buy))
            session.add(_order_row(market, spec, *sell))
        session.commit()
    keys = [
        _publish_trade(world, spec, buy, sell)
        for spec, (buy, sell) in zip(specs, signed, strict=True)
    ]
    trades = [
        _trade_row(market, run_id, spec, buy, sell, key)
        for spec, (buy, sell), key in zip(specs, signed, keys, strict=True)
    ]
    with Session(world.platform.engine) as session:
        session.add_all(trades)
        session.commit()
    world.settle()
    with Session(world.platform.engine) as session:
        found = [
            session.exec(select(MarketTrade).where(MarketTrade.outbox_key == k)).one() for k in keys
        ]
    assert all(t.chain_trade_id is not None for t in found), "a trade was not recorded on chain"
    return found


def _signed(market: Market, spec: TradeSpec, side: Side) -> tuple[Order, bytes, Actor]:
    maker = market.dso if side == Side.BUY else market.fsp
    order = Order(
        maker=Address(maker.address),
        side=side,
        direction=spec.direction,
        node_id=market.root if side == Side.BUY else market.feeder,
        asset=ZERO_ADDRESS if side == Side.BUY else Address(spec.asset.id),
        slot_start=spec.slot_start,
        slot_count=spec.slot_count,
        power_w=spec.power_w,
        min_power_w=spec.power_w,
        divisible=False,
        price_cents_per_mwh=spec.price_cents_per_mwh,
        nonce=next_id(),
        expiry=spec.slot_start,
    )
    market_address = market.world.platform.oracle.suite.market_address
    return order, maker.wallet.sign_order(order, market_address), maker


def _digest(world: PlatformWorld, order: Order) -> str:
    suite = world.platform.oracle.suite
    return "0x" + order_digest(order, ChainId(world.platform.chain_id), suite.market_address).hex()


def _commit(world: PlatformWorld, order: Order, signature: bytes, _maker: Actor) -> None:
    digest = _digest(world, order)
    world.platform.oracle.publish(
        "market.order.commit",
        {
            "order": OrderFields.from_order(order).model_dump(),
            "signature": "0x" + signature.hex(),
            "order_hash": digest,
        },
        sender=world.platform.oracle_address,
        key=f"commit:{digest}",
    )


def _order_row(
    market: Market, spec: TradeSpec, order: Order, signature: bytes, maker: Actor
) -> MarketOrder:
    assert maker.organisation_id is not None
    gate = market.world.platform.markets.get(spec.market).gate_closure(spec.slot_start)
    return MarketOrder(
        id=_digest(market.world, order),
        market=spec.market,
        organisation_id=maker.organisation_id,
        maker=order.maker,
        side=int(order.side),
        direction=int(order.direction),
        node_id=order.node_id,
        asset=order.asset,
        slot_start=order.slot_start,
        slot_count=order.slot_count,
        power_w=order.power_w,
        min_power_w=order.min_power_w,
        divisible=order.divisible,
        price_cents_per_mwh=order.price_cents_per_mwh,
        nonce=order.nonce,
        expiry=order.expiry,
        signature="0x" + signature.hex(),
        gate_closure=gate if spec.gate_closure is None else spec.gate_closure,
    )


def _side(world: PlatformWorld, order: Order, signature: bytes) -> dict[str, Any]:
    commitment = world.platform.oracle.commitment_of(f"commit:{_digest(world, order)}")
    return {
        "order": OrderFields.from_order(order).model_dump(),
        "signature": "0x" + signature.hex(),
        "root": "0x" + commitment.root.hex(),
        "proof": ["0x" + p.hex() for p in commitment.proof],
    }


def _publish_trade(
    world: PlatformWorld,
    spec: TradeSpec,
    buy: tuple[Order, bytes, Actor],
    sell: tuple[Order, bytes, Actor],
) -> str:
    key = f"trade:{_digest(world, buy[0])}:{_digest(world, sell[0])}"
    world.platform.oracle.publish(
        "market.trade",
        {
            "buy": _side(world, buy[0], buy[1]),
            "sell": _side(world, sell[0], sell[1]),
            "power_w": spec.power_w,
            "price_cents_per_mwh": spec.price_cents_per_mwh,
        },
        sender=world.platform.operator_address,
        key=key,
    )
    return key


def _trade_row(
    market: Market,
    run_id: int,
    spec: TradeSpec,
    buy: tuple[Order, bytes, Actor],
    sell: tuple[Order, bytes, Actor],
    key: str,
) -> MarketTrade:
    assert market.dso.organisation_id is not None and market.fsp.organisation_id is not None
    return MarketTrade(
        run_id=run_id,
        buy_order_id=_digest(market.world, buy[0]),
        sell_order_id=_digest(market.world, sell[0]),
        buyer_id=market.dso.organisation_id,
        seller_id=market.fsp.organisation_id,
        asset=spec.asset.id,
        node_id=market.root,
        direction=int(spec.direction),
        slot_start=spec.slot_start,
        slot_count=spec.slot_count,
        power_w=spec.power_w,
        price_cents_per_mwh=spec.price_cents_per_mwh,
        outbox_key=key,
    )


def slot_after(world: PlatformWorld, seconds: int) -> int:
    """The first slot start at least ``seconds`` after the platform's now."""
    moment = world.platform.now() + seconds
    return (moment // SLOT_SECONDS + 1) * SLOT_SECONDS


def advance_past(world: PlatformWorld, moment: int) -> None:
    """Move the chain's clock (and so the platform's) to just after ``moment``."""
    now = world.platform.now()
    if now <= moment:
        world.connection.dev_chain.advance_time(moment - now + 60)


def nomination(
    asset: Asset, start: int, kwh: list[float], market: str = "intraday"
) -> dict[str, Any]:
    """The body of ``POST /baselines`` nominating ``kwh`` per slot from ``start``."""
    return {
        "asset_id": asset.id,
        "method": "nominated",
        "period_start": start,
        "slot_count": len(kwh),
        "values_kwh": kwh,
        "market": market,
    }
