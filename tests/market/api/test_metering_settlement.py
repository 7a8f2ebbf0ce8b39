"""Metering and settlement on chain through the REST API, checked against hand-computed numbers.

One market day for the whole module (module fixture ``day``): a DSO and an FSP, seven assets
at one feeder, eight trades for the same hour ``S`` (4 slots) at 213.37 EUR/MWh (the USEF
case at 200 EUR/MWh), nominated baselines locked before gate closure, delivery, metering, one
settlement run. The penalty factor is the deployed default, 15,000 bps, so the penalty rate
is ``21337 * 15000 // 10000 = 32005`` cents/MWh (``30000`` for the USEF case).

Tests run in file order; the last one moves the chain past the dispute window.
"""

import csv
import io
import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, func, select

from market.assets import Technology
from market.baselines.days import local_day, same_wall_clock
from market.client import ApiError, FlexledgerClient
from market.db.models import (
    Asset,
    Baseline,
    MarketTrade,
    MeterReading,
    OrganisationKind,
    SettlementRecord,
    SettlementStatus,
)
from oracle.outbox.models import OutboxMessage
from oracle.types import SLOT_SECONDS
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

BERLIN = ZoneInfo("Europe/Berlin")
PRICE = 21_337  # cents/MWh
USEF_PRICE = 20_000
HOUR = 3600


@dataclass
class Day:
    market: Market
    start: int  # S, the first slot of the delivery hour
    assets: dict[str, Asset]
    trades: dict[str, MarketTrade]
    run: dict[str, Any]
    other_fsp: Actor
    other_dso: Actor
    auditor: Actor


def readings(asset: Asset, start: int, kwh: list[float]) -> list[dict[str, Any]]:
    return [
        {
            "meter_point_id": asset.meter_point_id,
            "slot_start": start + i * SLOT_SECONDS,
            "energy_kwh": e,
        }
        for i, e in enumerate(kwh)
    ]


def post_readings(
    world: PlatformWorld, actor: Actor, batch: list[dict[str, Any]], query: str = "", **extra: Any
) -> Any:
    return world.client.post(
        f"/api/v1/meter-readings{query}", json={"readings": batch, **extra}, headers=actor.headers
    )


def nominate(
    world: PlatformWorld,
    market: Market,
    asset: Asset,
    start: int,
    kwh: list[float],
    where: str = "intraday",
) -> None:
    body = {
        "asset_id": asset.id,
        "method": "nominated",
        "period_start": start,
        "slot_count": len(kwh),
        "values_kwh": kwh,
        "market": where,
    }
    response = world.client.post("/api/v1/baselines", json=body, headers=market.fsp.headers)
    assert response.status_code == 201, response.text


def history(asset: Asset, start: int) -> list[dict[str, Any]]:
    """14 days before S at S's wall-clock slots: the 5 most recent working days 24 kWh per
    slot, older working days 50 kWh, weekend days 90 kWh."""
    delivery_day = local_day(start, BERLIN)
    batch, working = [], 0
    for back in range(1, 15):
        day = delivery_day - timedelta(days=back)
        working += day.weekday() < 5
        kwh = 90.0 if day.weekday() >= 5 else 24.0 if working <= 5 else 50.0
        for i in range(4):
            slot = same_wall_clock(start + i * SLOT_SECONDS, delivery_day, day, BERLIN)
            assert slot is not None
            batch.append(
                {"meter_point_id": asset.meter_point_id, "slot_start": slot, "energy_kwh": kwh}
            )
    return batch


