"""Wallet-signed registry transactions relayed through the oracle's outbox: what the relay
lets through, the platform's rules it applies to the decoded arguments (issue 7), and the gas
and fees it refuses at submission."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from sqlmodel import Session, col, select

from market.assets import TECHNOLOGY_CODE, Technology
from market.db.models import Asset, ChainFlag
from market.sync import EventSync
from market.transactions import unsigned_call
from oracle.indexer.models import IndexedEvent
from oracle.outbox.models import MessageStatus, OutboxMessage
from oracle.types import Address
from tests.market.api.market_setup import Market, add_assets, next_id, open_market, store_nodes
from tests.market.api.platform_world import Actor, PlatformWorld


@dataclass
class Cast:
    world: PlatformWorld
    a: Market  # DSO A with a battery at its feeder
    b: Market  # DSO B with a heat pump at its feeder
    battery: Asset
    heat_pump: Asset


@pytest.fixture(scope="module")
def cast(world: PlatformWorld) -> Iterator[Cast]:
    a, b = open_market(world, "Relay A"), open_market(world, "Relay B")
    (battery,) = add_assets(a, [(Technology.BATTERY, 5.0)])
    (heat_pump,) = add_assets(b, [(Technology.HEAT_PUMP, 3.0)])
    yield Cast(world, a, b, battery, heat_pump)


def _tx(
    world: PlatformWorld, actor: Actor, function: str, args: tuple[Any, ...], **changes: Any
) -> dict[str, Any]:
    tx = unsigned_call(world.platform, Address(actor.address), "GridRegistry", function, args)
    return {**{k: v for k, v in tx.items() if k != "from"}, **changes}


def _post(world: PlatformWorld, actor: Actor, tx: dict[str, Any]) -> Any:
    raw = actor.wallet.sign_transaction(tx)
    return world.client.post(
        "/api/v1/transactions", json={"raw_transaction": raw}, headers=actor.headers
    )


def _relay(world: PlatformWorld, actor: Actor, tx: dict[str, Any]) -> dict[str, str]:
    response = _post(world, actor, tx)
    assert response.status_code == 202, response.text
    relayed: dict[str, str] = response.json()
    return relayed


def _refused(world: PlatformWorld, actor: Actor, tx: dict[str, Any], status: int) -> str:
    """Posts ``tx``; asserts ``status`` and that nothing reached the outbox; the field named."""
    before = _outbox(world)
    response = _post(world, actor, tx)
    assert response.status_code == status, response.text
    assert _outbox(world) == before
    detail = response.json()["detail"][0]
    return ".".join(str(part) for part in detail["loc"][1:])


def _outbox(world: PlatformWorld) -> int:
    with Session(world.platform.engine) as session:
        return len(session.exec(select(OutboxMessage.id)).all())


def _status(world: PlatformWorld, actor: Actor, tx_hash: str) -> dict[str, Any]:
    response = world.client.get(f"/api/v1/transactions/{tx_hash}", headers=actor.headers)
    found: dict[str, Any] = response.json()
    return found


def _register_args(asset: Asset, **changes: Any) -> tuple[Any, ...]:
    fields = {
        "address": asset.id,
        "hash": keccak(text=asset.meter_point_id),
        "up": asset.up_w,
        "down": asset.down_w,
        "tech": TECHNOLOGY_CODE[Technology(asset.technology)],
        "node": asset.proposed_node_id,
        **changes,
    }
    return tuple(fields.values())


def _new_asset(market: Market, **changes: Any) -> Asset:
    """An asset stored on the platform for the market's FSP, not yet on chain."""
    assert market.fsp.organisation_id is not None
    asset = Asset(
        id=Address(Account.create().address),
        owner_id=market.fsp.organisation_id,
        name="relay asset",
        technology="battery",
        meter_point_id=f"{next_id():018d}",
        latitude=52.5,
        longitude=13.4,
        up_w=4000,
        down_w=2000,
        proposed_node_id=market.feeder,
        **changes,
    )
    with Session(market.world.platform.engine) as session:
        session.add(asset)
        session.commit()
        session.refresh(asset)
    return asset


# --- what goes through -----------------------------------------------------------------


