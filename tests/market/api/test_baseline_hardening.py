"""Nominated baselines hardened (issue 7): bounds by prequalified power and metered peaks,
outliers flagged for the DSO, disputes (and what settles instead), races answered 409 with
the lock message written in the row's transaction, batch nominations, meter corrections.

One platform for the module; tests run in file order, the settlement ones last (they move
the chain's clock past delivery).
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx2 as httpx
import pytest
from eth_account import Account
from sqlalchemy import func, insert
from sqlmodel import Session, select

from flexledger.server import ServerThread
from market.api import create_app
from market.assets import Technology
from market.baseline_rows import encode_values
from market.baseline_service import lock_key
from market.baselines import baseline_hash
from market.baselines.days import local_day, same_wall_clock
from market.client import FlexledgerClient
from market.db.models import (
    Asset,
    Baseline,
    MeterReading,
    OrganisationKind,
    SettlementRecord,
    utc_now,
)
from oracle.outbox.models import OutboxMessage
from oracle.types import SLOT_SECONDS, Address
from tests.market.api.market_setup import (
    Market,
    TradeSpec,
    add_assets,
    advance_past,
    nomination,
    open_market,
    record_trades,
    slot_after,
)
from tests.market.api.platform_world import Actor, PlatformWorld
from tests.market.api.races import committed_first

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600
PRICE = 20_000  # cents/MWh


@dataclass
class Setup:
    market: Market
    assets: dict[str, Asset]
    other_fsp: Actor
    other_dso: Actor
    auditor: Actor


@pytest.fixture(scope="module")
def setup(world: PlatformWorld) -> Setup:
    market = open_market(world, "Hardening")
    names = ["heat_pump", "battery", "site", "typical", "race", "corrected", "batch_a"]
    plans = [
        (Technology.HEAT_PUMP, 20.0),  # 5 kWh per slot
        (Technology.BATTERY, 20.0),
        (Technology.OTHER, 20.0),
        (Technology.HEAT_PUMP, 20.0),
        (Technology.HEAT_PUMP, 20.0),
        (Technology.HEAT_PUMP, 20.0),
        (Technology.HEAT_PUMP, 20.0),
    ]
    assets = dict(zip(names, add_assets(market, plans), strict=True))
    other = open_market(world, "Hardening other")
    auditor = world.onboard(OrganisationKind.AUDITOR, "Auditor H")
    return Setup(market, assets, other.fsp, other.dso, auditor)


def post(world: PlatformWorld, actor: Actor, path: str, body: Any) -> Any:
    return world.client.post(f"/api/v1{path}", json=body, headers=actor.headers)


def loc(response: Any) -> str:
    return ".".join(str(part) for part in response.json()["detail"][0]["loc"][1:])


def counts(world: PlatformWorld) -> tuple[int, int]:
    with Session(world.platform.engine) as session:
        baselines = session.exec(select(func.count()).select_from(Baseline)).one()
        messages = session.exec(select(func.count()).select_from(OutboxMessage)).one()
    return baselines, messages


def readings(asset: Asset, slots: list[int], kwh: float) -> list[dict[str, Any]]:
    return [
        {"meter_point_id": asset.meter_point_id, "slot_start": slot, "energy_kwh": kwh}
        for slot in slots
    ]


def submit(world: PlatformWorld, dso: Actor, batch: list[dict[str, Any]]) -> None:
    response = post(world, dso, "/meter-readings", {"readings": batch})
    assert response.status_code == 200, response.text


def history(asset: Asset, start: int, slots: int = 4) -> list[dict[str, Any]]:
    """14 days before ``start`` at its wall-clock slots: the 5 most recent working days
    4 kWh per slot (the X-of-Y baseline), older working days 9 kWh, weekends 7 kWh."""
    target = local_day(start, BERLIN)
    batch, working = [], 0
    for back in range(1, 15):
        day = target - timedelta(days=back)
        working += day.weekday() < 5
        kwh = 7.0 if day.weekday() >= 5 else 4.0 if working <= 5 else 9.0
        for i in range(slots):
            slot = same_wall_clock(start + i * SLOT_SECONDS, target, day, BERLIN)
            assert slot is not None
            batch += readings(asset, [slot], kwh)
    return batch


# -- 1. bounds ----------------------------------------------------------------------------


def test_a_nomination_above_the_prequalified_power_is_refused(
    world: PlatformWorld, setup: Setup
) -> None:
    # 20 kW prequalified: at most 5 kWh per slot without history; 50 kWh would settle as
    # 45 kWh of flexibility delivered without anything done.
    start = slot_after(world, 3 * HOUR)
    before = counts(world)
    body = nomination(setup.assets["heat_pump"], start, [2.0, 2.0, 50.0, 2.0])
    response = post(world, setup.market.fsp, "/baselines", body)
    assert response.status_code == 422, response.text
    assert loc(response) == "values_kwh.2" and "prequalified" in response.text
    assert counts(world) == before
    at_bound = nomination(setup.assets["heat_pump"], start, [5.0] * 4)
    assert post(world, setup.market.fsp, "/baselines", at_bound).status_code == 201


def test_a_battery_may_nominate_export_only_up_to_its_power(
    world: PlatformWorld, setup: Setup
) -> None:
    start = slot_after(world, 3 * HOUR)
    before = counts(world)
    body = nomination(setup.assets["battery"], start, [-4.0, -6.0, 0.0, 1.0])
    response = post(world, setup.market.fsp, "/baselines", body)
    assert response.status_code == 422 and loc(response) == "values_kwh.1"
    assert counts(world) == before
    body = nomination(setup.assets["battery"], start, [-5.0, -4.0, 0.0, 5.0])
    assert post(world, setup.market.fsp, "/baselines", body).status_code == 201


def test_the_metered_peak_widens_the_bound_of_a_site(world: PlatformWorld, setup: Setup) -> None:
    # A site metered 30 kWh per slot yesterday; its 20 kW flexibility adds 5 kWh: 35 kWh.
    site, start = setup.assets["site"], slot_after(world, 3 * HOUR)
    submit(world, setup.market.dso, readings(site, [start - 24 * HOUR], 30.0))
    too_much = post(world, setup.market.fsp, "/baselines", nomination(site, start, [35.5]))
    assert too_much.status_code == 422 and loc(too_much) == "values_kwh.0"
    fine = post(world, setup.market.fsp, "/baselines", nomination(site, start, [35.0]))
    assert fine.status_code == 201, fine.text
    assert fine.json()["flagged"] is False  # one day of history: no X of Y to compare with


# -- 1. outliers flagged for the DSO, disputes ----------------------------------------------


def test_an_outlier_against_x_of_y_is_stored_flagged_for_the_dso(
    world: PlatformWorld, setup: Setup
) -> None:
    asset, fsp, dso = setup.assets["typical"], setup.market.fsp, setup.market.dso
    start = slot_after(world, 3 * HOUR)
    submit(world, dso, history(asset, start, slots=8))
    # X of Y is 4 kWh; the bound is 5 + 9 kWh. 5.5 kWh is near X of Y, 12 kWh is not.
    near = post(world, fsp, "/baselines", nomination(asset, start, [5.5] * 4))
    assert near.status_code == 201 and near.json()["flagged"] is False
    far = post(world, fsp, "/baselines", nomination(asset, start + 4 * SLOT_SECONDS, [12.0] * 4))
    assert far.status_code == 201, far.text
    flagged = far.json()
    assert flagged["flagged"] is True and "X-of-Y" in flagged["flag_reason"]
    assert "nominated 12.0 kWh, history 4.0 kWh" in flagged["flag_reason"]

    def seen(actor: Actor) -> set[int]:
        response = world.client.get(
            "/api/v1/baselines", params={"flagged": "true"}, headers=actor.headers
        )
        assert response.status_code == 200, response.text
        return {b["id"] for b in response.json()}

    assert flagged["id"] in seen(dso) and flagged["id"] in seen(fsp)
    assert flagged["id"] in seen(setup.auditor) and near.json()["id"] not in seen(dso)
    assert flagged["id"] not in seen(setup.other_dso) | seen(setup.other_fsp)
    unnamed = world.client.get("/api/v1/baselines", headers=dso.headers)
    assert unnamed.status_code == 422 and loc(unnamed) == "asset"


def test_only_the_areas_system_operator_disputes_a_nomination(
    world: PlatformWorld, setup: Setup
) -> None:
    asset = setup.assets["typical"]
    with Session(world.platform.engine) as session:
        row = session.exec(
            select(Baseline).where(Baseline.asset_id == asset.id).where(Baseline.flagged)
        ).one()
    path, reason = f"/baselines/{row.id}/dispute", {"reason": "three times the asset's X of Y"}
    assert post(world, setup.market.fsp, path, reason).status_code == 403
    assert post(world, setup.auditor, path, reason).status_code == 403
    outside = post(world, setup.other_dso, path, reason)
    assert outside.status_code == 404 and loc(outside) == "baseline_id"
    disputed = post(world, setup.market.dso, path, reason)
    assert disputed.status_code == 200, disputed.text
    assert disputed.json()["disputed"] is True
    assert disputed.json()["dispute_reason"] == reason["reason"]
    assert disputed.json()["disputed_by"] == setup.market.dso.organisation_id
    again = post(world, setup.market.dso, path, reason)
    assert again.status_code == 409 and loc(again) == "baseline_id"
    missing = post(world, setup.market.dso, "/baselines/999999/dispute", reason)
    assert missing.status_code == 404


def test_a_computed_baseline_is_not_disputed(world: PlatformWorld, setup: Setup) -> None:
    asset, fsp = setup.assets["typical"], setup.market.fsp
    assert fsp.organisation_id is not None
    start = slot_after(world, 27 * HOUR)
    computed = Baseline(
        asset_id=asset.id,
        owner_id=fsp.organisation_id,
        method="x_of_y",
        period_start=start,
        slot_count=1,
        values=encode_values({start: 4000}),
        baseline_hash="0x" + "cd" * 32,
    )
    with Session(world.platform.engine) as session:
        session.add(computed)
        session.commit()
        session.refresh(computed)
    path = f"/baselines/{computed.id}/dispute"
    refused = post(world, setup.market.dso, path, {"reason": "not a nomination"})
    assert refused.status_code == 409 and "correct the readings" in refused.text


# -- 2. races: 409, and the lock message only with its row -------------------------------------


def test_a_concurrent_twin_nomination_is_409_and_leaves_no_lock_message(
    world: PlatformWorld, setup: Setup
) -> None:
    asset, fsp = setup.assets["race"], setup.market.fsp
    start = slot_after(world, 3 * HOUR)
    ours = [1.0, 1.5, 2.0, 2.5]
    slots = [start + i * SLOT_SECONDS for i in range(4)]
    values = dict(zip(slots, [1000, 1500, 2000, 2500], strict=True))
    our_hash = "0x" + baseline_hash(fsp.address, asset.id, "nominated", values).hex()
    theirs = {slot: 3000 for slot in slots}
    assert fsp.organisation_id is not None

    def twin(connection: Any) -> None:
        connection.execute(
            insert(Baseline.__table__),  # type: ignore[attr-defined]
            {
                "asset_id": asset.id,
                "owner_id": fsp.organisation_id,
                "method": "nominated",
                "period_start": start,
                "slot_count": 4,
                "values": encode_values(theirs),
                "baseline_hash": "0x" + "ab" * 32,
                "locked": False,
                "flagged": False,
                "created_at": utc_now(),
            },
        )

    before_baselines, before_messages = counts(world)
    with committed_first(world.platform.engine, "market_baseline", twin):
        response = post(world, fsp, "/baselines", nomination(asset, start, ours))
    assert response.status_code == 409, response.text
    assert loc(response) == "period_start" and "meanwhile" in response.text
    assert world.platform.oracle.store.get(lock_key(our_hash)) is None
    assert counts(world) == (before_baselines + 1, before_messages)  # the twin only


def test_a_concurrent_identical_meter_reading_is_409_not_500(
    world: PlatformWorld, setup: Setup
) -> None:
    asset, dso = setup.assets["race"], setup.market.dso
    slot = (world.platform.now() // SLOT_SECONDS - 3) * SLOT_SECONDS
    assert dso.organisation_id is not None

    def twin(connection: Any) -> None:
        connection.execute(
            insert(MeterReading.__table__),  # type: ignore[attr-defined]
            {
                "meter_point_id": asset.meter_point_id,
                "slot_start": slot,
                "energy_wh": 1500,
                "submitted_by": dso.organisation_id,
                "created_at": utc_now(),
            },
        )

    batch = readings(asset, [slot - SLOT_SECONDS, slot], 1.5)
    with committed_first(world.platform.engine, "market_meter_reading", twin):
        response = post(world, dso, "/meter-readings", {"readings": batch})
    assert response.status_code == 409, response.text
    assert loc(response) == "readings.1.slot_start"
    with Session(world.platform.engine) as session:
        stored = session.exec(
            select(MeterReading.slot_start).where(
                MeterReading.meter_point_id == asset.meter_point_id
            )
        ).all()
    assert stored == [slot]  # the twin only: nothing of the refused batch
    again = post(world, dso, "/meter-readings", {"readings": batch})
    assert again.json() == {"stored": 1, "unchanged": 1, "corrected": 0}


def _at_once(url: str, path: str, body: Any, headers: dict[str, str], threads: int) -> list[int]:
    """The statuses of ``threads`` identical POSTs released together by a barrier."""
    barrier = threading.Barrier(threads)

    def send(_: int) -> int:
        with httpx.Client(base_url=url, timeout=60) as client:
            barrier.wait()
            return client.post(f"/api/v1{path}", json=body, headers=headers).status_code

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(send, range(threads)))


def test_identical_requests_from_threads_against_a_real_server_never_500(
    world: PlatformWorld, setup: Setup
) -> None:
    """Eight threads send the same new meter reading, then the same nomination, at once to
    uvicorn: each answers 200/201 (the first, or an identical re-submission) or 409."""
    asset, fsp, dso = setup.assets["race"], setup.market.fsp, setup.market.dso
    slot = (world.platform.now() // SLOT_SECONDS - 20) * SLOT_SECONDS
    start = slot_after(world, 9 * HOUR)
    calls = [
        ("/meter-readings", {"readings": readings(asset, [slot], 1.25)}, dso.headers),
        ("/baselines", nomination(asset, start, [1.0] * 4), fsp.headers),
    ]
    with ServerThread(create_app(world.platform)) as server:
        for path, body, headers in calls:
            statuses = _at_once(server.url, path, body, headers, threads=8)
            assert set(statuses) <= {200, 201, 409}, statuses
    with Session(world.platform.engine) as session:
        readings_stored = session.exec(
            select(func.count())
            .select_from(MeterReading)
            .where(MeterReading.meter_point_id == asset.meter_point_id)
            .where(MeterReading.slot_start == slot)
        ).one()
        nominations = session.exec(
            select(func.count())
            .select_from(Baseline)
            .where(Baseline.asset_id == asset.id)
            .where(Baseline.period_start == start)
        ).one()
    assert (readings_stored, nominations) == (1, 1)


# -- 3. meter corrections kept ------------------------------------------------------------------


def test_every_correction_is_kept_and_read_by_its_parties(
    world: PlatformWorld, setup: Setup
) -> None:
    asset, dso = setup.assets["corrected"], setup.market.dso
    slot = (world.platform.now() // SLOT_SECONDS - 8) * SLOT_SECONDS
    submit(world, dso, readings(asset, [slot], 2.0))
    note = {"note": "meter swapped, register read again"}
    for kwh in (2.25, 2.5):
        response = world.client.post(
            "/api/v1/meter-readings?correct=true",
            json={"readings": readings(asset, [slot], kwh), **note},
            headers=dso.headers,
        )
        assert response.json() == {"stored": 0, "unchanged": 0, "corrected": 1}
    params = {"meter_point_id": asset.meter_point_id}
    for actor in (dso, setup.market.fsp, setup.auditor, world.operator):
        found = world.client.get(
            "/api/v1/meter-readings/corrections", params=params, headers=actor.headers
        )
        assert found.status_code == 200, found.text
        trail = [(c["old_kwh"], c["new_kwh"], c["note"], c["corrected_by"]) for c in found.json()]
        assert trail == [
            (2.0, 2.25, note["note"], dso.organisation_id),
            (2.25, 2.5, note["note"], dso.organisation_id),
        ]
        assert all(c["slot_start"] == slot for c in found.json())
    for actor in (setup.other_dso, setup.other_fsp):
        hidden = world.client.get(
            "/api/v1/meter-readings/corrections", params=params, headers=actor.headers
        )
        assert hidden.status_code == 404


# -- 5. batch nominations ---------------------------------------------------------------------


def test_a_batch_is_all_or_none_and_names_the_item(world: PlatformWorld, setup: Setup) -> None:
    asset, fsp = setup.assets["batch_a"], setup.market.fsp
    start = slot_after(world, 3 * HOUR)
    good = [nomination(asset, start + k * 4 * SLOT_SECONDS, [1.0] * 4) for k in range(3)]
    before = counts(world)
    bad = [*good, nomination(asset, start + 3 * 4 * SLOT_SECONDS, [1.0, 9.0, 1.0, 1.0])]
    refused = post(world, fsp, "/baselines/batch", {"baselines": bad})
    assert refused.status_code == 422 and loc(refused) == "baselines.3.values_kwh.1"
    overlapping = [*good, nomination(asset, start + 2 * SLOT_SECONDS, [1.0] * 4)]
    clash = post(world, fsp, "/baselines/batch", {"baselines": overlapping})
    assert clash.status_code == 409 and loc(clash) == "baselines.3.period_start"
    assert counts(world) == before
    created = post(world, fsp, "/baselines/batch", {"baselines": good})
    assert created.status_code == 201, created.text
    assert [b["period_start"] for b in created.json()] == [b["period_start"] for b in good]
    assert counts(world) == (before[0] + 3, before[1] + 3)  # three rows, three locks
    too_many = post(world, fsp, "/baselines/batch", {"baselines": good * 334})
    assert too_many.status_code == 422 and loc(too_many) == "baselines"


def _many_assets(world: PlatformWorld, fsp: Actor, count: int) -> list[Asset]:
    """Assets stored straight in the table: a nomination reads only the platform's rows."""
    assert fsp.organisation_id is not None
    assets = [
        Asset(
            id=Address(Account.create().address),
            owner_id=fsp.organisation_id,
            name=f"home {n}",
            technology=Technology.HEAT_PUMP.value,
            meter_point_id=f"BATCH{n:012d}",
            latitude=52.5,
            longitude=13.4,
            up_w=5_000,
            down_w=2_000,
            proposed_node_id=0,
        )
        for n in range(count)
    ]
    with Session(world.platform.engine) as session:
        session.add_all(assets)
        session.commit()
        for asset in assets:
            session.refresh(asset)
    return assets