@pytest.fixture(scope="module")
def day(world: PlatformWorld) -> Day:
    market = open_market(world, "Settle")
    names = ["usef", "under", "over", "fallback", "tampered", "shared", "missing"]
    # A nomination is bounded by prequalified power plus the metered peak: 150 kW heat pumps
    # nominate 30 kWh per slot (120 kW); the 10 MW USEF site (2 MW flexible) has metered
    # 10 MW the day before.
    plans = [(Technology.OTHER, 2000.0), *[(Technology.HEAT_PUMP, 150.0)] * 6]
    assets = dict(zip(names, add_assets(market, plans), strict=True))
    start = slot_after(world, 3 * HOUR)
    site_load = readings(assets["usef"], start - 24 * HOUR, [2500.0] * 4)
    response = post_readings(world, market.dso, history(assets["fallback"], start) + site_load)
    assert response.status_code == 200, response.text

    nominate(world, market, assets["usef"], start, [2500.0] * 4)  # 10 MW for an hour
    for name in ("under", "over", "tampered", "shared", "missing"):
        nominate(world, market, assets[name], start, [30.0] * 4)
    nominate(world, market, assets["fallback"], start, [50.0] * 4)
    world.settle()  # the locks are mined now, after the fallback trade's gate (below) closed

    def spec(name: str, power_w: int, price: int = PRICE, **kw: Any) -> TradeSpec:
        return TradeSpec(assets[name], start, 4, power_w, price, **kw)

    specs = {
        "usef": spec("usef", 2_000_000, USEF_PRICE),
        "under": spec("under", 40_000),
        "over": spec("over", 40_000),
        "fallback": spec("fallback", 40_000, gate_closure=world.platform.now() - HOUR),
        "tampered": spec("tampered", 40_000),
        "shared_a": spec("shared", 30_000),
        "shared_b": spec("shared", 10_000),
        "missing": spec("missing", 40_000),
    }
    trades = dict(zip(specs, record_trades(market, list(specs.values())), strict=True))

    advance_past(world, start + 4 * SLOT_SECONDS)
    metered = {
        "usef": [2500.0] * 4,
        "under": [24.1, 25.3, 24.7, 26.4],
        "over": [15.0] * 4,
        "fallback": [15.0] * 4,
        "tampered": [20.0] * 4,
        "shared": [21.001] * 4,
    }
    batch = [r for name, kwh in metered.items() for r in readings(assets[name], start, kwh)]
    response = post_readings(world, market.dso, batch)
    assert response.json() == {"stored": 24, "unchanged": 0, "corrected": 0}
    _tamper(world, assets["tampered"])

    ran = world.client.post("/api/v1/settlements/run", headers=world.operator.headers)
    assert ran.status_code == 200, ran.text
    world.settle()
    other = open_market(world, "Elsewhere")
    auditor = world.onboard(OrganisationKind.AUDITOR, "Auditor")
    return Day(market, start, assets, trades, ran.json(), other.fsp, other.dso, auditor)


def _tamper(world: PlatformWorld, asset: Asset) -> None:
    """Lower one stored slot of the locked nomination: a bigger 'delivery' for the FSP."""
    with Session(world.platform.engine) as session:
        row = session.exec(select(Baseline).where(Baseline.asset_id == asset.id)).one()
        values = json.loads(row.values)
        first = min(values, key=int)
        values[first] = values[first] + 5_000
        row.values = json.dumps(values)
        session.add(row)
        session.commit()


def settled(world: PlatformWorld, trade: MarketTrade) -> SettlementRecord:
    with Session(world.platform.engine) as session:
        record = session.get(SettlementRecord, trade.id)
        assert record is not None, f"trade {trade.chain_trade_id} was not settled"
        return record


def attested_of(day: Day, name: str) -> dict[str, Any]:
    chain_id = day.trades[name].chain_trade_id
    return next(a for a in day.run["attested"] if a["trade_id"] == chain_id)


def skipped_of(day: Day, name: str) -> str:
    chain_id = day.trades[name].chain_trade_id
    reason: str = next(s["reason"] for s in day.run["skipped"] if s["trade_id"] == chain_id)
    return reason


def test_penalty_factor_is_the_deployed_default(world: PlatformWorld) -> None:
    assert world.platform.oracle.suite.read("FlexSettlement", "penaltyFactorBps") == 15_000


def test_usef_shape_nothing_delivered_pays_nothing_and_the_full_penalty(
    world: PlatformWorld, day: Day
) -> None:
    # Baseline 10 MW for an hour = 10 MWh; 2 MW ordered = 2 MWh traded; metered = baseline.
    record = settled(world, day.trades["usef"])
    assert attested_of(day, "usef")["baseline_method"] == "nominated"
    assert (record.baseline_wh, record.metered_wh) == (10_000_000, 10_000_000)
    assert record.traded_wh == 2_000_000 and record.delivered_wh == 0
    assert record.payment_cents == 0
    # 1.5 x 200 EUR/MWh x 2 MWh: (20000 * 15000 // 10000) * 2_000_000 // 10^6 = 60_000 cents
    assert record.penalty_cents == 60_000
    assert record.status == SettlementStatus.ATTESTED


