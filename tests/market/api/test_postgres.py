"""The platform's API on PostgreSQL: the Alembic migration from an empty schema, then a
market day through the API, from registration to the settlement statement.

PostgreSQL runs on 127.0.0.1:5432 (tests/databases.py): the tests skip without it, and fail
without it when CI=true.
"""

import csv
import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel, select

from market.baseline_rows import encode_values
from market.baseline_service import lock_key
from market.baselines import baseline_hash
from market.db.migrate import VERSION_TABLE, pending_model_changes, upgrade
from market.db.models import TABLES, Baseline, MeterReading, utc_now
from oracle.db import TABLES as ORACLE_TABLES
from oracle.db import make_engine
from oracle.types import SLOT_SECONDS
from tests.databases import POSTGRES_URL
from tests.market.api.market_cast import (
    FEEDER_A,
    MarketCast,
    build_cast,
    buy,
    close_gate,
    counts,
    error_field,
    fresh_slot,
    placed,
    sell,
    signed,
)
from tests.market.api.platform_world import start
from tests.market.api.races import committed_first

SLOTS = 4
POWER_W = 10_000  # the trade: 10 kW up for an hour
BASELINE_KWH = 5.0  # per slot: the battery would draw 20 kW
METERED_KWH = 2.5  # per slot: it drew 10 kW, so it delivered the 10 kW it sold


def _server() -> Engine:
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except OperationalError as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required in CI and unreachable: {error}")
        pytest.skip(f"PostgreSQL unreachable: {error}")
    return engine


def _drop_platform_tables(engine: Engine) -> None:
    """The market's and the oracle's tables with their enum types, and the migration's
    version table: what the platform creates on start."""
    tables = [model.__table__ for model in (*TABLES, *ORACLE_TABLES)]  # type: ignore[attr-defined]
    # One drop for both: SQLAlchemy drops every enum type of the metadata with it, and the
    # types of tables left behind would still be in use.
    SQLModel.metadata.drop_all(engine, tables=tables)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {VERSION_TABLE}"))


def test_the_platform_starts_on_an_empty_postgresql_schema() -> None:
    engine = _server()
    _drop_platform_tables(engine)
    try:
        oracle_engine = make_engine(POSTGRES_URL)  # what the oracle service does first
        try:
            upgrade(oracle_engine)  # then the platform
        finally:
            oracle_engine.dispose()
    finally:
        _drop_platform_tables(engine)
        engine.dispose()


@pytest.fixture(scope="module")
def cast(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MarketCast]:
    engine = _server()
    _drop_platform_tables(engine)
    world = start(Path(tmp_path_factory.mktemp("postgres")), database_url=POSTGRES_URL)
    try:
        yield build_cast(world)  # registration, approval, grid import, assets, mapping
    finally:
        world.close()
        world.platform.engine.dispose()
        _drop_platform_tables(engine)  # the oracle's PostgreSQL tests start from theirs
        engine.dispose()


def test_the_platform_runs_on_postgresql_with_its_migration(cast: MarketCast) -> None:
    engine = cast.world.platform.engine
    assert engine.dialect.name == "postgresql"
    assert pending_model_changes(engine) == []
    with engine.connect() as connection:
        version = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    assert len(version) == 1


def test_registration_grid_and_assets_went_through_the_api(cast: MarketCast) -> None:
    organisations = cast.get(cast.auditor, "/organisations").json()
    assert {o["status"] for o in organisations} == {"active"} and len(organisations) == 5
    nodes = cast.get(cast.dso, "/grid/nodes", operator_id=cast.dso.organisation_id).json()
    assert len(nodes) == 5 and all(node["on_chain"] for node in nodes)
    battery = cast.get(cast.alpha, f"/assets/{cast.assets['battery']}").json()
    assert battery["status"] == "mapped" and battery["node_id"] == 4


def test_a_market_day_settles_on_postgresql(cast: MarketCast) -> None:
    slot = fresh_slot(cast.world, SLOTS)
    _nominate_baseline(cast, slot)
    _place_orders(cast, slot)
    _refused_batch_writes_nothing(cast, slot)
    trade = _clear(cast, slot)
    _meter(cast, slot)
    _settle(cast, trade)
    _statement_shows_the_payment(cast, slot, trade)


