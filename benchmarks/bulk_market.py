"""A bulk market on a deployed world: N small trades between one DSO and one FSP.

Used by the outbox and audit benchmarks: one divisible buy of N kW, N one-kW offers of one
asset, N trades, N attestations. Every write goes through the oracle outbox.
"""

import time
from dataclasses import dataclass

from eth_utils.crypto import keccak

from oracle.eip712 import ZERO_ADDRESS, Order, order_digest, sign_order
from oracle.payloads import OrderFields
from oracle.types import SLOT_SECONDS, Address, ChainId, Direction, Side
from tests.world import World, grant_role

NODE, ASSET = 7, Address("0x00000000000000000000000000000000000a55e7")


@dataclass
class Timings:
    publish_s: float = 0.0
    drain_s: float = 0.0
    messages: int = 0
    transactions: int = 0

    @property
    def messages_per_s(self) -> float:
        return self.messages / (self.publish_s + self.drain_s)


def _drain(world: World, timings: Timings) -> None:
    started = time.perf_counter()
    report = world.oracle.drain(timeout_s=1800)
    timings.drain_s += time.perf_counter() - started
    timings.messages += report.confirmed_messages
    timings.transactions += report.sent_transactions
    if report.rejected_messages or report.errors:
        raise RuntimeError(f"bulk market rejected {report.rejected_messages}: {report.errors}")


def prepare_grid(world: World) -> None:
    dso, fsp = world.accounts["dso"].address, world.accounts["fsp"].address
    grant_role(world, fsp, 4, key="bulk-fsp")
    world.oracle.publish(
        "grid.node", {"node_id": NODE, "parent_id": 0, "operator": dso}, sender=dso, key="bulk-node"
    )
    world.oracle.drain()
    world.oracle.publish(
        "grid.asset",
        {
            "asset": ASSET,
            "meter_point_hash": "0x" + keccak(text="bulk").hex(),
            "up_w": 10**9,
            "down_w": 0,
            "technology": 1,
            "proposed_node_id": NODE,
        },
        sender=fsp,
        key="bulk-asset",
    )
    world.oracle.drain()
    world.oracle.publish(
        "grid.asset_node", {"asset": ASSET, "node_id": NODE}, sender=dso, key="bulk-asset-node"
    )
    world.oracle.drain()


def signed_orders(
    world: World, count: int
) -> tuple[tuple[Order, bytes], list[tuple[Order, bytes]]]:
    chain_id, market = ChainId(world.manifest.chain_id), world.oracle.suite.market_address
    now = int(world.connection.w3.eth.get_block("latest")["timestamp"])
    slot = (now // SLOT_SECONDS + 8) * SLOT_SECONDS
    dso, fsp = world.accounts["dso"], world.accounts["fsp"]
    buy = Order(
        Address(dso.address),
        Side.BUY,
        Direction.UP,
        NODE,
        ZERO_ADDRESS,
        slot,
        1,
        count * 1_000,
        1_000,
        True,
        30_000,
        1,
        slot,
    )
    offers = [
        Order(
            Address(fsp.address),
            Side.SELL,
            Direction.UP,
            NODE,
            ASSET,
            slot,
            1,
            1_000,
            1_000,
            False,
            10_000,
            10 + n,
            slot,
        )
        for n in range(count)
    ]
    return (buy, sign_order(buy, dso.key, chain_id, market)), [
        (o, sign_order(o, fsp.key, chain_id, market)) for o in offers
    ]


def commit_orders(world: World, orders: list[tuple[Order, bytes]], timings: Timings) -> None:
    chain_id, market = ChainId(world.manifest.chain_id), world.oracle.suite.market_address
    oracle = world.accounts["oracle"].address
    started = time.perf_counter()
    for order, signature in orders:
        digest = order_digest(order, chain_id, market)
        world.oracle.publish(
            "market.order.commit",
            {
                "order": OrderFields.from_order(order).model_dump(),
                "signature": "0x" + signature.hex(),
                "order_hash": "0x" + digest.hex(),
            },
            sender=oracle,
            key=f"commit-{digest.hex()}",
        )
    timings.publish_s += time.perf_counter() - started
    _drain(world, timings)


def _side(world: World, order: Order, signature: bytes) -> dict[str, object]:
    digest = order_digest(
        order, ChainId(world.manifest.chain_id), world.oracle.suite.market_address
    )
    commitment = world.oracle.commitment_of(f"commit-{digest.hex()}")
    return {
        "order": OrderFields.from_order(order).model_dump(),
        "signature": "0x" + signature.hex(),
        "root": "0x" + commitment.root.hex(),
        "proof": ["0x" + p.hex() for p in commitment.proof],
    }


def record_trades(
    world: World, buy: tuple[Order, bytes], offers: list[tuple[Order, bytes]], timings: Timings
) -> None:
    operator = world.accounts["operator"].address
    buy_side = _side(world, *buy)
    started = time.perf_counter()
    for order, signature in offers:
        payload = {
            "buy": buy_side,
            "sell": _side(world, order, signature),
            "power_w": 1_000,
            "price_cents_per_mwh": 10_000,
        }
        world.oracle.publish("market.trade", payload, sender=operator, key=f"trade-{order.nonce}")
    timings.publish_s += time.perf_counter() - started
    _drain(world, timings)


def attest_all(world: World, count: int, timings: Timings) -> None:
    oracle = world.accounts["oracle"].address
    started = time.perf_counter()
    for trade_id in range(1, count + 1):
        delivered = 250 if trade_id % 10 else 100  # one in ten under-delivers
        world.oracle.publish(
            "settlement.attest",
            {"trade_id": trade_id, "baseline_wh": 1_000, "metered_wh": 1_000 - delivered},
            sender=oracle,
            key=f"attest-{trade_id}",
        )
    timings.publish_s += time.perf_counter() - started
    _drain(world, timings)
