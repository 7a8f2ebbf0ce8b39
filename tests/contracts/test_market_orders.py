"""FlexMarket orders: EIP-712 parity, the wallet path, cancellation and batch commitments."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from eth_utils import keccak, to_checksum_address

from oracle.eip712 import ORDER_FIELDS, ZERO_ADDRESS, Order, recover_order_signer
from oracle.types import Address, Direction, Role, Side
from tests.contracts import merkle
from tests.contracts.world import (
    ASSET_BATTERY,
    ASSET_HEATPUMP,
    NODE_DSO_LEFT,
    NODE_DSO_RIGHT,
    NODE_TSO_ROOT,
    World,
    digest,
    events,
    first_slot,
    make_order,
    place,
    reverts,
    send,
    sign,
    signed,
)

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ZERO = "0x" + "00" * 20


def test_order_typehash_matches_oracle_fields(world: World) -> None:
    fields = ",".join(f"{f['type']} {f['name']}" for f in ORDER_FIELDS)
    assert world.market.functions.ORDER_TYPEHASH().call() == keccak(text=f"Order({fields})")


@pytest.mark.parametrize("variant", range(4))
def test_hash_order_equals_oracle_digest(world: World, variant: int) -> None:
    slot = first_slot(world)
    orders = [
        make_order(world, world.dso, Side.BUY, slot_start=slot),
        make_order(
            world,
            world.fsp,
            Side.SELL,
            slot_start=slot,
            direction=Direction.DOWN,
            divisible=True,
            min_power_w=1,
            power_w=2**32 - 1,
            price=2**32 - 1,
        ),
        make_order(
            world,
            world.tso,
            Side.BUY,
            slot_start=2**63,
            slot_count=2**16 - 1,
            nonce=2**64 - 1,
            expiry=2**64 - 1,
            node_id=2**32 - 1,
        ),
        make_order(
            world,
            world.fsp2,
            Side.SELL,
            slot_start=slot,
            asset=ASSET_HEATPUMP,
            node_id=NODE_DSO_RIGHT,
            price=0,
        ),
    ]
    order = orders[variant]
    assert world.market.functions.hashOrder(order.as_tuple()).call() == digest(world, order)


def test_place_order_logs_the_hash(world: World) -> None:
    order = make_order(world, world.dso, Side.BUY, slot_start=first_slot(world))
    signature = sign(world, order, world.dso)
    assert recover_order_signer(
        order, signature, world.chain_id, Address(world.market.address)
    ) == (world.dso.address)
    receipt = send(world.market.functions.placeOrder(order.as_tuple(), signature), world.dso)
    [event] = events(world.market, receipt, "OrderPlaced")
    # the order and signature are the calldata (and every trade's log): the log names the hash
    assert event == {"orderHash": digest(world, order), "maker": world.dso.address}
    assert world.market.functions.nonceUsed(world.dso.address, order.nonce).call()
    assert not world.market.functions.nonceUsed(world.dso.address, order.nonce + 1).call()
    assert world.market.functions.orderFilled(digest(world, order)).call() == 0


def test_tso_buys_and_fsp_sells(world: World) -> None:
    slot = first_slot(world)
    place(world, make_order(world, world.tso, Side.BUY, slot_start=slot, node_id=NODE_TSO_ROOT))
    place(world, make_order(world, world.fsp, Side.SELL, slot_start=slot))


def test_nonce_is_placed_once(world: World) -> None:
    slot = first_slot(world)
    order = make_order(world, world.dso, Side.BUY, slot_start=slot, nonce=300)
    place(world, order)
    with reverts(world.market, "NonceAlreadyUsed", world.dso.address, 300):
        place(world, order)
    other = replace(order, price_cents_per_mwh=1)
    with reverts(world.market, "NonceAlreadyUsed", world.dso.address, 300):
        place(world, other)
    # neighbouring nonces in the same bitmap word are independent
    place(world, replace(order, nonce=301))
    place(world, replace(order, nonce=299))


@pytest.mark.parametrize(
    ("changes", "error", "args"),
    [
        ({"power_w": 0, "min_power_w": 0}, "ZeroPower", ()),
        (
            {"min_power_w": 3_000_000, "divisible": True},
            "MinPowerAbovePower",
            (3_000_000, 2_000_000),
        ),
        ({"min_power_w": 1_000_000}, "IndivisibleMinPower", (1_000_000, 2_000_000)),
        ({"slot_count": 0}, "ZeroSlotCount", ()),
        ({"slot_start_offset": 450}, "SlotNotAligned", ("slot_start",)),
        ({"side": 2}, "InvalidSide", (2,)),
        ({"direction": 2}, "InvalidDirection", (2,)),
        ({"asset": ASSET_BATTERY}, "BuyOrderHasAsset", (ASSET_BATTERY,)),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_malformed_orders(world: World, changes: dict, error: str, args: tuple) -> None:
    order = make_order(world, world.dso, Side.BUY, slot_start=first_slot(world))
    changes = dict(changes)
    if "slot_start_offset" in changes:
        changes["slot_start"] = order.slot_start + changes.pop("slot_start_offset")
        changes["expiry"] = order.expiry + 3600
    order = replace(order, **changes)
    args = tuple(order.slot_start if a == "slot_start" else a for a in args)
    with reverts(world.market, error, digest(world, order), *args):
        place(world, order)


def test_slot_count_is_capped(world: World) -> None:
    assert world.market.functions.MAX_SLOT_COUNT().call() == 96
    slot = first_slot(world)
    place(world, make_order(world, world.dso, Side.BUY, slot_start=slot, slot_count=96))
    long = make_order(world, world.dso, Side.BUY, slot_start=slot, slot_count=97)
    with reverts(world.market, "TooManySlots", digest(world, long), 97, 96):
        place(world, long)


def test_expired_order(world: World) -> None:
    slot = first_slot(world)
    order = make_order(world, world.dso, Side.BUY, slot_start=slot, expiry=world.now() + 50)
    stamp = world.at(order.expiry)
    with reverts(world.market, "OrderExpired", digest(world, order), order.expiry, stamp):
        place(world, order)


def test_expiry_is_exclusive(world: World) -> None:
    order = make_order(
        world, world.dso, Side.BUY, slot_start=first_slot(world), expiry=world.now() + 50
    )
    world.at(order.expiry - 1)
    place(world, order)


def _refused_at_trade(world: World, order: Order, error: str, *args: object) -> None:
    """Placement publishes ``order``; recording a trade with it reverts with ``error``."""
    place(world, order)
    buy_maker = order.maker if order.side == Side.BUY else world.dso.address
    counterpart = make_order(
        world,
        world.fsp if order.side == Side.BUY else world.dso,
        Side.SELL if order.side == Side.BUY else Side.BUY,
        slot_start=order.slot_start,
        direction=order.direction,
        price=order.price_cents_per_mwh,
    )
    place(world, counterpart)
    buy, sell = (order, counterpart) if order.side == Side.BUY else (counterpart, order)
    buyer = world.people[next(n for n, p in world.people.items() if p.address == buy_maker)]
    seller = world.people[next(n for n, p in world.people.items() if p.address == sell.maker)]
    fn = world.market.functions.recordTrade(
        signed(world, buy, buyer),
        signed(world, sell, seller),
        order.power_w,
        order.price_cents_per_mwh,
    )
    with reverts(world.market, error, *args):
        send(fn, world.operator)


def test_placement_publishes_and_the_trade_checks_roles(world: World) -> None:
    """Placement authorises nothing (roles, assets and the current DID owner are checked
    when an order trades), so it needs no registry read in the common case."""
    slot = first_slot(world)
    buy = make_order(world, world.fsp, Side.BUY, slot_start=slot)
    _refused_at_trade(world, buy, "NotSystemOperator", world.fsp.address)
    sell = make_order(world, world.dso, Side.SELL, slot_start=slot)
    _refused_at_trade(world, sell, "MissingRole", world.dso.address, int(Role.FSP))
    send(world.roles.functions.revokeRole(world.fsp.address, Role.FSP), world.operator)
    revoked = make_order(world, world.fsp, Side.SELL, slot_start=slot)
    _refused_at_trade(world, revoked, "MissingRole", world.fsp.address, int(Role.FSP))


def test_placement_publishes_and_the_trade_checks_the_asset(world: World) -> None:
    slot = first_slot(world)
    foreign = make_order(
        world, world.fsp, Side.SELL, slot_start=slot, asset=ASSET_HEATPUMP, node_id=NODE_DSO_RIGHT
    )
    _refused_at_trade(
        world,
        foreign,
        "AssetNotOwnedByMaker",
        digest(world, foreign),
        ASSET_HEATPUMP,
        world.fsp2.address,
        world.fsp.address,
    )
    unknown_asset = Address(to_checksum_address("0x" + "c3" * 20))
    unknown = make_order(world, world.fsp, Side.SELL, slot_start=slot, asset=unknown_asset)
    _refused_at_trade(
        world,
        unknown,
        "AssetNotOwnedByMaker",
        digest(world, unknown),
        unknown_asset,
        ZERO,
        world.fsp.address,
    )
    wrong_node = make_order(world, world.fsp, Side.SELL, slot_start=slot, node_id=NODE_DSO_RIGHT)
    _refused_at_trade(
        world,
        wrong_node,
        "AssetNodeMismatch",
        digest(world, wrong_node),
        ASSET_BATTERY,
        NODE_DSO_LEFT,
        NODE_DSO_RIGHT,
    )
    asset = Address(to_checksum_address("0x" + "c4" * 20))
    send(world.grid.functions.registerAsset(asset, b"\1" * 32, 1, 1, 1, NODE_DSO_LEFT), world.fsp)
    unconfirmed = make_order(world, world.fsp, Side.SELL, slot_start=slot, asset=asset)
    _refused_at_trade(
        world, unconfirmed, "AssetNodeMismatch", digest(world, unconfirmed), asset, 0, NODE_DSO_LEFT
    )
    send(world.grid.functions.retireAsset(ASSET_BATTERY), world.fsp)
    retired = make_order(world, world.fsp, Side.SELL, slot_start=slot)
    _refused_at_trade(world, retired, "AssetIsRetired", digest(world, retired), ASSET_BATTERY)


def test_buy_names_no_asset_at_placement(world: World) -> None:
    buy = make_order(world, world.dso, Side.BUY, slot_start=first_slot(world), asset=ASSET_BATTERY)
    with reverts(world.market, "BuyOrderHasAsset", digest(world, buy), ASSET_BATTERY):
        place(world, buy)


def test_signature_checks(world: World) -> None:
    order = make_order(world, world.dso, Side.BUY, slot_start=first_slot(world))
    order_hash = digest(world, order)
    place_fn = world.market.functions.placeOrder
    with reverts(
        world.market, "BadSignature", order_hash, world.dso.address, world.outsider.address
    ):
        send(place_fn(order.as_tuple(), sign(world, order, world.outsider)), world.dso)
    good = sign(world, order, world.dso)
    with reverts(world.market, "BadSignature", order_hash, world.dso.address, ZERO):
        send(place_fn(order.as_tuple(), good[:64]), world.dso)
    r, s, v = good[:32], int.from_bytes(good[32:64], "big"), good[64]
    malleable = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])
    with reverts(world.market, "BadSignature", order_hash, world.dso.address, ZERO):
        send(place_fn(order.as_tuple(), malleable), world.dso)
    # a relayer may submit the maker's signed order
    send(place_fn(order.as_tuple(), good), world.outsider)


def test_signer_follows_did_owner(world: World) -> None:
    """The new owner signs (registry read); the replaced key still publishes at placement
    (no registry read when the signer is the identity itself) but its order never trades."""
    send(world.dids.functions.changeOwner(world.dso.address, world.spare.address), world.dso)
    order = make_order(world, world.dso, Side.BUY, slot_start=first_slot(world))
    place(world, order, signer=world.spare)
    stale = make_order(world, world.dso, Side.BUY, slot_start=first_slot(world))
    place(world, stale, signer=world.dso)
    sell = make_order(world, world.fsp, Side.SELL, slot_start=stale.slot_start)
    place(world, sell)
    fn = world.market.functions.recordTrade(
        signed(world, stale, world.dso), signed(world, sell, world.fsp), 2_000_000, 20_000
    )
    with reverts(
        world.market, "BadSignature", digest(world, stale), world.dso.address, world.dso.address
    ):
        send(fn, world.operator)
    outsider_signed = make_order(world, world.dso, Side.BUY, slot_start=first_slot(world))
    with reverts(
        world.market,
        "BadSignature",
        digest(world, outsider_signed),
        world.dso.address,
        world.outsider.address,
    ):
        place(world, outsider_signed, signer=world.outsider)


def test_cancel_order(world: World) -> None:
    order = make_order(world, world.dso, Side.BUY, slot_start=first_slot(world))
    order_hash = digest(world, order)
    cancel = world.market.functions.cancelOrder(order.as_tuple())
    with reverts(
        world.market, "NotOrderOwner", order_hash, world.dso.address, world.outsider.address
    ):
        send(cancel, world.outsider)
    receipt = send(cancel, world.dso)
    assert events(world.market, receipt, "OrderCancelled") == [
        {"orderHash": order_hash, "maker": world.dso.address}
    ]
    assert world.market.functions.isCancelled(order_hash).call()
    with reverts(world.market, "OrderAlreadyCancelled", order_hash):
        send(cancel, world.dso)


def test_cancel_by_did_owner(world: World) -> None:
    send(world.dids.functions.changeOwner(world.fsp.address, world.spare.address), world.fsp)
    order = make_order(world, world.fsp, Side.SELL, slot_start=first_slot(world))
    cancel = world.market.functions.cancelOrder(order.as_tuple())
    with reverts(
        world.market, "NotOrderOwner", digest(world, order), world.fsp.address, world.fsp.address
    ):
        send(cancel, world.fsp)
    send(cancel, world.spare)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 13])
def test_commit_root_matches_python_tree(world: World, count: int) -> None:
    leaves = [os.urandom(32) for _ in range(count)]
    receipt = send(world.market.functions.commitOrderBatch(leaves), world.oracle)
    root = merkle.root(leaves)
    assert events(world.market, receipt, "OrderBatchCommitted") == [
        {"root": root, "count": count, "committer": world.oracle.address}
    ]
    stamp = world.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert world.market.functions.batchCommittedAt(root).call() == stamp
    for index in range(count):
        assert merkle.verify(leaves[index], merkle.proof(leaves, index), root)


def test_commit_rules(world: World) -> None:
    commit = world.market.functions.commitOrderBatch
    leaves = [os.urandom(32) for _ in range(4)]
    with reverts(world.market, "NotBatchCommitter", world.dso.address):
        send(commit(leaves), world.dso)
    with reverts(world.market, "BatchSizeOutOfRange", 0, 3000):
        send(commit([]), world.operator)
    with reverts(world.market, "BatchSizeOutOfRange", 3001, 3000):
        send(commit([os.urandom(32)] * 3001), world.operator)
    receipt = send(commit(leaves), world.operator)
    stamp = world.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    with reverts(world.market, "BatchAlreadyCommitted", merkle.root(leaves), stamp):
        send(commit(leaves), world.oracle)
    assert world.market.functions.batchCommittedAt(b"\1" * 32).call() == 0


def test_registries_are_exposed(world: World) -> None:
    m = world.market.functions
    assert m.roleRegistry().call() == world.roles.address
    assert m.didRegistry().call() == world.dids.address
    assert m.gridRegistry().call() == world.grid.address
    assert m.tradeCount().call() == 0
    domain = m.eip712Domain().call()
    assert domain[1:5] == ["flexledger Market", "1", world.chain_id, world.market.address]
    assert ZERO_ADDRESS == ZERO