def _nominate_baseline(cast: MarketCast, slot: int) -> None:
    body = {
        "asset_id": cast.assets["battery"],
        "method": "nominated",
        "period_start": slot,
        "slot_count": SLOTS,
        "values_kwh": [BASELINE_KWH] * SLOTS,
        "market": "intraday",
    }
    response = cast.post(cast.alpha, "/baselines", body)
    assert response.status_code == 201, response.text
    cast.world.settle()
    [baseline] = cast.get(cast.alpha, "/baselines", asset=cast.assets["battery"]).json()
    assert baseline["locked"]


def _place_orders(cast: MarketCast, slot: int) -> None:
    """One buy placed alone, two offers in one batch (the EV's node is not below the buy's)."""
    placed(cast, cast.dso, buy(cast.dso, FEEDER_A, slot, POWER_W, 25_000))
    offers = [
        sell(cast, cast.alpha, "battery", slot, POWER_W, 15_000),
        sell(cast, cast.alpha, "ev", slot, POWER_W, 14_000),
    ]
    body = {"market": "intraday", "orders": [signed(cast, cast.alpha, o) for o in offers]}
    response = cast.post(cast.alpha, "/orders/batch", body)
    assert response.status_code == 201 and response.json()["count"] == 2, response.text
    cast.world.settle()  # the oracle commits them on chain


def _refused_batch_writes_nothing(cast: MarketCast, slot: int) -> None:
    before = counts(cast.world)
    offers = [
        sell(cast, cast.alpha, "battery", slot, POWER_W, 15_000),
        sell(cast, cast.alpha, "ev", slot, 31_000, 14_000),  # above its 30 kW
    ]
    body = {"market": "intraday", "orders": [signed(cast, cast.alpha, o) for o in offers]}
    response = cast.post(cast.alpha, "/orders/batch", body)
    assert response.status_code == 422 and error_field(response) == "orders.1.order.power_w"
    assert counts(cast.world) == before


def _clear(cast: MarketCast, slot: int) -> dict[str, object]:
    close_gate(cast.world, slot + (SLOTS - 1) * SLOT_SECONDS)
    period = {"period_start": slot, "period_end": slot + SLOTS * SLOT_SECONDS}
    run = cast.post(cast.world.operator, "/markets/intraday/clearing", period)
    assert run.status_code == 201 and run.json()["trade_count"] == 1, run.text
    cast.world.settle()
    [trade] = cast.get(cast.alpha, "/trades", run_id=run.json()["id"]).json()
    assert trade["status"] == "recorded" and trade["chain_trade_id"] is not None
    assert trade["asset"] == cast.assets["battery"] and trade["power_kw"] == POWER_W / 1000
    recorded: dict[str, object] = trade
    return recorded


def _meter(cast: MarketCast, slot: int) -> None:
    delivery_end = slot + SLOTS * SLOT_SECONDS
    cast.world.connection.dev_chain.advance_time(delivery_end - cast.world.platform.now() + 60)
    battery = cast.get(cast.dso, f"/assets/{cast.assets['battery']}").json()
    readings = [
        {
            "meter_point_id": battery["meter_point_id"],
            "slot_start": slot + n * SLOT_SECONDS,
            "energy_kwh": METERED_KWH,
        }
        for n in range(SLOTS)
    ]
    response = cast.post(cast.dso, "/meter-readings", {"readings": readings})
    assert response.status_code == 200 and response.json()["stored"] == SLOTS, response.text


def _settle(cast: MarketCast, trade: dict[str, object]) -> None:
    run = cast.post(cast.world.operator, "/settlements/run", None)
    assert run.status_code == 200, run.text
    [attested] = run.json()["attested"]
    assert attested["trade_id"] == trade["chain_trade_id"]
    assert attested["baseline_method"] == "nominated"
    assert attested["baseline_kwh"] == BASELINE_KWH * SLOTS
    assert attested["metered_kwh"] == METERED_KWH * SLOTS
    cast.world.settle()  # the attestation goes on chain and its numbers come back


