"""The market scheduler on the platform's clock (the embedded chain's, moved by the tests):
clearing at gate closure exactly once per period (a second round, a restart, the operator's
manual call, another worker's claim), settlement after the metering deadline, finalisation
after the dispute window."""

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session, func, select

from flexledger.wiring import start_scheduler
from market.assets import Technology
from market.db.models import (
    ClearingRun,
    MarketTrade,
    SchedulerJob,
    SettlementRecord,
    SettlementStatus,
)
from market.gates import DEFAULT_MARKETS
from market.scheduler import CLEAR_JOB, Scheduler, SchedulerConfig, gate_period
from oracle.types import SLOT_SECONDS
from tests.market.api.market_cast import (
    HOUSE_A,
    MarketCast,
    build_cast,
    buy,
    close_gate,
    fresh_slot,
    placed,
    sell,
)
from tests.market.api.market_setup import (
    TradeSpec,
    add_assets,
    advance_past,
    open_market,
    record_trades,
    slot_after,
)
from tests.market.api.platform_world import PlatformWorld

HOUR = 3600
DAY_AHEAD, INTRADAY = DEFAULT_MARKETS


@pytest.fixture(scope="module")
def cast(world: PlatformWorld) -> MarketCast:
    return build_cast(world)


def _runs(world: PlatformWorld, slot: int) -> list[ClearingRun]:
    with Session(world.platform.engine) as session:
        return list(
            session.exec(
                select(ClearingRun)
                .where(ClearingRun.market == "intraday")
                .where(ClearingRun.period_start <= slot)
                .where(ClearingRun.period_end > slot)
            ).all()
        )


def _trades(world: PlatformWorld, slot: int) -> int:
    with Session(world.platform.engine) as session:
        count = select(func.count()).select_from(MarketTrade)
        return session.exec(count.where(MarketTrade.slot_start == slot)).one()


def _book(cast: MarketCast) -> int:
    """A buy and a matching sell on a fresh intraday slot; returns the slot."""
    slot = fresh_slot(cast.world)
    placed(cast, cast.dso, buy(cast.dso, HOUSE_A, slot, 20_000, 30_000))
    placed(cast, cast.alpha, sell(cast, cast.alpha, "battery", slot, 20_000, 25_000))
    cast.world.settle()
    return slot


def test_gate_period_is_the_local_day_for_day_ahead_and_the_slot_for_intraday() -> None:
    slot = int(datetime(2026, 3, 29, 10, 0, tzinfo=UTC).timestamp())  # Berlin's spring DST day
    start, end = gate_period(DAY_AHEAD, slot)
    assert datetime.fromtimestamp(start, UTC) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert (end - start) // SLOT_SECONDS == 92  # 23 local hours
    assert gate_period(INTRADAY, slot) == (slot, slot + SLOT_SECONDS)


def test_the_gate_passing_clears_once_across_rounds_and_restarts(cast: MarketCast) -> None:
    world = cast.world
    slot = _book(cast)
    scheduler = Scheduler(world.platform)
    assert scheduler.run_due().cleared == []  # the gate is still open
    assert _runs(world, slot) == []

    close_gate(world, slot)
    report = scheduler.run_due()
    [run] = _runs(world, slot)
    assert run.id in report.cleared
    assert (run.period_start, run.period_end, run.trades) == (slot, slot + SLOT_SECONDS, 1)
    world.settle()

    assert scheduler.run_due().cleared == []  # a second round
    assert Scheduler(world.platform).run_due().cleared == []  # a restart
    assert len(_runs(world, slot)) == 1 and _trades(world, slot) == 1
    with Session(world.platform.engine) as session:
        job = session.get(SchedulerJob, (CLEAR_JOB, "intraday", slot))
        assert job is not None and job.run_id == run.id


