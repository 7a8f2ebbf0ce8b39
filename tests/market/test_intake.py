"""Group commit: many requests' rows in one transaction, each answered after its commit."""

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    event,
    func,
    select,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from market.errors import ConflictError
from market.intake import GroupCommitter, IntakeEntry, IntakeUnavailableError

metadata = MetaData()
ORDERS = Table(
    "t_order",
    metadata,
    Column("id", String, primary_key=True),
    Column("maker", String, nullable=False),
    Column("nonce", Integer, nullable=False),
    UniqueConstraint("maker", "nonce"),
)
MESSAGES = Table(
    "t_message",
    metadata,
    Column("key", String, primary_key=True),
    Column("payload", String, nullable=False),
)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(
        f"sqlite:///{tmp_path / 'intake.db'}", connect_args={"check_same_thread": False}
    )
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def entry(maker: str, nonce: int) -> IntakeEntry:
    order_id = f"{maker}-{nonce}"
    return IntakeEntry(
        rows=[
            (ORDERS, [{"id": order_id, "maker": maker, "nonce": nonce}]),
            (MESSAGES, [{"key": f"order:{order_id}", "payload": "{}"}]),
        ],
        unique_keys=frozenset({("order", order_id), ("nonce", maker, nonce)}),
        conflict=lambda: ConflictError("order.nonce", f"nonce {nonce} is already used"),
    )


def count(engine: Engine, table: Table) -> int:
    with engine.connect() as connection:
        return len(connection.execute(select(table)).all())


def write_all(committer: GroupCommitter, entries: list[IntakeEntry]) -> list[Exception | None]:
    """Every entry from its own thread, all at once; each thread's outcome."""
    outcomes: list[Exception | None] = [None] * len(entries)
    start = threading.Barrier(len(entries))

    def one(index: int) -> None:
        start.wait()
        try:
            committer.write(entries[index], timeout_s=30)
        except Exception as error:
            outcomes[index] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(entries))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_concurrent_requests_commit_in_groups_with_their_outbox_rows(engine: Engine) -> None:
    committer = GroupCommitter(engine, linger_s=0.01).start()
    try:
        outcomes = write_all(committer, [entry(f"m{i % 8}", i) for i in range(64)])
    finally:
        committer.close()
    assert outcomes == [None] * 64
    assert count(engine, ORDERS) == 64
    assert count(engine, MESSAGES) == 64
    assert committer.stats.entries == 64
    assert committer.stats.groups < 64  # grouped: fewer transactions than requests
    assert committer.stats.largest_group > 1


def test_a_duplicate_within_a_group_is_409_and_the_others_commit(engine: Engine) -> None:
    committer = GroupCommitter(engine, linger_s=0.2).start()  # one group for all of them
    try:
        entries = [entry("m", n) for n in range(10)] + [entry("m", 3)]
        outcomes = write_all(committer, entries)
    finally:
        committer.close()
    refused = [o for o in outcomes if o is not None]
    assert len(refused) == 1
    assert isinstance(refused[0], ConflictError)
    assert refused[0].field == "order.nonce"
    assert count(engine, ORDERS) == 10
    assert count(engine, MESSAGES) == 10


def test_a_key_already_in_the_database_fails_only_its_entry(engine: Engine) -> None:
    committer = GroupCommitter(engine).start()
    try:
        committer.write(entry("m", 1))
        stale = IntakeEntry(  # same maker and nonce, another id: passes the in-group check
            rows=[(ORDERS, [{"id": "other", "maker": "m", "nonce": 1}])],
            unique_keys=frozenset({("order", "other")}),
            conflict=lambda: ConflictError("order.nonce", "nonce 1 is already used"),
        )
        outcomes = write_all(committer, [stale] + [entry("m", n) for n in range(2, 12)])
    finally:
        committer.close()
    assert isinstance(outcomes[0], ConflictError)
    assert outcomes[1:] == [None] * 10
    assert count(engine, ORDERS) == 11
    assert count(engine, MESSAGES) == 11


