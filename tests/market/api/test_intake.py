"""Order intake under concurrency: group commit over a real socket (market/intake.py).

Many makers' single orders arrive at once; each is answered 201 only after the group that
holds it committed, with its commitment message in the same transaction; a nonce used twice
is a 409 for one of the two requests without failing the others of the group.
"""

import dataclasses
import threading
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from sqlmodel import Session, col, select

from flexledger.server import ServerThread
from market.api import create_app
from market.db.models import MarketOrder
from market.orders import commit_key
from oracle.eip712 import Order
from oracle.outbox.models import OutboxMessage
from tests.market.api.market_cast import (
    FEEDER_A,
    MarketCast,
    buy,
    counts,
    fresh_slot,
    sell,
    shared_cast,
    signed,
)
from tests.market.api.platform_world import Actor


@pytest.fixture(scope="module")
def cast(tmp_path_factory: pytest.TempPathFactory) -> MarketCast:
    return shared_cast(Path(tmp_path_factory.getbasetemp()) / "market")


def post_all(
    cast: MarketCast, url: str, requests: list[tuple[Actor, Order]]
) -> list[httpx.Response]:
    """Every request from its own thread and connection, released at once."""
    bodies = [{"market": "intraday", **signed(cast, actor, order)} for actor, order in requests]
    answers: list[httpx.Response | None] = [None] * len(requests)
    start = threading.Barrier(len(requests))

    def send(index: int) -> None:
        actor = requests[index][0]
        with httpx.Client(base_url=url, timeout=60) as http:
            start.wait()
            answers[index] = http.post("/api/v1/orders", json=bodies[index], headers=actor.headers)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(answer is not None for answer in answers)
    return [answer for answer in answers if answer is not None]


def stored(cast: MarketCast, order_hashes: list[str]) -> tuple[int, int]:
    """How many of the orders, and of their commitment messages, are in the database."""
    with Session(cast.world.platform.engine) as session:
        orders = session.exec(
            select(MarketOrder.id).where(col(MarketOrder.id).in_(order_hashes))
        ).all()
        keys = [commit_key(h) for h in order_hashes]
        messages = session.exec(
            select(OutboxMessage.key).where(col(OutboxMessage.key).in_(keys))
        ).all()
    return len(orders), len(messages)


def test_serve_builds_the_platform_with_a_group_writer(cast: MarketCast) -> None:
    assert cast.world.platform.intake is not None


def test_concurrent_orders_are_stored_with_their_commitments_in_groups(
    cast: MarketCast,
) -> None:
    platform = cast.world.platform
    assert platform.intake is not None
    slot = fresh_slot(cast.world)
    requests: list[tuple[Actor, Order]] = []
    for n in range(16):
        requests.append((cast.alpha, sell(cast, cast.alpha, "battery", slot, 1_000, 10_000 + n)))
        requests.append((cast.beta, sell(cast, cast.beta, "heat pump", slot, 1_000, 10_000 + n)))
        requests.append((cast.dso, buy(cast.dso, FEEDER_A, slot, 1_000, 20_000 + n)))
    groups_before = platform.intake.stats.groups
    with ServerThread(create_app(platform)) as server:
        answers = post_all(cast, server.url, requests)
    assert [a.status_code for a in answers] == [201] * len(requests), answers[0].text
    hashes = [a.json()["order_hash"] for a in answers]
    assert len(set(hashes)) == len(requests)
    assert stored(cast, hashes) == (len(requests), len(requests))
    groups = platform.intake.stats.groups - groups_before
    assert groups < len(requests)  # requests shared transactions


def test_a_reused_nonce_is_409_and_the_others_of_its_group_are_stored(cast: MarketCast) -> None:
    slot = fresh_slot(cast.world)
    orders = [sell(cast, cast.alpha, "battery", slot, 1_000, 11_000 + n) for n in range(12)]
    twin = dataclasses.replace(orders[5], price_cents_per_mwh=19_000)  # same nonce
    before = counts(cast.world)
    with ServerThread(create_app(cast.world.platform)) as server:
        answers = post_all(cast, server.url, [(cast.alpha, o) for o in [*orders, twin]])
    statuses = [a.status_code for a in answers]
    assert sorted(statuses) == [201] * 12 + [409], statuses
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.json()["detail"][0]["loc"] == ["body", "order", "nonce"]
    accepted = [a.json()["order_hash"] for a in answers if a.status_code == 201]
    assert stored(cast, accepted) == (12, 12)
    after = counts(cast.world)
    assert (after[0] - before[0], after[1] - before[1]) == (12, 12)


def test_a_failed_group_answers_every_waiter_and_stores_none(
    cast: MarketCast, monkeypatch: pytest.MonkeyPatch
) -> None:
    from market import intake

    def broken(*_args: Any) -> None:
        raise RuntimeError("database is full")

    slot = fresh_slot(cast.world)
    orders = [sell(cast, cast.alpha, "battery", slot, 1_000, 12_000 + n) for n in range(8)]
    before = counts(cast.world)
    monkeypatch.setattr(intake, "_insert", broken)
    with ServerThread(create_app(cast.world.platform)) as server:
        answers = post_all(cast, server.url, [(cast.alpha, o) for o in orders])
    monkeypatch.undo()
    assert [a.status_code for a in answers] == [503] * len(orders)
    assert answers[0].json()["detail"][0]["type"] == "unavailable"
    assert counts(cast.world) == before
    with ServerThread(create_app(cast.world.platform)) as server:  # the writer lives on
        again = post_all(cast, server.url, [(cast.alpha, o) for o in orders])
    assert [a.status_code for a in again] == [201] * len(orders)