def test_a_manual_clearing_first_leaves_the_scheduler_nothing_to_do(cast: MarketCast) -> None:
    world = cast.world
    slot = _book(cast)
    close_gate(world, slot)
    body = {"period_start": slot, "period_end": slot + SLOT_SECONDS}
    manual = cast.post(world.operator, "/markets/intraday/clearing", body)
    assert manual.status_code == 201, manual.text
    due = Scheduler(world.platform).due_periods(world.platform.now())
    assert slot not in {period.start for period in due}
    Scheduler(world.platform).run_due()
    assert [run.id for run in _runs(world, slot)] == [manual.json()["id"]]
    assert _trades(world, slot) == 1


def test_a_manual_call_at_the_same_time_never_trades_an_order_twice(cast: MarketCast) -> None:
    world = cast.world
    slot = _book(cast)
    close_gate(world, slot)
    body = {"period_start": slot, "period_end": slot + SLOT_SECONDS}
    replies: list[Any] = []
    manual = threading.Thread(
        target=lambda: replies.append(cast.post(world.operator, "/markets/intraday/clearing", body))
    )
    manual.start()
    Scheduler(world.platform).run_due()
    manual.join(timeout=120)
    assert replies and replies[0].status_code == 201, replies
    assert _trades(world, slot) == 1  # whichever ran first took the orders
    assert sum(run.trades for run in _runs(world, slot)) == 1


def test_another_workers_claim_stops_the_run(cast: MarketCast) -> None:
    world = cast.world
    slot = _book(cast)
    close_gate(world, slot)
    with Session(world.platform.engine) as session:
        session.add(
            SchedulerJob(
                job=CLEAR_JOB, market="intraday", period_start=slot, period_end=slot + SLOT_SECONDS
            )
        )
        session.commit()
    assert Scheduler(world.platform).run_due().cleared == []
    assert _runs(world, slot) == []


def test_serve_starts_the_scheduler_unless_it_is_switched_off(world: PlatformWorld) -> None:
    off = world.settings.model_copy(update={"scheduler": False})
    assert start_scheduler(world.platform, off) is None
    thread = start_scheduler(world.platform, world.settings)
    assert thread is not None
    thread.stop()


def test_settlement_waits_for_the_metering_deadline_then_finalises(world: PlatformWorld) -> None:
    market = open_market(world, "Scheduled")
    [asset] = add_assets(market, [(Technology.HEAT_PUMP, 50.0)])
    start = slot_after(world, 3 * HOUR)
    nominated = {
        "asset_id": asset.id,
        "method": "nominated",
        "period_start": start,
        "slot_count": 4,
        "values_kwh": [10.0] * 4,  # within 50 kW x 15 min
        "market": "intraday",
    }
    response = world.client.post("/api/v1/baselines", json=nominated, headers=market.fsp.headers)
    assert response.status_code == 201, response.text
    world.settle()
    [trade] = record_trades(market, [TradeSpec(asset, start, 4, 20_000, 21_337)])
    end = start + 4 * SLOT_SECONDS
    advance_past(world, end)
    readings = [
        {"meter_point_id": asset.meter_point_id, "slot_start": start + i * 900, "energy_kwh": 8}
        for i in range(4)
    ]
    stored = world.client.post(
        "/api/v1/meter-readings", json={"readings": readings}, headers=market.dso.headers
    )
    assert stored.status_code == 200, stored.text

    scheduler = Scheduler(world.platform, SchedulerConfig(metering_delay_s=2 * HOUR))
    assert scheduler.run_due().attested == 0  # readings may still be corrected
    advance_past(world, end + 2 * HOUR)
    assert scheduler.run_due().attested == 1
    world.settle()
    assert scheduler.run_due().attested == 0  # attested once
    with Session(world.platform.engine) as session:
        record = session.get(SettlementRecord, trade.id)
        assert record is not None and record.status == SettlementStatus.ATTESTED

    windows = world.platform.oracle.suite.manifest.parameters
    advance_past(world, end + windows["attestation_window_s"] + windows["dispute_window_s"])
    assert scheduler.run_due().finalising == 1
    world.settle()
    with Session(world.platform.engine) as session:
        record = session.get(SettlementRecord, trade.id)
        assert record is not None and record.status == SettlementStatus.FINALISED
