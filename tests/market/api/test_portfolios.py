"""Portfolios (issue 7 §3): a group of an FSP's assets under one registered portfolio asset,
nominated once (bounded by the members' sum), metered as the members' sum, settled as one;
a member's energy never counts twice."""

from dataclasses import dataclass
from typing import Any

import pytest
from eth_account import Account
from sqlmodel import Session

from market.assets import Technology
from market.client import ApiError, FlexledgerClient
from market.db.models import Asset, AssetStatus, OrganisationKind, SettlementRecord
from oracle.types import SLOT_SECONDS, Address
from tests.market.api.market_setup import (
    Market,
    TradeSpec,
    add_assets,
    advance_past,
    open_market,
    record_trades,
    slot_after,
)
from tests.market.api.platform_world import Actor, PlatformWorld

HOUR = 3600
PRICE = 20_000


@dataclass
class Setup:
    market: Market
    assets: dict[str, Asset]
    fsp: FlexledgerClient
    other: Market
    auditor: Actor


@pytest.fixture(scope="module")
def setup(world: PlatformWorld) -> Setup:
    market = open_market(world, "Portfolio")
    names = ["portfolio", "m1", "m2", "spare", "big"]
    plans = [
        (Technology.OTHER, 30.0),
        (Technology.HEAT_PUMP, 20.0),
        (Technology.HEAT_PUMP, 20.0),
        (Technology.HEAT_PUMP, 20.0),
        (Technology.OTHER, 90.0),
    ]
    assets = dict(zip(names, add_assets(market, plans), strict=True))
    fsp = FlexledgerClient(market.fsp.wallet, world.client)
    fsp.sign_in()
    other = open_market(world, "Portfolio other")
    auditor = world.onboard(OrganisationKind.AUDITOR, "Auditor P")
    return Setup(market, assets, fsp, other, auditor)


def refused(call: Any) -> ApiError:
    with pytest.raises(ApiError) as error:
        call()
    return error.value


def _unmapped_asset(world: PlatformWorld, market: Market, node_id: int) -> Asset:
    """An asset of the FSP at ``node_id`` (stored only: portfolio checks read the table)."""
    assert market.fsp.organisation_id is not None
    asset = Asset(
        id=Address(Account.create().address),
        owner_id=market.fsp.organisation_id,
        name="elsewhere",
        technology=Technology.HEAT_PUMP.value,
        meter_point_id=f"PF{Account.create().address[2:20]}",
        latitude=52.5,
        longitude=13.4,
        up_w=20_000,
        down_w=0,
        proposed_node_id=node_id,
        node_id=node_id,
        status=AssetStatus.MAPPED,
    )
    with Session(world.platform.engine) as session:
        session.add(asset)
        session.commit()
        session.refresh(asset)
    return asset


def test_a_portfolio_needs_its_own_assets_below_its_node_and_within_their_capacity(
    world: PlatformWorld, setup: Setup
) -> None:
    a, fsp = setup.assets, setup.fsp
    [foreign] = add_assets(setup.other, [(Technology.HEAT_PUMP, 20.0)])
    above = _unmapped_asset(world, setup.market, setup.market.root)  # not below the feeder
    cases = [
        (a["portfolio"], [a["m1"], foreign], 403, "member_asset_ids.1"),
        (a["portfolio"], [a["m1"], a["m1"]], 422, "member_asset_ids.1"),
        (a["portfolio"], [a["m1"], above], 422, "member_asset_ids.1"),
        (a["big"], [a["m1"], a["m2"]], 422, "asset_id"),  # 90 kW over 40 kW of members
        (a["portfolio"], [a["m1"]], 422, "member_asset_ids"),
    ]
    for portfolio, members, status, field in cases:
        error = refused(
            lambda p=portfolio, m=members: fsp.create_portfolio("homes", p.id, [x.id for x in m])
        )
        assert (error.status, error.field) == (status, field), error
    assert fsp.portfolios() == []


def test_a_portfolio_is_created_and_seen_by_its_parties(world: PlatformWorld, setup: Setup) -> None:
    a = setup.assets
    created = setup.fsp.create_portfolio("homes", a["portfolio"].id, [a["m1"].id, a["m2"].id])
    assert set(created["member_asset_ids"]) == {a["m1"].id, a["m2"].id}
    for actor in (setup.market.fsp, setup.market.dso, setup.auditor, world.operator):
        found = world.client.get("/api/v1/portfolios", headers=actor.headers).json()
        assert [p["id"] for p in found] == [created["id"]], actor
    for actor in (setup.other.fsp, setup.other.dso):
        assert world.client.get("/api/v1/portfolios", headers=actor.headers).json() == []
    again = refused(
        lambda: setup.fsp.create_portfolio("again", a["spare"].id, [a["m1"].id, a["m2"].id])
    )
    assert (again.status, again.field) == (409, "member_asset_ids.0")


