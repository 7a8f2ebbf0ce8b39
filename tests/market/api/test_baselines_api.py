"""Baselines through the REST API: nomination locked on chain before gate closure, computed
methods from meter history, access by role, bad input, and accuracy on history."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, func, select

from market.assets import Technology
from market.baselines import baseline_hash
from market.baselines.days import local_day, same_wall_clock
from market.client import ApiError, FlexledgerClient
from market.db.models import Asset, Baseline, OrganisationKind
from oracle.outbox.models import OutboxMessage
from oracle.types import SLOT_SECONDS
from tests.market.api.market_setup import Market, add_assets, nomination, open_market, slot_after
from tests.market.api.platform_world import Actor, PlatformWorld

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600


@dataclass
class Setup:
    market: Market
    assets: dict[str, Asset]
    other_fsp: Actor
    other_dso: Actor
    auditor: Actor


@pytest.fixture(scope="module")
def setup(world: PlatformWorld) -> Setup:
    market = open_market(world, "Baselines")
    names = ["heat_pump", "battery", "history", "meter", "accuracy", "busy"]
    plans = [
        (Technology.HEAT_PUMP, 20.0),
        (Technology.BATTERY, 20.0),
        *[(Technology.HEAT_PUMP, 20.0)] * 4,
    ]
    assets = dict(zip(names, add_assets(market, plans), strict=True))
    other = open_market(world, "Other")
    auditor = world.onboard(OrganisationKind.AUDITOR, "Auditor B")
    return Setup(market, assets, other.fsp, other.dso, auditor)


def body(asset: Asset, start: int, **changes: Any) -> dict[str, Any]:
    return {**nomination(asset, start, [2.5, 2.75, 3.0, 3.25]), **changes}


def counts(world: PlatformWorld) -> tuple[int, int]:
    with Session(world.platform.engine) as session:
        baselines = session.exec(select(func.count()).select_from(Baseline)).one()
        messages = session.exec(select(func.count()).select_from(OutboxMessage)).one()
    return baselines, messages


def loc(response: Any) -> str:
    return ".".join(str(part) for part in response.json()["detail"][0]["loc"][1:])


def post(world: PlatformWorld, actor: Actor, payload: dict[str, Any]) -> Any:
    return world.client.post("/api/v1/baselines", json=payload, headers=actor.headers)


def test_nomination_is_hashed_and_locked_on_chain_before_gate_closure(
    world: PlatformWorld, setup: Setup
) -> None:
    asset, fsp = setup.assets["heat_pump"], setup.market.fsp
    start = slot_after(world, 3 * HOUR)
    response = post(world, fsp, body(asset, start))
    assert response.status_code == 201, response.text
    created = response.json()
    slots = [start + i * SLOT_SECONDS for i in range(4)]
    expected = baseline_hash(
        fsp.address, asset.id, "nominated", dict(zip(slots, [2500, 2750, 3000, 3250], strict=True))
    )
    assert created["baseline_hash"] == "0x" + expected.hex()
    assert created["values_kwh"] == [2.5, 2.75, 3.0, 3.25] and created["locked"] is False

    world.settle()
    locked_at = world.platform.oracle.suite.read("BaselineRegistry", "lockedAt", expected)
    gate = world.platform.markets.get("intraday").gate_closure(start)
    assert 0 < locked_at < gate
    listed = world.client.get("/api/v1/baselines", params={"asset": asset.id}, headers=fsp.headers)
    assert [b["locked"] for b in listed.json()] == [True]


def test_nomination_after_gate_closure_is_refused_and_nothing_written(
    world: PlatformWorld, setup: Setup
) -> None:
    start = slot_after(world, 30 * 60)  # the intraday gate closed an hour before the slot
    before = counts(world)
    response = post(world, setup.market.fsp, body(setup.assets["battery"], start))
    assert response.status_code == 409 and loc(response) == "period_start"
    assert "gate" in response.json()["detail"][0]["msg"]
    assert counts(world) == before


def test_a_nomination_may_not_overlap_or_repeat(world: PlatformWorld, setup: Setup) -> None:
    start = slot_after(world, 6 * HOUR)
    asset = setup.assets["battery"]
    assert post(world, setup.market.fsp, body(asset, start)).status_code == 201
    before = counts(world)
    again = post(world, setup.market.fsp, body(asset, start))
    overlap = post(world, setup.market.fsp, body(asset, start + 2 * SLOT_SECONDS))
    assert again.status_code == 409 and overlap.status_code == 409
    assert "overlap" in overlap.json()["detail"][0]["msg"]
    assert counts(world) == before


def test_a_battery_may_nominate_export_a_heat_pump_may_not(
    world: PlatformWorld, setup: Setup
) -> None:
    start = slot_after(world, 9 * HOUR)
    exporting = [-2.0, -1.0, 0.0, 1.0]
    battery = post(
        world, setup.market.fsp, body(setup.assets["battery"], start, values_kwh=exporting)
    )
    assert battery.status_code == 201, battery.text
    before = counts(world)
    heat_pump = post(
        world, setup.market.fsp, body(setup.assets["heat_pump"], start, values_kwh=exporting)
    )
    assert heat_pump.status_code == 422 and loc(heat_pump) == "values_kwh"
    assert counts(world) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"values_kwh": [1.0, 2.0]}, "values_kwh"),  # 4 slots, 2 values
        ({"period_start": 1_000}, "period_start"),  # not a slot start
        ({"slot_count": 0}, "slot_count"),
        ({"method": "guess"}, "method"),
        ({"asset_id": "asset-17"}, "asset_id"),
        ({"colour": "blue"}, "colour"),
        ({"method": "x_of_y"}, "values_kwh"),  # a computed method takes no values
        ({"values_kwh": [1.0, 2.0, 3.0, 1e9]}, "values_kwh.3"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    world: PlatformWorld, setup: Setup, changes: dict[str, Any], field: str
) -> None:
    start = slot_after(world, 12 * HOUR)
    before = counts(world)
    response = post(world, setup.market.fsp, body(setup.assets["heat_pump"], start, **changes))
    assert response.status_code == 422, response.text
    assert loc(response) == field
    assert counts(world) == before


def test_only_the_owning_fsp_nominates(world: PlatformWorld, setup: Setup) -> None:
    start = slot_after(world, 12 * HOUR)
    before = counts(world)
    for actor in (setup.other_fsp, setup.market.dso, setup.auditor):
        response = post(world, actor, body(setup.assets["heat_pump"], start))
        assert response.status_code == 403, response.text
    assert loc(post(world, setup.other_fsp, body(setup.assets["heat_pump"], start))) == "asset_id"
    assert counts(world) == before


def test_baselines_are_read_by_owner_dso_auditor_only(world: PlatformWorld, setup: Setup) -> None:
    params: dict[str, Any] = {"asset": setup.assets["heat_pump"].id}
    for actor in (setup.market.fsp, setup.market.dso, setup.auditor, world.operator):
        seen = world.client.get("/api/v1/baselines", params=params, headers=actor.headers)
        assert seen.status_code == 200 and seen.json(), actor
    for actor in (setup.other_fsp, setup.other_dso):
        hidden = world.client.get("/api/v1/baselines", params=params, headers=actor.headers)
        assert hidden.status_code == 404
    assert world.client.get("/api/v1/baselines", params=params).status_code == 401


def submit(world: PlatformWorld, dso: Actor, readings: list[tuple[Asset, int, float]]) -> None:
    batch = [
        {"meter_point_id": a.meter_point_id, "slot_start": s, "energy_kwh": e}
        for a, s, e in readings
    ]
    response = world.client.post(
        "/api/v1/meter-readings", json={"readings": batch}, headers=dso.headers
    )
    assert response.status_code == 200, response.text


def test_x_of_y_is_computed_from_the_meter_history(world: PlatformWorld, setup: Setup) -> None:
    # 14 days before the target day at its wall-clock slots: the 5 most recent working days
    # 4 kWh per slot, older working days 9 kWh, weekends 7 kWh -> 5 of 5 gives 4 kWh.
    asset, start = setup.assets["history"], slot_after(world, 3 * HOUR)
    target = local_day(start, BERLIN)
    readings, working = [], 0
    for back in range(1, 15):
        day = target - timedelta(days=back)
        working += day.weekday() < 5
        kwh = 7.0 if day.weekday() >= 5 else 4.0 if working <= 5 else 9.0
        for i in range(4):
            slot = same_wall_clock(start + i * SLOT_SECONDS, target, day, BERLIN)
            assert slot is not None
            readings.append((asset, slot, kwh))
    submit(world, setup.market.dso, readings)
    response = post(
        world,
        setup.market.fsp,
        body(asset, start, method="x_of_y", values_kwh=None, market="day-ahead"),
    )
    assert response.status_code == 201, response.text
    assert response.json()["values_kwh"] == [4.0] * 4 and response.json()["method"] == "x_of_y"
    high = post(world, setup.market.fsp, body(asset, start, method="high_x_of_y", values_kwh=None))
    # high 4 of 5 picks the 4 highest of the same 5 days: all 4 kWh
    assert high.json()["values_kwh"] == [4.0] * 4


def test_meter_before_needs_the_slots_before_the_period(world: PlatformWorld, setup: Setup) -> None:
    asset = setup.assets["meter"]
    period = (world.platform.now() // SLOT_SECONDS - 20) * SLOT_SECONDS  # five hours ago
    early = post(
        world, setup.market.fsp, body(asset, period, method="meter_before", values_kwh=None)
    )
    assert early.status_code == 422 and loc(early) == "period_start"
    before = [
        (asset, period - k * SLOT_SECONDS, kwh)
        for k, kwh in zip(range(1, 5), (16.0, 14.0, 12.0, 10.0), strict=True)
    ]
    submit(world, setup.market.dso, before)
    response = post(
        world,
        setup.market.fsp,
        body(asset, period, method="meter_before", values_kwh=None, slot_count=2),
    )
    assert response.status_code == 201, response.text
    assert response.json()["values_kwh"] == [13.0, 13.0]  # (10 + 12 + 14 + 16) / 4


def _evening(day: date) -> list[int]:
    """16:00 to 21:45 local: the 17:00-21:00 evaluation window and 4 slots each side."""
    first = int(datetime.combine(day, time(16, 0), tzinfo=BERLIN).timestamp())
    return [first + i * SLOT_SECONDS for i in range(24)]


def test_accuracy_reports_each_methods_mae_and_bias(world: PlatformWorld, setup: Setup) -> None:
    # Every evening is flat at 20 kWh per slot, except the last working day at 30 kWh. On that
    # day X of Y predicts 20 (error -10 kWh per slot); meter before and before/after see the
    # flat evening itself and are exact.
    asset = setup.assets["accuracy"]
    today = local_day(world.platform.now(), BERLIN)
    last = today - timedelta(days=1)
    while last.weekday() >= 5:
        last -= timedelta(days=1)
    readings = []
    for back in range(10):
        day = last - timedelta(days=back)
        readings += [(asset, slot, 30.0 if back == 0 else 20.0) for slot in _evening(day)]
    submit(world, setup.market.dso, readings)
    response = world.client.get(
        "/api/v1/baselines/accuracy",
        params={"asset": asset.id, "days": 1},
        headers=setup.market.fsp.headers,
    )
    assert response.status_code == 200, response.text
    found = {r["method"]: r for r in response.json()}
    assert (found["x_of_y"]["mae_kwh"], found["x_of_y"]["bias_kwh"]) == (10.0, -10.0)
    assert (found["high_x_of_y"]["mae_kwh"], found["high_x_of_y"]["bias_kwh"]) == (10.0, -10.0)
    for method in ("meter_before", "meter_before_after"):
        assert (found[method]["mae_kwh"], found[method]["bias_kwh"]) == (0.0, 0.0)
    assert all(r["slots"] == 16 and r["days"] == 1 for r in found.values())


def test_accuracy_without_enough_history_names_days(world: PlatformWorld, setup: Setup) -> None:
    params: dict[str, Any] = {"asset": setup.assets["busy"].id, "days": 5}
    response = world.client.get(
        "/api/v1/baselines/accuracy", params=params, headers=setup.market.fsp.headers
    )
    assert response.status_code == 422 and loc(response) == "days"


def test_the_python_client_nominates_and_reads_baselines(
    world: PlatformWorld, setup: Setup
) -> None:
    client = FlexledgerClient(setup.market.fsp.wallet, world.client)
    client.sign_in()
    asset = setup.assets["busy"]
    start = slot_after(world, 3 * HOUR)
    created = client.nominate_baseline(asset.id, start, [1.0, 1.5], market="intraday")
    assert created["slot_count"] == 2 and created["method"] == "nominated"
    assert [b["id"] for b in client.baselines(asset.id)] == [created["id"]]
    with pytest.raises(ApiError) as refused:
        client.baseline_accuracy(asset.id, days=5)
    assert refused.value.status == 422 and refused.value.field == "days"