def test_a_thousand_nominations_in_one_request(world: PlatformWorld, setup: Setup) -> None:
    assets = _many_assets(world, setup.market.fsp, 1_000)
    client = FlexledgerClient(setup.market.fsp.wallet, world.client)
    client.sign_in()
    start = slot_after(world, 3 * HOUR)
    profile = [0.5, 0.75, 1.0, 1.25]
    before = counts(world)
    began = time.perf_counter()
    nominations = [(a.id, start, profile) for a in assets]
    created = client.nominate_baselines(nominations, market="intraday")
    elapsed_s = time.perf_counter() - began
    print(f"\n1,000 nominations in one request: {elapsed_s:.2f} s")
    assert len(created) == 1_000 and {b["asset_id"] for b in created} == {a.id for a in assets}
    assert counts(world) == (before[0] + 1_000, before[1] + 1_000)
    with Session(world.platform.engine) as session:
        keys = session.exec(
            select(OutboxMessage.key).where(
                OutboxMessage.key.in_([lock_key(b["baseline_hash"]) for b in created])  # type: ignore[attr-defined]
            )
        ).all()
    assert len(keys) == 1_000


# -- 1. what settles a disputed nomination --------------------------------------------------------


@dataclass
class Day:
    start: int
    assets: dict[str, Asset]
    trades: dict[str, int]  # name -> platform trade id
    run: dict[str, Any]
    baselines: dict[str, int]


