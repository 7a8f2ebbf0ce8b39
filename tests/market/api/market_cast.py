"""The cast of the market tests, built through the API with relayed wallet transactions.

A DSO publishes a small feeder (root 1; feeders 2 and 3 under it; houses 4 under 2 and 5
under 3); a second DSO a grid of its own (101, 102). FSP "alpha" owns a battery at house 4
and an EV charger at house 5, FSP "beta" a heat pump at house 4; all are mapped by the DSO.
Alpha also owns a PV plant that is registered but not mapped yet.
"""

import atexit
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from market.db.models import (
    Activation,
    ClearingRun,
    MarketOrder,
    MarketTrade,
    OrderExplanation,
    OrganisationKind,
)
from oracle.eip712 import ZERO_ADDRESS, Order
from oracle.outbox.models import OutboxMessage
from oracle.types import SLOT_SECONDS, Address, Direction, Side
from tests.market.api.platform_world import COMPANY, Actor, PlatformWorld, start

INTRADAY_LEAD_S = 3600
ROOT, FEEDER_A, FEEDER_B, HOUSE_A, HOUSE_B = 1, 2, 3, 4, 5
OTHER_ROOT, OTHER_HOUSE = 101, 102
_nonces = itertools.count(1)
_serials = itertools.count(1)


@dataclass
class MarketCast:
    world: PlatformWorld
    dso: Actor
    other_dso: Actor
    alpha: Actor
    beta: Actor
    auditor: Actor
    assets: dict[str, str]  # label -> asset address
    market_address: str

    def post(self, actor: Actor | None, path: str, body: Any) -> Any:
        headers = actor.headers if actor else {}
        return self.world.client.post(f"/api/v1{path}", json=body, headers=headers)

    def get(self, actor: Actor | None, path: str, **params: Any) -> Any:
        headers = actor.headers if actor else {}
        return self.world.client.get(f"/api/v1{path}", params=params, headers=headers)

    def delete(self, actor: Actor, path: str) -> Any:
        return self.world.client.delete(f"/api/v1{path}", headers=actor.headers)


_shared: list[MarketCast] = []


def shared_cast(data_dir: Path) -> MarketCast:
    """One platform and cast for every market test module of the session: building them
    takes seconds, and each test works on delivery slots of its own."""
    if not _shared:
        world = start(data_dir)
        atexit.register(world.close)
        _shared.append(build_cast(world))
    return _shared[0]


def build_cast(world: PlatformWorld) -> MarketCast:
    dso, other_dso, alpha, beta, auditor = onboard_all(
        world,
        (OrganisationKind.DSO, "Feeder DSO"),
        (OrganisationKind.DSO, "Other DSO"),
        (OrganisationKind.FSP, "FSP Alpha"),
        (OrganisationKind.FSP, "FSP Beta"),
        (OrganisationKind.AUDITOR, "Auditor"),
    )
    _import_grid(world, dso, _feeder())
    _import_grid(world, other_dso, _other_grid())
    world.settle()
    assets = {
        "battery": _register_asset(world, alpha, "battery", HOUSE_A, up_kw=50, down_kw=20),
        "ev": _register_asset(world, alpha, "ev_charger", HOUSE_B, up_kw=30, down_kw=0),
        "heat pump": _register_asset(world, beta, "heat_pump", HOUSE_A, up_kw=40, down_kw=10),
        "pv": _register_asset(world, alpha, "pv", HOUSE_B, up_kw=10, down_kw=10),
    }
    world.settle()
    for label, node in (("battery", HOUSE_A), ("ev", HOUSE_B), ("heat pump", HOUSE_A)):
        _confirm_node(world, dso, assets[label], node)
    world.settle()
    market = world.client.get("/api/v1/chain").json()["contracts"]["FlexMarket"]
    return MarketCast(world, dso, other_dso, alpha, beta, auditor, assets, market)


def onboard_all(world: PlatformWorld, *cast: tuple[OrganisationKind, str]) -> list[Actor]:
    """Like ``world.onboard`` for several organisations, with one wait for the chain."""
    actors = []
    for kind, name in cast:
        actor = world.new_actor()
        body = {"kind": kind.value, "company": {"name": name, **COMPANY}}
        response = world.client.post("/api/v1/organisations", json=body, headers=actor.headers)
        assert response.status_code == 201, response.text
        actor.organisation_id = response.json()["id"]
        approved = world.client.post(
            f"/api/v1/organisations/{actor.organisation_id}/approve",
            headers=world.operator.headers,
        )
        assert approved.status_code == 200, approved.text
        actors.append(actor)
    world.settle()
    return actors


def _feeder() -> list[dict[str, Any]]:
    def node(node_id: int, parent: int, kv: float) -> dict[str, Any]:
        return {"node_id": node_id, "parent_id": parent, "name": f"N{node_id}", "voltage_kv": kv}

    return [
        node(ROOT, 0, 10),
        node(FEEDER_A, ROOT, 0.4),
        node(FEEDER_B, ROOT, 0.4),
        {**node(HOUSE_A, FEEDER_A, 0.4), "x": 10.0, "y": 50.0},
        {**node(HOUSE_B, FEEDER_B, 0.4), "x": 10.1, "y": 50.1},
    ]


def _other_grid() -> list[dict[str, Any]]:
    return [
        {"node_id": OTHER_ROOT, "parent_id": 0, "name": "O1", "voltage_kv": 10},
        {"node_id": OTHER_HOUSE, "parent_id": OTHER_ROOT, "name": "O2", "voltage_kv": 0.4},
    ]