def test_a_wallet_signed_registration_lands_on_chain(cast: Cast) -> None:
    world, dso = cast.world, cast.a.dso
    first_id, second_id = next_id(), next_id()
    store_nodes(world, dso, [(first_id, cast.a.feeder), (second_id, first_id)])
    first = _relay(
        world, dso, _tx(world, dso, "registerNode", (first_id, cast.a.feeder, dso.address))
    )
    second = _relay(world, dso, _tx(world, dso, "registerNode", (second_id, first_id, dso.address)))
    world.settle()
    assert _status(world, dso, first["tx_hash"])["status"] == MessageStatus.CONFIRMED
    assert _status(world, dso, second["tx_hash"])["status"] == MessageStatus.CONFIRMED
    assert world.platform.oracle.suite.read("GridRegistry", "isAtOrBelow", second_id, first_id)


def test_a_call_the_contract_refuses_is_rejected_with_its_error(cast: Cast) -> None:
    world, dso = cast.world, cast.a.dso
    node_id = next_id()
    store_nodes(world, dso, [(node_id, cast.a.feeder)])
    args = (node_id, cast.a.feeder, dso.address)
    _relay(world, dso, _tx(world, dso, "registerNode", args))
    again = _relay(world, dso, _tx(world, dso, "registerNode", args))  # the next nonce
    world.settle()
    response = _status(world, dso, again["tx_hash"])
    assert response["status"] == MessageStatus.REJECTED
    assert "NodeExists" in response["error"] and str(node_id) in response["error"]


def test_wallets_without_a_participant_role_relay_nothing(cast: Cast) -> None:
    stranger = cast.world.new_actor()
    tx = _tx(cast.world, stranger, "registerAsset", _register_args(cast.battery))
    assert _refused(cast.world, stranger, tx, 403) == "authorization"


def test_someone_elses_transaction_is_refused(cast: Cast) -> None:
    world, signer, caller = cast.world, cast.world.new_actor(), cast.a.fsp
    raw = signer.wallet.sign_transaction(
        _tx(world, signer, "registerAsset", _register_args(cast.battery))
    )
    response = world.client.post(
        "/api/v1/transactions", json={"raw_transaction": raw}, headers=caller.headers
    )
    assert response.status_code == 403
    assert response.json()["detail"][0]["loc"] == ["body", "raw_transaction"]


def test_only_registry_functions_may_be_relayed(cast: Cast) -> None:
    world, fsp = cast.world, cast.a.fsp
    tx = _tx(world, fsp, "retireAsset", (cast.battery.id,))
    tx["to"] = world.platform.oracle.suite.manifest.address_of("FlexSettlement")
    assert _refused(world, fsp, tx, 422) == "raw_transaction"


def test_garbage_is_refused_naming_the_field(cast: Cast) -> None:
    response = cast.world.client.post(
        "/api/v1/transactions", json={"raw_transaction": "0x02abcdef"}, headers=cast.a.fsp.headers
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "raw_transaction"]


# --- the platform's rules on the decoded arguments (issue 7) ----------------------------


def test_a_dso_cannot_remap_another_dsos_asset(cast: Cast) -> None:
    world, thief = cast.world, cast.b.dso
    tx = _tx(world, thief, "confirmAssetNode", (cast.battery.id, cast.b.feeder))
    assert _refused(world, thief, tx, 403) == "raw_transaction.asset"
    batch = _tx(
        world,
        thief,
        "confirmAssetNodes",
        ([cast.heat_pump.id, cast.battery.id], [cast.b.feeder, cast.b.feeder]),
    )
    assert _refused(world, thief, batch, 403) == "raw_transaction.assets.1"
    # its own asset, but to a node of the other DSO
    tx = _tx(world, thief, "confirmAssetNode", (cast.heat_pump.id, cast.a.feeder))
    assert _refused(world, thief, tx, 403) == "raw_transaction.nodeId"
    fsp = cast.a.fsp
    tx = _tx(world, fsp, "confirmAssetNode", (cast.battery.id, cast.a.feeder))
    assert _refused(world, fsp, tx, 403) == "raw_transaction"