@pytest.fixture(scope="module")
def day(world: PlatformWorld, setup: Setup) -> Day:
    """Three heat pumps (20 kW) trade 20 kW up for an hour S: "disputed" nominated 12 kWh per
    slot against an X of Y of 4 kWh and its DSO disputed it; "held" has no history and was
    disputed too; "kept" keeps its nomination. Each meters 2 kWh per slot."""
    market = setup.market
    names = ["disputed", "held", "kept"]
    assets = dict(zip(names, add_assets(market, [(Technology.HEAT_PUMP, 20.0)] * 3), strict=True))
    start = slot_after(world, 3 * HOUR)
    submit(world, market.dso, history(assets["disputed"], start) + history(assets["kept"], start))
    ids = {}
    for name, kwh in (("disputed", 12.0), ("held", 4.0), ("kept", 5.0)):
        created = post(world, market.fsp, "/baselines", nomination(assets[name], start, [kwh] * 4))
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]
    world.settle()  # the locks are mined before the gate closes
    specs = [TradeSpec(assets[name], start, 4, 20_000, PRICE) for name in names]
    trades = dict(zip(names, record_trades(market, specs), strict=True))
    dso = FlexledgerClient(market.dso.wallet, world.client)
    dso.sign_in()
    flagged = {b["id"] for b in dso.flagged_baselines()}
    assert ids["disputed"] in flagged and ids["held"] not in flagged
    for name in ("disputed", "held"):
        assert dso.dispute_baseline(ids[name], "not what this heat pump draws")["disputed"]
    advance_past(world, start + 4 * SLOT_SECONDS)
    slots = [start + i * SLOT_SECONDS for i in range(4)]
    submit(world, market.dso, [r for a in assets.values() for r in readings(a, slots, 2.0)])
    ran = world.client.post("/api/v1/settlements/run", headers=world.operator.headers)
    assert ran.status_code == 200, ran.text
    world.settle()
    trade_ids = {name: t.id for name, t in trades.items() if t.id is not None}
    chain_ids = {name: t.chain_trade_id for name, t in trades.items()}
    run = {"by_name": chain_ids, **ran.json()}
    return Day(start, assets, trade_ids, run, ids)