def test_under_delivery_pays_what_was_delivered_and_penalises_the_shortfall(
    world: PlatformWorld, day: Day
) -> None:
    record = settled(world, day.trades["under"])
    # baseline 4 x 30 kWh = 120_000 Wh; metered 24.1 + 25.3 + 24.7 + 26.4 = 100.5 kWh
    assert (record.baseline_wh, record.metered_wh) == (120_000, 100_500)
    assert record.traded_wh == 40_000  # 40 kW for an hour
    assert record.delivered_wh == 19_500
    assert record.payment_cents == 416  # 21337 * 19500 // 10^6 = 416.07
    assert record.penalty_cents == 656  # 32005 * (40000 - 19500) // 10^6 = 656.10


def test_over_delivery_is_paid_only_up_to_the_traded_energy(world: PlatformWorld, day: Day) -> None:
    record = settled(world, day.trades["over"])
    assert (record.baseline_wh, record.metered_wh) == (120_000, 60_000)  # 60 kWh less
    assert record.delivered_wh == 40_000  # capped at traded
    assert record.payment_cents == 853  # 21337 * 40000 // 10^6 = 853.48
    assert record.penalty_cents == 0


def test_a_nomination_locked_after_the_trades_gate_closure_falls_back_to_x_of_y(
    world: PlatformWorld, day: Day
) -> None:
    # The nomination (50 kWh per slot) was locked after this trade's gate closed, so the
    # baseline is 5 of 5: the 5 most recent working days, 24 kWh per slot (weekends and the
    # older 50 kWh days are not used).
    assert attested_of(day, "fallback")["baseline_method"] == "x_of_y"
    record = settled(world, day.trades["fallback"])
    assert (record.baseline_wh, record.metered_wh) == (96_000, 60_000)
    assert record.delivered_wh == 36_000
    assert record.payment_cents == 768  # 21337 * 36000 // 10^6 = 768.13
    assert record.penalty_cents == 128  # 32005 * 4000 // 10^6 = 128.02


def test_two_trades_of_one_asset_share_its_energy_pro_rata_by_power(
    world: PlatformWorld, day: Day
) -> None:
    # Per slot the asset's 30_000 Wh baseline splits 3:1 into 22_500 / 7_500, and 21_001 Wh
    # metered into 15_750.75 / 5_250.25 -> 15_751 / 5_250 (the larger remainder gets the Wh).
    a, b = settled(world, day.trades["shared_a"]), settled(world, day.trades["shared_b"])
    assert (a.baseline_wh, a.metered_wh) == (90_000, 63_004)
    assert (b.baseline_wh, b.metered_wh) == (30_000, 21_000)
    assert a.baseline_wh + b.baseline_wh == 4 * 30_000
    assert a.metered_wh + b.metered_wh == 4 * 21_001
    assert (a.delivered_wh, a.payment_cents, a.penalty_cents) == (26_996, 576, 96)
    assert (b.delivered_wh, b.payment_cents, b.penalty_cents) == (9_000, 192, 32)
    assert attested_of(day, "shared_a")["shared_with"] == [day.trades["shared_b"].chain_trade_id]


def test_a_tampered_stored_baseline_is_refused_at_settlement(
    world: PlatformWorld, day: Day
) -> None:
    reason = skipped_of(day, "tampered")
    assert "changed after locking" in reason and "hashes to" in reason
    with Session(world.platform.engine) as session:
        assert session.get(SettlementRecord, day.trades["tampered"].id) is None
    key = f"attest:{day.trades['tampered'].chain_trade_id}"
    assert world.platform.oracle.store.get(key) is None


def test_a_trade_without_all_its_readings_waits(world: PlatformWorld, day: Day) -> None:
    assert "waiting for meter readings" in skipped_of(day, "missing")
    assert "4 of 4 slots missing" in skipped_of(day, "missing")


def test_running_again_attests_nothing_twice(world: PlatformWorld, day: Day) -> None:
    again = world.client.post("/api/v1/settlements/run", headers=world.operator.headers).json()
    ours = {t.chain_trade_id for t in day.trades.values()}
    assert not [a for a in again["attested"] if a["trade_id"] in ours]


def test_only_the_market_operator_runs_settlement(world: PlatformWorld, day: Day) -> None:
    for actor in (day.market.fsp, day.market.dso, day.auditor):
        for job in ("run", "finalise"):
            response = world.client.post(f"/api/v1/settlements/{job}", headers=actor.headers)
            assert response.status_code == 403, response.text