def test_a_dso_cannot_register_nodes_the_platform_does_not_hold_for_it(cast: Cast) -> None:
    world, dso = cast.world, cast.b.dso
    unknown = next_id()
    tx = _tx(world, dso, "registerNode", (unknown, cast.a.feeder, dso.address))
    assert _refused(world, dso, tx, 422) == "raw_transaction.nodeId"
    tx = _tx(world, dso, "registerNode", (cast.a.feeder, cast.a.root, dso.address))
    assert _refused(world, dso, tx, 403) == "raw_transaction.nodeId"  # the other DSO's node
    own = next_id()
    store_nodes(world, dso, [(own, cast.b.feeder)])
    tx = _tx(world, dso, "registerNode", (own, cast.a.feeder, dso.address))  # other parent
    assert _refused(world, dso, tx, 422) == "raw_transaction.parentId"
    tx = _tx(world, dso, "registerNode", (own, cast.b.feeder, cast.a.dso.address))
    assert _refused(world, dso, tx, 403) == "raw_transaction.operator"
    batch = _tx(world, dso, "registerNodes", ([own, unknown], [cast.b.feeder, own], dso.address))
    assert _refused(world, dso, batch, 422) == "raw_transaction.nodeIds.1"


def test_an_fsp_cannot_raise_its_assets_capacity_past_the_platform(cast: Cast) -> None:
    world, fsp, battery = cast.world, cast.a.fsp, cast.battery
    tx = _tx(world, fsp, "updateAssetCapacity", (battery.id, battery.up_w + 1, battery.down_w))
    assert _refused(world, fsp, tx, 422) == "raw_transaction.upW"
    tx = _tx(world, fsp, "updateAssetCapacity", (battery.id, 0, battery.down_w + 1))
    assert _refused(world, fsp, tx, 422) == "raw_transaction.downW"
    other = cast.b.fsp
    tx = _tx(world, other, "updateAssetCapacity", (battery.id, 0, 0))
    assert _refused(world, other, tx, 403) == "raw_transaction.asset"
    tx = _tx(world, other, "retireAsset", (battery.id,))
    assert _refused(world, other, tx, 403) == "raw_transaction.asset"


def test_an_asset_registration_must_match_the_platforms_record(cast: Cast) -> None:
    world, fsp = cast.world, cast.a.fsp
    asset = _new_asset(cast.a)
    cases = {
        "raw_transaction.meterPointHash": {"hash": keccak(text="another meter")},
        "raw_transaction.upW": {"up": asset.up_w * 10},
        "raw_transaction.downW": {"down": asset.down_w + 1},
        "raw_transaction.technology": {"tech": 3},
        "raw_transaction.proposedNodeId": {"node": cast.b.feeder},
    }
    for field, change in cases.items():
        tx = _tx(world, fsp, "registerAsset", _register_args(asset, **change))
        assert _refused(world, fsp, tx, 422) == field
    unknown = Address(Account.create().address)
    tx = _tx(world, fsp, "registerAsset", _register_args(asset, address=unknown))
    assert _refused(world, fsp, tx, 422) == "raw_transaction.asset"
    other = cast.b.fsp
    tx = _tx(world, other, "registerAsset", _register_args(asset))
    assert _refused(world, other, tx, 403) == "raw_transaction.asset"
    second = _new_asset(cast.a)
    items = [_register_args(asset), _register_args(second, up=1)]
    batch = _tx(world, fsp, "registerAssets", (items,))
    assert _refused(world, fsp, batch, 422) == "raw_transaction.assets.1.upW"
    good = _tx(world, fsp, "registerAssets", ([_register_args(asset), _register_args(second)],))
    relayed = _relay(world, fsp, good)
    world.settle()
    assert _status(world, fsp, relayed["tx_hash"])["status"] == MessageStatus.CONFIRMED


# --- gas and fees that cannot work -------------------------------------------------------


def test_gas_and_fees_that_cannot_work_are_refused_at_submission(cast: Cast) -> None:
    world, fsp = cast.world, cast.a.fsp
    args = (cast.battery.id,)
    tx = _tx(world, fsp, "retireAsset", args)
    w3 = world.platform.oracle.suite.w3
    block = w3.eth.get_block("latest")
    base_fee, gas_limit = int(block["baseFeePerGas"]), int(block["gasLimit"])
    cases: list[tuple[dict[str, Any], str]] = [
        ({"gas": 21_000}, "raw_transaction.gas"),  # below the intrinsic gas of its call data
        ({"gas": 22_500}, "raw_transaction.gas"),  # above intrinsic, below the estimate
        ({"gas": gas_limit + 1}, "raw_transaction.gas"),
        ({"maxFeePerGas": base_fee - 1, "maxPriorityFeePerGas": 0}, "raw_transaction.maxFeePerGas"),
        (
            {"maxFeePerGas": tx["maxFeePerGas"], "maxPriorityFeePerGas": tx["maxFeePerGas"] + 1},
            "raw_transaction.maxPriorityFeePerGas",
        ),
        ({"gas": gas_limit, "maxFeePerGas": 10**13}, "raw_transaction.gas"),  # > its balance
    ]
    for changes, field in cases:
        assert _refused(world, fsp, {**tx, **changes}, 422) == field, changes