def _record(world: PlatformWorld, trade_id: int) -> SettlementRecord | None:
    with Session(world.platform.engine) as session:
        return session.get(SettlementRecord, trade_id)


def test_a_disputed_nomination_settles_on_x_of_y(world: PlatformWorld, day: Day) -> None:
    # Nominated 4 x 12 kWh would pay the full 20 kWh traded; X of Y (4 kWh per slot) minus
    # 2 kWh metered per slot delivers 8 kWh.
    record = _record(world, day.trades["disputed"])
    assert record is not None
    assert record.baseline_method == "x_of_y"
    assert (record.baseline_wh, record.metered_wh, record.delivered_wh) == (16_000, 8_000, 8_000)
    assert record.payment_cents == 160  # 20000 * 8000 // 10^6
    kept = _record(world, day.trades["kept"])
    assert kept is not None and kept.baseline_method == "nominated"
    assert (kept.baseline_wh, kept.delivered_wh) == (20_000, 12_000)


def test_a_disputed_nomination_without_history_holds_the_trade(
    world: PlatformWorld, day: Day
) -> None:
    assert _record(world, day.trades["held"]) is None
    chain_id = day.run["by_name"]["held"]
    [reason] = [s["reason"] for s in day.run["skipped"] if s["trade_id"] == chain_id]
    assert "disputed by the system operator" in reason and "held" in reason


def test_a_baseline_whose_trade_is_attested_is_not_disputed(
    world: PlatformWorld, setup: Setup, day: Day
) -> None:
    path = f"/baselines/{day.baselines['kept']}/dispute"
    refused = post(world, setup.market.dso, path, {"reason": "too late"})
    assert refused.status_code == 409 and "attested on chain" in refused.text