def test_a_failing_group_answers_every_waiter_and_writes_nothing(engine: Engine) -> None:
    def fail_on_messages(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "t_message" in statement:
            raise RuntimeError("disk full")

    event.listen(engine, "before_cursor_execute", fail_on_messages)
    committer = GroupCommitter(engine, linger_s=0.1).start()
    try:
        outcomes = write_all(committer, [entry("m", n) for n in range(16)])
    finally:
        committer.close()
        event.remove(engine, "before_cursor_execute", fail_on_messages)
    assert all(isinstance(o, IntakeUnavailableError) for o in outcomes)
    assert count(engine, ORDERS) == 0  # the orders of the group were rolled back with it
    assert count(engine, MESSAGES) == 0
    assert committer.stats.failed_groups >= 1


def test_a_stopped_writer_refuses_at_once(engine: Engine) -> None:
    committer = GroupCommitter(engine).start()
    committer.close()
    with pytest.raises(IntakeUnavailableError):
        committer.write(entry("m", 1))
    assert count(engine, ORDERS) == 0


OFFERS = Table(
    "t_offer",
    metadata,
    Column("id", String, primary_key=True),
    Column("asset", String, nullable=False),
    Column("power_w", Integer, nullable=False),
)
CAPACITY_W = 10_000


def offer(committer: GroupCommitter, offer_id: str, asset: str, power_w: int) -> IntakeEntry:
    """An offer whose check keeps its asset's offered power within CAPACITY_W."""

    def check(session: Session) -> None:
        query = select(func.sum(OFFERS.c.power_w)).where(OFFERS.c.asset == asset)
        held = session.execute(query).scalar_one()
        if held > CAPACITY_W:
            raise ConflictError("order.power_w", f"{held} W would exceed {CAPACITY_W} W")

    return IntakeEntry(
        rows=[(OFFERS, [{"id": offer_id, "asset": asset, "power_w": power_w}])],
        unique_keys=frozenset({("offer", offer_id)}),
        conflict=lambda: ConflictError("order.nonce", "used"),
        check=check,
        check_keys=frozenset({("asset", asset)}),
        seen_at=committer.sequence,  # read before the request's own checks
    )


def test_a_check_sees_earlier_entries_of_its_group_and_refuses_only_its_entry(
    engine: Engine,
) -> None:
    committer = GroupCommitter(engine, linger_s=0.2).start()
    try:
        entries = [offer(committer, f"o{n}", "battery", 4_000) for n in range(3)]
        entries += [offer(committer, f"p{n}", f"pv{n}", 4_000) for n in range(4)]
        outcomes = write_all(committer, entries)
    finally:
        committer.close()
    refused = [o for o in outcomes[:3] if o is not None]
    assert len(refused) == 1 and isinstance(refused[0], ConflictError)
    assert refused[0].field == "order.power_w"
    assert outcomes[3:] == [None] * 4
    with engine.connect() as connection:
        held = connection.execute(
            select(func.sum(OFFERS.c.power_w)).where(OFFERS.c.asset == "battery")
        ).scalar_one()
    assert held == 8_000
    assert count(engine, OFFERS) == 6
    assert committer.stats.refused_by_check == 1


def test_a_check_runs_only_when_its_keys_were_written_since_the_request_read(
    engine: Engine,
) -> None:
    committer = GroupCommitter(engine).start()
    try:
        committer.write(offer(committer, "a", "battery", 4_000))
        committer.write(offer(committer, "b", "pv", 4_000))  # read after "a" committed
        assert committer.stats.checks == 0
        stale = offer(committer, "c", "battery", 4_000)
        committer.write(offer(committer, "d", "battery", 4_000))  # written after c read
        with pytest.raises(ConflictError, match="would exceed"):
            committer.write(stale)  # so c is checked (8,000 + 4,000 > 10,000) and refused
    finally:
        committer.close()
    assert committer.stats.checks == 1
    assert committer.stats.refused_by_check == 1
    assert count(engine, OFFERS) == 3