def relay(world: PlatformWorld, actor: Actor, transaction: dict[str, Any]) -> None:
    fields = {key: value for key, value in transaction.items() if key != "from"}
    raw = actor.wallet.sign_transaction(fields)
    response = world.client.post(
        "/api/v1/transactions", json={"raw_transaction": raw}, headers=actor.headers
    )
    assert response.status_code == 202, response.text


def _import_grid(world: PlatformWorld, dso: Actor, nodes: list[dict[str, Any]]) -> None:
    response = world.client.post("/api/v1/grid/import", json={"nodes": nodes}, headers=dso.headers)
    assert response.status_code == 201, response.text
    for transaction in response.json()["transactions"]:
        relay(world, dso, transaction)


def _register_asset(
    world: PlatformWorld, fsp: Actor, technology: str, node: int, *, up_kw: float, down_kw: float
) -> str:
    body = {
        "name": f"{technology} {node}",
        "technology": technology,
        "meter_point_id": f"871687{next(_serials):012d}",
        "latitude": 50.0 if node == HOUSE_A else 50.1,
        "longitude": 10.0 if node == HOUSE_A else 10.1,
        "prequalified_up_kw": up_kw,
        "prequalified_down_kw": down_kw,
    }
    response = world.client.post("/api/v1/assets", json=body, headers=fsp.headers)
    assert response.status_code == 201, response.text
    relay(world, fsp, response.json()["transaction"])
    asset: str = response.json()["asset"]["id"]
    return asset


def _confirm_node(world: PlatformWorld, dso: Actor, asset: str, node: int) -> None:
    response = world.client.post(
        f"/api/v1/assets/{asset}/node", json={"node_id": node}, headers=dso.headers
    )
    assert response.status_code == 200, response.text
    relay(world, dso, response.json()["transaction"])


# -- orders ------------------------------------------------------------------------------------


_allocated_until = [0]  # the end of the delivery slots handed out so far (unix s)


def fresh_slot(world: PlatformWorld, slots: int = 4, lead_s: int = 2 * 3600) -> int:
    """The start of ``slots`` delivery slots at least ``lead_s`` after the platform's now
    that no other test of the session uses: a clearing sweeps every open order of its
    period, so tests must not share slots."""
    now = world.platform.now()
    start = max(-(-(now + lead_s) // SLOT_SECONDS) * SLOT_SECONDS, _allocated_until[0])
    _allocated_until[0] = start + slots * SLOT_SECONDS
    return start


def close_gate(world: PlatformWorld, slot_start: int, lead_s: int = INTRADAY_LEAD_S) -> None:
    """Moves the chain's clock just past the intraday gate of ``slot_start``."""
    gate = slot_start - lead_s
    world.connection.dev_chain.advance_time(max(1, gate - world.platform.now() + 30))
    assert gate <= world.platform.now() < slot_start


def buy(
    dso: Actor, node: int, slot_start: int, power_w: int, price: int, /, **changes: Any
) -> Order:
    fields = {"side": Side.BUY, "node_id": node, "asset": ZERO_ADDRESS}
    return _order(dso, slot_start, power_w, price, {**fields, **changes})


def sell(
    cast: MarketCast,
    fsp: Actor,
    asset: str,
    slot_start: int,
    power_w: int,
    price: int,
    /,
    **changes: Any,
) -> Order:
    node = HOUSE_B if asset in ("ev", "pv") else HOUSE_A
    fields = {"side": Side.SELL, "node_id": node, "asset": Address(cast.assets[asset])}
    return _order(fsp, slot_start, power_w, price, {**fields, **changes})


def _order(
    maker: Actor, slot_start: int, power_w: int, price: int, changes: dict[str, Any]
) -> Order:
    """An up order over four slots, divisible down to a quarter, valid until delivery ends;
    ``changes`` override any field."""
    fields: dict[str, Any] = {
        "maker": Address(maker.address),
        "direction": Direction.UP,
        "slot_start": slot_start,
        "slot_count": 4,
        "power_w": power_w,
        "divisible": True,
        "price_cents_per_mwh": price,
        "nonce": next(_nonces),
        **changes,
    }
    if "min_power_w" not in fields:
        fields["min_power_w"] = fields["power_w"] // 4 if fields["divisible"] else fields["power_w"]
    if "expiry" not in fields:
        fields["expiry"] = fields["slot_start"] + fields["slot_count"] * SLOT_SECONDS
    return Order(**fields)


def signed(cast: MarketCast, signer: Actor, order: Order) -> dict[str, Any]:
    signature = signer.wallet.sign_order(order, Address(cast.market_address))
    fields = {**order.to_dict(), "side": int(order.side), "direction": int(order.direction)}
    return {"order": fields, "signature": "0x" + signature.hex()}


def place(
    cast: MarketCast,
    maker: Actor,
    order: Order,
    market: str = "intraday",
    signer: Actor | None = None,
) -> Any:
    body = {"market": market, **signed(cast, signer or maker, order)}
    return cast.post(maker, "/orders", body)


def placed(cast: MarketCast, maker: Actor, order: Order, market: str = "intraday") -> str:
    response = place(cast, maker, order, market)
    assert response.status_code == 201, response.text
    order_hash: str = response.json()["order_hash"]
    return order_hash


# -- what a refused request must not change --------------------------------------------------


COUNTED: tuple[type[SQLModel], ...] = (
    MarketOrder,
    OutboxMessage,
    ClearingRun,
    OrderExplanation,
    MarketTrade,
    Activation,
)


def counts(world: PlatformWorld) -> tuple[int, ...]:
    with Session(world.platform.engine) as session:
        return tuple(
            session.exec(select(func.count()).select_from(model)).one() for model in COUNTED
        )


def error_field(response: Any) -> str:
    loc = response.json()["detail"][0]["loc"]
    return ".".join(str(part) for part in loc[1:])