# --- the sync flags what disagrees with the platform -------------------------------------


def _event(world: PlatformWorld, event: str, args: dict[str, Any]) -> IndexedEvent:
    """A hand-made indexed GridRegistry event, as if a wallet had called the chain itself."""
    row = IndexedEvent(
        chain_id=world.platform.chain_id,
        contract="GridRegistry",
        event=event,
        block_number=1,
        block_hash="0x" + "00" * 32,
        tx_hash="0x" + keccak(text=f"{event}:{json.dumps(args)}:{next_id()}").hex(),
        log_index=0,
        args=json.dumps(args),
    )
    with Session(world.platform.engine) as session:
        session.add(row)
        session.commit()
        session.refresh(row)
    return row


def _sync(world: PlatformWorld) -> int:
    return EventSync(world.platform.engine, world.platform.oracle).run_once().flagged


def _flag_of(world: PlatformWorld, event: IndexedEvent) -> ChainFlag | None:
    with Session(world.platform.engine) as session:
        return session.exec(select(ChainFlag).where(col(ChainFlag.event_id) == event.id)).first()


def _asset_row(world: PlatformWorld, asset: Asset) -> Asset:
    with Session(world.platform.engine) as session:
        found = session.get(Asset, asset.id)
        assert found is not None
        return found


def test_the_sync_flags_registry_events_that_disagree(cast: Cast) -> None:
    world = cast.world
    battery = cast.battery
    _sync(world)
    remap = _event(
        world,
        "AssetNodeConfirmed",
        {"asset": battery.id, "nodeId": cast.b.feeder, "confirmedBy": cast.b.dso.address},
    )
    raise_ = _event(
        world,
        "AssetCapacityUpdated",
        {"asset": battery.id, "upW": battery.up_w * 10, "downW": 0},
    )
    foreign_node = next_id()
    store_nodes(world, cast.b.dso, [(foreign_node, cast.b.feeder)])
    wrong_parent = _event(
        world,
        "NodeRegistered",
        {
            "nodeId": foreign_node,
            "parentId": cast.a.feeder,
            "operator": cast.b.dso.address,
            "depth": 3,
            "registeredBy": cast.b.dso.address,
        },
    )
    unknown = _event(
        world,
        "AssetRegistered",
        {
            "asset": Account.create().address,
            "owner": cast.a.fsp.address,
            "meterPointHash": "0x" + "11" * 32,
            "upW": 1,
            "downW": 1,
            "technology": 1,
            "proposedNodeId": cast.a.feeder,
        },
    )
    assert _sync(world) == 4
    for event, words in (
        (remap, "outside"),
        (raise_, "above the prequalified"),
        (wrong_parent, "hangs under"),
        (unknown, "not on the platform"),
    ):
        flag = _flag_of(world, event)
        assert flag is not None and words in flag.reason, (event.event, flag)
        assert json.loads(flag.args) == json.loads(event.args)
    row = _asset_row(world, battery)
    assert (row.node_id, row.up_w) == (cast.a.feeder, battery.up_w)  # nothing applied
    assert _sync(world) == 0  # each flagged once
    lower = _event(world, "AssetCapacityUpdated", {"asset": battery.id, "upW": 1000, "downW": 0})
    assert _sync(world) == 0 and _flag_of(world, lower) is None
    assert _asset_row(world, battery).up_w == 1000  # a lower capacity is applied
    listed = world.client.get("/api/v1/chain/flags", headers=world.operator.headers)
    assert listed.status_code == 200, listed.text
    assert {flag["event"] for flag in listed.json()} >= {
        "AssetNodeConfirmed",
        "AssetCapacityUpdated",
        "NodeRegistered",
        "AssetRegistered",
    }
    only = world.client.get(
        "/api/v1/chain/flags", params={"event": "NodeRegistered"}, headers=world.operator.headers
    ).json()
    assert [flag["event_id"] for flag in only] == [wrong_parent.id]
    denied = world.client.get("/api/v1/chain/flags", headers=cast.a.dso.headers)
    assert denied.status_code == 403
