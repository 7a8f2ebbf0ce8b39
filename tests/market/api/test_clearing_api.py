"""Clearing through the REST API: gate rules, trades recorded on chain with their ids,
explanations scoped to who may read them, pay-as-bid and pay-as-clear prices, all-or-nothing
orders, and an auditor's re-run from chain data that gives the same trades."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from market.db.models import MarketOrder, MarketTrade, TradeStatus
from market.reclear import reclear_from_chain, recorded_trades
from market.trade_failures import fail_rejected_trades
from oracle.outbox.models import MessageStatus, OutboxMessage
from oracle.types import SLOT_SECONDS
from tests.market.api.market_cast import (
    FEEDER_A,
    HOUSE_B,
    MarketCast,
    buy,
    close_gate,
    counts,
    error_field,
    fresh_slot,
    placed,
    sell,
    shared_cast,
)

PERIOD_SLOTS = 4


@pytest.fixture(scope="module")
def cast(tmp_path_factory: pytest.TempPathFactory) -> MarketCast:
    return shared_cast(Path(tmp_path_factory.getbasetemp()) / "market")


@dataclass
class Book:
    """One period's orders: two DSO buys, three offers and a cancelled offer."""

    slot: int
    feeder_buy: str  # 30 kW at feeder A, 250 EUR/MWh, divisible
    house_aon_buy: str  # 40 kW all-or-nothing at house B, 300 EUR/MWh
    battery: str  # alpha, house A (under feeder A), 20 kW at 150
    heat_pump: str  # beta, house A, 15 kW at 200, divisible down to 5 kW
    ev: str  # alpha, house B, 25 kW at 180: the only offer under the AON buy
    cancelled: str  # alpha, house A, 20 kW at 100: would have won, but was cancelled


def place_book(cast: MarketCast) -> Book:
    slot = fresh_slot(cast.world)
    dso, alpha, beta = cast.dso, cast.alpha, cast.beta
    book = Book(
        slot=slot,
        feeder_buy=placed(cast, dso, buy(dso, FEEDER_A, slot, 30_000, 25_000, min_power_w=5_000)),
        house_aon_buy=placed(cast, dso, buy(dso, HOUSE_B, slot, 40_000, 30_000, divisible=False)),
        battery=placed(cast, alpha, sell(cast, alpha, "battery", slot, 20_000, 15_000)),
        heat_pump=placed(
            cast, beta, sell(cast, beta, "heat pump", slot, 15_000, 20_000, min_power_w=5_000)
        ),
        ev=placed(cast, alpha, sell(cast, alpha, "ev", slot, 25_000, 18_000)),
        cancelled=placed(cast, alpha, sell(cast, alpha, "battery", slot, 20_000, 10_000)),
    )
    assert cast.delete(alpha, f"/orders/{book.cancelled}").status_code == 200
    return book


def clear_period(cast: MarketCast, slot: int, pricing: str | None = None) -> Any:
    body: dict[str, Any] = {"period_start": slot, "period_end": slot + PERIOD_SLOTS * SLOT_SECONDS}
    if pricing is not None:
        body["pricing"] = pricing
    return cast.post(cast.world.operator, "/markets/intraday/clearing", body)


def cleared(cast: MarketCast, pricing: str) -> tuple[Book, dict[str, Any]]:
    book = place_book(cast)
    close_gate(cast.world, book.slot + (PERIOD_SLOTS - 1) * SLOT_SECONDS)  # the last slot's
    response = clear_period(cast, book.slot, pricing)
    assert response.status_code == 201, response.text
    run = cast.get(cast.world.operator, f"/clearing/runs/{response.json()['id']}").json()
    return book, run