def _statement_shows_the_payment(cast: MarketCast, slot: int, trade: dict[str, object]) -> None:
    window = {"from": slot, "to": slot + SLOTS * SLOT_SECONDS}
    response = cast.get(cast.alpha, "/settlements/statement", **window, format="csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    [line] = [row for row in rows if row["chain_trade_id"] == str(trade["chain_trade_id"])]
    assert line["status"] == "attested", line
    delivered_kwh = POWER_W / 1000 * SLOTS * SLOT_SECONDS / 3600
    assert float(line["delivered_kwh"]) == delivered_kwh
    price = float(str(trade["price_eur_per_mwh"]))
    assert float(line["payment_eur"]) == pytest.approx(price * delivered_kwh / 1000)
    assert float(line["penalty_eur"]) == 0


def _twin_baseline(cast: MarketCast, asset_id: str, start: int) -> Callable[[Any], None]:
    def twin(connection: Any) -> None:
        connection.execute(
            insert(Baseline.__table__),  # type: ignore[attr-defined]
            {
                "asset_id": asset_id,
                "owner_id": cast.alpha.organisation_id,
                "method": "nominated",
                "period_start": start,
                "slot_count": SLOTS,
                "values": encode_values({start + n * SLOT_SECONDS: 1000 for n in range(SLOTS)}),
                "baseline_hash": "0x" + "ef" * 32,
                "locked": False,
                "flagged": False,
                "created_at": utc_now(),
            },
        )

    return twin


def test_a_concurrent_twin_nomination_is_409_on_postgresql(cast: MarketCast) -> None:
    """Another request stores the same asset's nomination between our checks and our
    insert: 409 naming the field, and no lock message of ours in the outbox."""
    slot = fresh_slot(cast.world, SLOTS)
    ev = cast.assets["ev"]
    body = {
        "asset_id": ev,
        "method": "nominated",
        "period_start": slot,
        "slot_count": SLOTS,
        "values_kwh": [2.0] * SLOTS,
        "market": "intraday",
    }
    ours = {slot + n * SLOT_SECONDS: 2000 for n in range(SLOTS)}
    our_hash = "0x" + baseline_hash(cast.alpha.address, ev, "nominated", ours).hex()
    twin = _twin_baseline(cast, ev, slot)
    with committed_first(cast.world.platform.engine, "market_baseline", twin):
        response = cast.post(cast.alpha, "/baselines", body)
    assert response.status_code == 409 and error_field(response) == "period_start", response.text
    assert cast.world.platform.oracle.store.get(lock_key(our_hash)) is None
    with Session(cast.world.platform.engine) as session:
        stored = session.exec(
            select(Baseline.baseline_hash)
            .where(Baseline.asset_id == ev)
            .where(Baseline.period_start == slot)
        ).all()
    assert stored == ["0x" + "ef" * 32]  # the twin's row only


def test_a_concurrent_identical_meter_reading_is_409_on_postgresql(cast: MarketCast) -> None:
    ev = cast.get(cast.dso, f"/assets/{cast.assets['ev']}").json()
    slot = (cast.world.platform.now() // SLOT_SECONDS - 2) * SLOT_SECONDS
    reading = {"meter_point_id": ev["meter_point_id"], "slot_start": slot, "energy_kwh": 1.0}

    def twin(connection: Any) -> None:
        connection.execute(
            insert(MeterReading.__table__),  # type: ignore[attr-defined]
            {
                "meter_point_id": ev["meter_point_id"],
                "slot_start": slot,
                "energy_wh": 1000,
                "submitted_by": cast.dso.organisation_id,
                "created_at": utc_now(),
            },
        )

    with committed_first(cast.world.platform.engine, "market_meter_reading", twin):
        response = cast.post(cast.dso, "/meter-readings", {"readings": [reading]})
    assert response.status_code == 409, response.text
    assert error_field(response) == "readings.0.slot_start"
    again = cast.post(cast.dso, "/meter-readings", {"readings": [reading]})
    assert again.json() == {"stored": 0, "unchanged": 1, "corrected": 0}