@dataclass
class Day:
    start: int
    trades: dict[str, int]
    run: dict[str, Any]
    chain_ids: dict[str, int | None]


@pytest.fixture(scope="module")
def day(world: PlatformWorld, setup: Setup) -> Day:
    """The portfolio trades 30 kW up in hour S1 and again in S2, where member m1 also trades
    10 kW on its own. m1 meters 1 kWh and m2 2 kWh per slot in both hours."""
    a, market = setup.assets, setup.market
    start = slot_after(world, 3 * HOUR)
    second = start + HOUR
    nominated = setup.fsp.nominate_baseline(a["portfolio"].id, start, [8.0] * 4, market="intraday")
    assert nominated["locked"] is False and nominated["asset_id"] == a["portfolio"].id
    world.settle()
    specs = {
        "portfolio": TradeSpec(a["portfolio"], start, 4, 30_000, PRICE),
        "portfolio_again": TradeSpec(a["portfolio"], second, 4, 30_000, PRICE),
        "m1_alone": TradeSpec(a["m1"], second, 4, 10_000, PRICE),
    }
    trades = dict(zip(specs, record_trades(market, list(specs.values())), strict=True))
    advance_past(world, second + 4 * SLOT_SECONDS)
    slots = [start + i * SLOT_SECONDS for i in range(8)]
    batch = [
        {"meter_point_id": asset.meter_point_id, "slot_start": slot, "energy_kwh": kwh}
        for asset, kwh in ((a["m1"], 1.0), (a["m2"], 2.0))
        for slot in slots
    ]
    stored = world.client.post(
        "/api/v1/meter-readings", json={"readings": batch}, headers=market.dso.headers
    )
    assert stored.status_code == 200, stored.text
    ran = world.client.post("/api/v1/settlements/run", headers=world.operator.headers)
    assert ran.status_code == 200, ran.text
    world.settle()
    ids = {name: t.id for name, t in trades.items() if t.id is not None}
    return Day(start, ids, ran.json(), {n: t.chain_trade_id for n, t in trades.items()})


def test_a_portfolio_nomination_is_bounded_by_its_members_sum(
    world: PlatformWorld, setup: Setup, day: Day
) -> None:
    # m1 + m2 prequalify 40 kW: 10 kWh per slot (the portfolio asset's own 30 kW: 7.5 kWh),
    # plus the largest summed reading of its members, 1 + 2 kWh: 13 kWh.
    start = slot_after(world, 3 * HOUR)
    portfolio = setup.assets["portfolio"].id
    error = refused(
        lambda: setup.fsp.nominate_baseline(portfolio, start, [13.5], market="intraday")
    )
    assert (error.status, error.field) == (422, "values_kwh.0")
    fine = setup.fsp.nominate_baseline(portfolio, start, [13.0], market="intraday")
    assert fine["values_kwh"] == [13.0]


def test_a_portfolio_trade_settles_on_its_baseline_and_its_members_readings(
    world: PlatformWorld, day: Day
) -> None:
    with Session(world.platform.engine) as session:
        record = session.get(SettlementRecord, day.trades["portfolio"])
    assert record is not None, day.run["skipped"]
    assert record.baseline_method == "nominated"
    # baseline 4 x 8 kWh; metered 4 x (1 + 2) kWh; traded 30 kWh; delivered 20 kWh
    assert (record.baseline_wh, record.metered_wh) == (32_000, 12_000)
    assert (record.traded_wh, record.delivered_wh) == (30_000, 20_000)


def test_a_member_trading_alongside_its_portfolio_is_refused_for_both(
    world: PlatformWorld, day: Day
) -> None:
    skipped = {s["trade_id"]: s["reason"] for s in day.run["skipped"]}
    for name in ("portfolio_again", "m1_alone"):
        assert "a portfolio and its member" in skipped[day.chain_ids[name]], name
        with Session(world.platform.engine) as session:
            assert session.get(SettlementRecord, day.trades[name]) is None


def test_the_portfolios_own_meter_point_is_virtual(
    world: PlatformWorld, setup: Setup, day: Day
) -> None:
    reading = {
        "meter_point_id": setup.assets["portfolio"].meter_point_id,
        "slot_start": day.start,
        "energy_kwh": 3.0,
    }
    response = world.client.post(
        "/api/v1/meter-readings", json={"readings": [reading]}, headers=setup.market.dso.headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "readings", "0", "meter_point_id"]