def _count(world: PlatformWorld, model: type[MeterReading] | type[OutboxMessage]) -> int:
    with Session(world.platform.engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def test_metering_outside_the_licence_area_reads_as_unknown(world: PlatformWorld, day: Day) -> None:
    """Outside its area a DSO learns nothing about a meter point: not its asset, owner or
    node, not even that it exists (the same 404 as for an unregistered one)."""
    before = _count(world, MeterReading)
    asset = day.assets["missing"]
    batch = readings(asset, day.start, [20.0] * 4)
    response = post_readings(world, day.other_dso, batch)
    assert response.status_code == 404
    assert response.json()["detail"][0]["loc"] == ["body", "readings", "0", "meter_point_id"]
    unknown_batch = [{**reading, "meter_point_id": "999999999999999999"} for reading in batch]
    unknown = post_readings(world, day.other_dso, unknown_batch)
    message, unknown_message = (
        r.json()["detail"][0]["msg"].replace(m, "<m>")
        for r, m in ((response, asset.meter_point_id), (unknown, "999999999999999999"))
    )
    assert unknown.status_code == 404 and message == unknown_message
    assert asset.id not in response.text and str(asset.node_id) not in message
    assert _count(world, MeterReading) == before


def test_an_fsp_may_not_submit_readings(world: PlatformWorld, day: Day) -> None:
    batch = readings(day.assets["missing"], day.start, [20.0] * 4)
    assert post_readings(world, day.market.fsp, batch).status_code == 403


def _loc(response: Any) -> str:
    return ".".join(str(part) for part in response.json()["detail"][0]["loc"][1:])


@pytest.mark.parametrize(
    ("index", "change", "field", "status"),
    [
        (3, {"energy_kwh": -1.5}, "readings.3.energy_kwh", 422),  # a heat pump exporting
        (2, {"energy_kwh": 5_000.0}, "readings.2.energy_kwh", 422),  # > 3 x (30 + 37.5) kWh
        (1, {"slot_start": 1}, "readings.1.slot_start", 422),  # not a slot start
        (3, {"energy_kwh": 1e6}, "readings.3.energy_kwh", 422),  # beyond the schema's bound
        (0, {"meter_point_id": "999999999999999999"}, "readings.0.meter_point_id", 404),
        (1, {"extra": 1}, "readings.1.extra", 422),
    ],
)
def test_bad_readings_name_the_index_and_store_nothing(
    world: PlatformWorld, day: Day, index: int, change: dict[str, Any], field: str, status: int
) -> None:
    batch = readings(day.assets["missing"], day.start, [20.0] * 4)
    batch[index] = {**batch[index], **change}
    before = _count(world, MeterReading)
    response = world.client.post(
        "/api/v1/meter-readings",
        json={"readings": batch},
        headers=day.market.dso.headers,
    )
    assert response.status_code == status, response.text
    assert _loc(response) == field
    assert _count(world, MeterReading) == before


def test_a_slot_not_yet_metered_is_refused(world: PlatformWorld, day: Day) -> None:
    future = slot_after(world, HOUR)
    response = post_readings(world, day.market.dso, readings(day.assets["missing"], future, [1.0]))
    assert response.status_code == 422 and _loc(response) == "readings.0.slot_start"


def test_a_repeated_slot_in_one_batch_is_refused(world: PlatformWorld, day: Day) -> None:
    batch = readings(day.assets["missing"], day.start, [1.0, 1.0])
    batch[1]["slot_start"] = batch[0]["slot_start"]
    response = post_readings(world, day.market.dso, batch)
    assert response.status_code == 422 and _loc(response) == "readings.1"


def test_resubmission_is_idempotent_and_a_different_value_conflicts(
    world: PlatformWorld, day: Day
) -> None:
    batch = readings(day.assets["over"], day.start, [15.0] * 4)
    same = post_readings(world, day.market.dso, batch)
    assert same.json() == {"stored": 0, "unchanged": 4, "corrected": 0}
    batch[2]["energy_kwh"] = 16.0
    clash = post_readings(world, day.market.dso, batch)
    assert clash.status_code == 409 and _loc(clash) == "readings.2.energy_kwh"


def test_a_correction_needs_a_note_and_never_touches_an_attested_slot(
    world: PlatformWorld, day: Day
) -> None:
    attested = readings(day.assets["over"], day.start, [16.0])
    no_note = post_readings(world, day.market.dso, attested, "?correct=true")
    assert no_note.status_code == 422 and _loc(no_note) == "note"
    refused = post_readings(world, day.market.dso, attested, "?correct=true", note="meter swap")
    assert refused.status_code == 409 and "attested on chain" in refused.text

    old = history(day.assets["fallback"], day.start)[0]
    fixed = post_readings(
        world, day.market.dso, [{**old, "energy_kwh": 23.5}], "?correct=true", note="meter swap"
    )
    assert fixed.json() == {"stored": 0, "unchanged": 0, "corrected": 1}


def test_readings_are_read_by_the_owner_and_its_dso_only(world: PlatformWorld, day: Day) -> None:
    meter = day.assets["under"].meter_point_id
    params: dict[str, Any] = {"meter_point_id": meter, "from": day.start, "to": day.start + HOUR}
    for actor in (day.market.fsp, day.market.dso, day.auditor, world.operator):
        seen = world.client.get("/api/v1/meter-readings", params=params, headers=actor.headers)
        assert [r["energy_kwh"] for r in seen.json()] == [24.1, 25.3, 24.7, 26.4]
    for actor in (day.other_fsp, day.other_dso):
        hidden = world.client.get("/api/v1/meter-readings", params=params, headers=actor.headers)
        assert hidden.status_code == 404
        assert day.assets["under"].id not in hidden.text  # nor whose asset the meter point is
        path = "/api/v1/meter-readings/corrections"
        also = world.client.get(path, params=params, headers=actor.headers)
        assert also.status_code == 404 and day.assets["under"].id not in also.text
    assert world.client.get("/api/v1/meter-readings", params=params).status_code == 401


EXPECTED_TOTALS = {  # usef, under, over, fallback, shared a + b
    "payment_eur": Decimal("28.05"),  # 0 + 416 + 853 + 768 + 576 + 192 cents
    "penalty_eur": Decimal("609.12"),  # 60000 + 656 + 0 + 128 + 96 + 32 cents
    "net_eur": Decimal("-581.07"),
}


def test_statement_json_lines_and_totals(world: PlatformWorld, day: Day) -> None:
    params: dict[str, Any] = {"from": day.start, "to": day.start + HOUR}
    found = world.client.get(
        "/api/v1/settlements/statement", params=params, headers=day.market.fsp.headers
    ).json()
    lines = found["lines"]
    assert len(lines) == 6 and {line["role"] for line in lines} == {"seller"}
    usef = next(
        line for line in lines if line["chain_trade_id"] == day.trades["usef"].chain_trade_id
    )
    assert usef["power_kw"] == 2000.0 and usef["price_eur_per_mwh"] == 200.0
    assert (usef["traded_kwh"], usef["baseline_kwh"], usef["delivered_kwh"]) == (
        2000.0,
        10000.0,
        0.0,
    )
    assert (usef["payment_eur"], usef["penalty_eur"], usef["net_eur"]) == (
        "0.00",
        "600.00",
        "-600.00",
    )
    assert usef["tx_hash"].startswith("0x") and usef["status"] == "attested"
    for name, expected in EXPECTED_TOTALS.items():
        assert Decimal(found["totals"][name]) == expected
        assert sum(Decimal(line[name]) for line in lines) == expected


def test_statement_csv_parses_and_its_totals_match(world: PlatformWorld, day: Day) -> None:
    params: dict[str, Any] = {"from": day.start, "to": day.start + HOUR, "format": "csv"}
    response = world.client.get(
        "/api/v1/settlements/statement", params=params, headers=day.market.fsp.headers
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    lines, total = rows[:-1], rows[-1]
    assert total["chain_trade_id"] == "total" and len(lines) == 6
    for name, expected in EXPECTED_TOTALS.items():
        assert Decimal(total[name]) == expected
        assert sum(Decimal(line[name]) for line in lines) == expected
    assert sum(Decimal(line["traded_kwh"]) for line in lines) == Decimal(total["traded_kwh"])


def test_settlements_are_scoped_by_role(world: PlatformWorld, day: Day) -> None:
    ours = {t.chain_trade_id for t in day.trades.values()}

    def seen(actor: Actor) -> set[int]:
        lines = world.client.get("/api/v1/settlements", headers=actor.headers).json()
        return {line["chain_trade_id"] for line in lines} & ours

    expected = ours - {day.trades["tampered"].chain_trade_id, day.trades["missing"].chain_trade_id}
    assert seen(day.market.fsp) == expected  # as seller
    assert seen(day.market.dso) == expected  # as buyer
    assert seen(day.auditor) == expected and seen(world.operator) == expected
    assert seen(day.other_fsp) == set() and seen(day.other_dso) == set()
    other = world.client.get(
        "/api/v1/settlements",
        params={"organisation": day.market.fsp.organisation_id},
        headers=day.other_fsp.headers,
    )
    assert other.status_code == 403


def test_statement_with_a_reversed_period_names_the_field(world: PlatformWorld, day: Day) -> None:
    params: dict[str, Any] = {"from": day.start, "to": day.start - HOUR}
    response = world.client.get(
        "/api/v1/settlements/statement", params=params, headers=day.market.fsp.headers
    )
    assert response.status_code == 422 and _loc(response) == "to"


def test_the_python_client_reads_statements_and_runs_jobs(world: PlatformWorld, day: Day) -> None:
    fsp = FlexledgerClient(day.market.fsp.wallet, world.client)
    fsp.sign_in()
    operator = FlexledgerClient(world.operator.wallet, world.client)
    operator.sign_in()
    assert operator.run_settlement()["attested"] == []
    text = fsp.statement(day.start, day.start + HOUR, "csv")
    assert isinstance(text, str) and text.startswith("chain_trade_id,role,")
    found = fsp.statement(day.start, day.start + HOUR)
    assert isinstance(found, dict) and Decimal(found["totals"]["net_eur"]) == Decimal("-581.07")
    assert len(fsp.settlements(**{"from": day.start, "to": day.start + HOUR})) == 6
    meter = day.assets["under"].meter_point_id
    assert len(fsp.meter_readings(meter, day.start, day.start + HOUR)) == 4
    with pytest.raises(ApiError) as refused:
        fsp.submit_meter_readings(readings(day.assets["under"], day.start, [24.1]))
    assert refused.value.status == 403


def test_finalise_after_the_dispute_window(world: PlatformWorld, day: Day) -> None:
    """Last: moves the chain's clock 9 days on."""
    early = world.client.post("/api/v1/settlements/finalise", headers=world.operator.headers).json()
    assert not early["finalising"]
    assert all("dispute window open" in s["reason"] for s in early["skipped"])
    windows = world.platform.oracle.suite.manifest.parameters
    # The operator lengthens the windows now: recorded trades keep the ones they were
    # recorded under, so the platform must not wait for the new, longer deadline.
    _set_windows_on_chain(
        world, 10 * windows["attestation_window_s"], 10 * windows["dispute_window_s"]
    )
    end = day.start + 4 * SLOT_SECONDS
    advance_past(world, end + windows["attestation_window_s"] + windows["dispute_window_s"])
    done = world.client.post("/api/v1/settlements/finalise", headers=world.operator.headers)
    finalising = {f["trade_id"] for f in done.json()["finalising"]}
    assert day.trades["usef"].chain_trade_id in finalising
    world.settle()
    record = settled(world, day.trades["usef"])
    assert record.status == SettlementStatus.FINALISED
    with Session(world.platform.engine) as session:
        trade = session.get(MarketTrade, day.trades["usef"].id)
        assert trade is not None and trade.status == "finalised"


def _set_windows_on_chain(world: PlatformWorld, attestation_s: int, dispute_s: int) -> None:
    """The market operator's own ``setWindows`` transaction, signed by its wallet."""
    platform = world.platform
    suite = platform.oracle.suite
    with platform.chain_lock:
        w3 = suite.w3
        operator = platform.operator_address
        transaction = {
            "to": suite.manifest.address_of("FlexSettlement"),
            "data": suite.encode_call("FlexSettlement", "setWindows", (attestation_s, dispute_s)),
            "nonce": w3.eth.get_transaction_count(operator, "pending"),
            "gas": 200_000,
            "chainId": platform.chain_id,
            "maxFeePerGas": 2 * int(w3.eth.get_block("latest")["baseFeePerGas"]) + 10**9,
            "maxPriorityFeePerGas": 10**9,
            "type": 2,
            "value": 0,
        }
        raw = world.operator.wallet.sign_transaction(transaction)
        receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw))
    assert receipt["status"] == 1