def order(cast: MarketCast, reader: Any, order_hash: str) -> dict[str, Any]:
    response = cast.get(reader, f"/orders/{order_hash}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_pay_as_bid_records_trades_on_chain_and_explains_every_order(cast: MarketCast) -> None:
    book, run = cleared(cast, "pay_as_bid")
    assert run["pricing"] == "pay_as_bid"
    assert run["order_count"] == 5 and run["trade_count"] == 2  # the cancelled one is skipped
    trades = {(t["sell_order_hash"], t["power_kw"], t["price_eur_per_mwh"]) for t in run["trades"]}
    # Each accepted offer is paid its own ask, not the feeder buy's 250 EUR/MWh.
    assert trades == {(book.battery, 20.0, 150.0), (book.heat_pump, 10.0, 200.0)}
    assert all(t["status"] == "recorded" and t["chain_trade_id"] for t in run["trades"])
    reasons = {e["order_hash"]: e["reason"] for e in run["explanations"]}
    assert reasons[book.feeder_buy] == "filled" and reasons[book.battery] == "filled"
    assert reasons[book.heat_pump] == "partially_filled"
    assert book.cancelled not in reasons
    assert order(cast, cast.beta, book.heat_pump)["status"] == "partially_filled"
    assert order(cast, cast.beta, book.heat_pump)["filled_kw"] == 10.0
    assert order(cast, cast.alpha, book.cancelled)["status"] == "cancelled"


def test_an_all_or_nothing_order_is_never_partly_filled(cast: MarketCast) -> None:
    book, run = cleared(cast, "pay_as_bid")
    aon = order(cast, cast.dso, book.house_aon_buy)
    assert aon["status"] == "closed" and aon["filled_kw"] == 0
    assert aon["explanation"]["reason"] == "all_or_nothing_not_met"
    assert book.house_aon_buy not in {t["buy_order_hash"] for t in run["trades"]}
    assert order(cast, cast.alpha, book.ev)["status"] == "closed"


def test_pay_as_clear_gives_one_price_per_node_and_slot(cast: MarketCast) -> None:
    book, run = cleared(cast, "pay_as_clear")
    prices = {
        t["price_eur_per_mwh"] for t in run["trades"] if t["buy_order_hash"] == book.feeder_buy
    }
    assert prices == {200.0}  # the marginal accepted offer: the heat pump's ask
    suite = cast.world.platform.oracle.suite
    for trade in run["trades"]:
        _, slot_start, _, power_w, price = suite.read(
            "FlexMarket", "tradeTerms", trade["chain_trade_id"]
        )
        assert (slot_start, power_w, price) == (book.slot, trade["power_kw"] * 1000, 20_000)


def test_the_auditor_re_runs_the_clearing_from_chain_data(cast: MarketCast) -> None:
    _, run = cleared(cast, "pay_as_clear")
    platform = cast.world.platform
    again = reclear_from_chain(platform, run["id"])
    on_chain = recorded_trades(platform, run["id"])
    assert again.trades == on_chain
    assert [(t.buy_id, t.sell_id) for t in on_chain] == [
        (t["buy_order_hash"], t["sell_order_hash"]) for t in run["trades"]
    ]
    assert {e["order_hash"]: e["reason"] for e in run["explanations"]} == {
        order_id: explanation.reason.value for order_id, explanation in again.explanations.items()
    }


def test_participants_read_their_own_trades_and_explanations(cast: MarketCast) -> None:
    book, run = cleared(cast, "pay_as_bid")
    seen = cast.get(cast.alpha, f"/clearing/runs/{run['id']}").json()
    assert {e["order_hash"] for e in seen["explanations"]} == {book.battery, book.ev}
    assert [t["sell_order_hash"] for t in seen["trades"]] == [book.battery]
    assert {t["id"] for t in cast.get(cast.beta, "/trades", run_id=run["id"]).json()} == {
        t["id"] for t in run["trades"] if t["sell_order_hash"] == book.heat_pump
    }
    auditor = cast.get(cast.auditor, f"/clearing/runs/{run['id']}").json()
    assert len(auditor["explanations"]) == run["order_count"]
    assert cast.get(cast.other_dso, f"/trades/{run['trades'][0]['id']}").status_code == 404
    assert cast.get(None, "/clearing/runs").status_code == 401
    assert run["id"] in {r["id"] for r in cast.get(cast.beta, "/clearing/runs").json()}


def test_clearing_waits_for_the_gate_and_refuses_after_delivery_starts(cast: MarketCast) -> None:
    slot = fresh_slot(cast.world)
    placed(cast, cast.alpha, sell(cast, cast.alpha, "battery", slot, 5_000, 15_000))
    before = counts(cast.world)
    response = clear_period(cast, slot)
    assert response.status_code == 409 and error_field(response) == "period_end"
    started = slot - 8 * 3600 - SLOT_SECONDS  # long delivered
    response = clear_period(cast, started - started % SLOT_SECONDS)
    assert response.status_code == 409 and error_field(response) == "period_start"
    assert counts(cast.world) == before


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"period_start": 1_000, "period_end": 1_900}, 422, "period_start"),
        ({"period_start": 900, "period_end": 900}, 422, "period_end"),
        ({"period_start": 900, "period_end": 1800, "pricing": "cheapest"}, 422, "pricing"),
        ({"period_start": 900, "period_end": 1800, "extra": 1}, 422, "extra"),
    ],
)
def test_bad_periods_are_refused_naming_the_field(
    cast: MarketCast, body: dict[str, Any], status: int, field: str
) -> None:
    before = counts(cast.world)
    response = cast.post(cast.world.operator, "/markets/intraday/clearing", body)
    assert response.status_code == status and error_field(response) == field, response.text
    assert counts(cast.world) == before


def test_only_the_market_operator_clears(cast: MarketCast) -> None:
    body = {"period_start": 900, "period_end": 1800}
    for actor in (cast.dso, cast.alpha, cast.auditor):
        response = cast.post(actor, "/markets/intraday/clearing", body)
        assert response.status_code == 403 and error_field(response) == "authorization"
    assert cast.post(cast.world.operator, "/markets/weekly/clearing", body).status_code == 404
    assert cast.post(None, "/markets/intraday/clearing", body).status_code == 401


def test_a_trade_the_chain_refuses_fails_and_gives_its_volume_back(cast: MarketCast) -> None:
    book, _ = cleared(cast, "pay_as_bid")
    platform = cast.world.platform
    with Session(platform.engine) as session:
        recorded = session.exec(
            select(MarketTrade).where(MarketTrade.sell_order_id == book.battery)
        ).one()
        refused = MarketTrade(
            **recorded.model_dump(exclude={"id", "chain_trade_id", "status", "outbox_key"}),
            outbox_key="trade:refused-by-the-chain",
        )
        session.add(refused)
        recorded_id = recorded.id
        session.add(
            OutboxMessage(
                key=refused.outbox_key,
                kind="market.trade",
                sender=platform.operator_address,
                payload="{}",
                payload_hash="0x",
                status=MessageStatus.REJECTED,
                last_error="FlexMarket: MissingRole(seller, 4)",
            )
        )
        session.commit()

    failed = fail_rejected_trades(platform)

    with Session(platform.engine) as session:
        assert session.get(MarketTrade, failed[0]).status == TradeStatus.FAILED
        assert session.get(MarketTrade, recorded_id).status != TradeStatus.FAILED
        battery = session.get(MarketOrder, book.battery)
        assert battery.filled_w == 0 and battery.status == "closed"  # 20 kW given back
    assert fail_rejected_trades(platform) == []  # applied once
