"""``baseline.lock`` through the oracle: validated, batched into one lockBaselines
transaction, read back from the chain, indexed and counted by the auditor; an already
locked hash is refused at publish time and, if it slips through, by the dispatcher."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_utils.crypto import keccak
from sqlmodel import Session, select

from oracle.audit import Auditor
from oracle.errors import OracleValueError
from oracle.indexer.models import IndexedEvent
from oracle.outbox.models import MessageStatus
from oracle.types import Address, Role
from oracle.views import CachedChainView
from tests.world import World, events_named, new_world, world_settings

KIND = "baseline.lock"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    # A tiny backoff: a reverted batch is retried within the test, not seconds later.
    world = new_world(world_settings(tmp_path, outbox_backoff_base_s=0.001))
    yield world
    world.close()


def account(world: World, name: str) -> Address:
    return Address(world.accounts[name].address)


def baseline_hex(label: str) -> str:
    return "0x" + keccak(text=f"baseline:{label}").hex()


def publish_lock(world: World, label: str, *, key: str | None = None) -> None:
    world.oracle.publish(
        KIND,
        {"baseline_hash": baseline_hex(label)},
        sender=account(world, "oracle"),
        key=key or f"baseline-{label}",
    )


def locked_at(world: World, label: str) -> int:
    return world.oracle.suite.baseline_locked_at(bytes.fromhex(baseline_hex(label)[2:]))


def test_locks_land_in_one_batched_transaction_and_read_back(world: World) -> None:
    labels = [f"asset-{i}" for i in range(5)]
    for label in labels:
        publish_lock(world, label)
    report = world.oracle.drain()
    assert (report.sent_transactions, report.confirmed_messages) == (1, 5)

    tx = world.oracle.store.transaction_of(f"baseline-{labels[0]}")
    assert tx is not None and tx.message_count == 5
    assert {world.oracle.status_of(f"baseline-{label}").transaction_id for label in labels} == {
        tx.id
    }
    chain_tx = world.connection.w3.eth.get_transaction(tx.tx_hash)  # type: ignore[arg-type]
    registry = world.oracle.suite.contract("BaselineRegistry")
    function, _ = registry.decode_function_input(chain_tx["input"])
    assert function.fn_name == "lockBaselines"

    block_time = world.connection.w3.eth.get_block(tx.block_number)["timestamp"]  # type: ignore[arg-type]
    assert [locked_at(world, label) for label in labels] == [block_time] * 5
    logged = events_named(world, "BaselineRegistry", "BaselineLocked")
    assert [e["baselineHash"] for e in logged] == [keccak(text=f"baseline:{x}") for x in labels]


def test_locks_are_indexed_and_counted_by_the_auditor(world: World) -> None:
    for label in ("a", "b"):
        publish_lock(world, label)
    world.oracle.drain()
    world.oracle.index()
    with Session(world.oracle.engine) as session:
        rows = session.exec(select(IndexedEvent).where(IndexedEvent.event == "BaselineLocked"))
        indexed = sorted(json.loads(row.args)["baselineHash"] for row in rows)
    assert indexed == sorted(baseline_hex(label) for label in ("a", "b"))

    audit = Auditor(world.connection.w3, world.manifest).run()
    assert audit.baselines_locked == 2
    assert audit.clean, audit.mismatches


def test_an_already_locked_hash_is_refused_at_publish(world: World) -> None:
    publish_lock(world, "a")
    world.oracle.drain()
    world.oracle.view.forget()  # the publish-time view may be VIEW_TTL_S stale
    with pytest.raises(OracleValueError) as raised:
        publish_lock(world, "a", key="baseline-a-again")
    assert raised.value.field == "baseline_hash"
    assert "already locked" in raised.value.message
    assert world.oracle.store.get("baseline-a-again") is None


def test_a_duplicate_that_slips_through_is_rejected_alone(world: World) -> None:
    # Both pass the publish-time check (nothing is locked yet); their batch reverts as a
    # whole, the outbox sends the first alone and rejects the second once the first landed.
    publish_lock(world, "a", key="first")
    publish_lock(world, "a", key="second")
    publish_lock(world, "b", key="other")
    world.oracle.drain()
    statuses = {k: world.oracle.status_of(k).status for k in ("first", "second", "other")}
    assert statuses == {
        "first": MessageStatus.CONFIRMED,
        "second": MessageStatus.REJECTED,
        "other": MessageStatus.CONFIRMED,
    }
    assert "baseline_hash" in (world.oracle.status_of("second").last_error or "")
    assert locked_at(world, "a") > 0 and locked_at(world, "b") > 0


def test_only_an_oracle_may_send_locks(world: World) -> None:
    with pytest.raises(OracleValueError) as raised:
        world.oracle.publish(
            KIND,
            {"baseline_hash": baseline_hex("a")},
            sender=account(world, "dso"),
            key="by-dso",
        )
    assert raised.value.field == "sender"


@pytest.mark.parametrize(
    "value", ["0x" + "00" * 32, "0x" + "ab" * 31, "ab" * 32, "0x" + "zz" * 32, 7]
)
def test_a_bad_hash_names_the_field(world: World, value: object) -> None:
    with pytest.raises(OracleValueError) as raised:
        world.oracle.publish(
            KIND, {"baseline_hash": value}, sender=account(world, "oracle"), key="bad"
        )
    assert raised.value.field == "baseline_hash"


def test_the_hash_is_stored_in_lower_case(world: World) -> None:
    upper = "0x" + keccak(text="baseline:a").hex().upper()
    message = world.oracle.publish(
        KIND, {"baseline_hash": upper}, sender=account(world, "oracle"), key="upper"
    )
    assert json.loads(message.payload) == {"baseline_hash": baseline_hex("a")}


class CountingView:
    """A chain view that answers lock times from a dict and counts the questions."""

    chain_id = 1
    market_address = Address("0x" + "00" * 20)

    def __init__(self, locks: dict[bytes, int]) -> None:
        self.locks = locks
        self.asked = 0

    def has_role(self, identity: Address, role: Role) -> bool:
        return False

    def identity_owner(self, identity: Address) -> Address:
        return identity

    def baseline_locked_at(self, baseline_hash: bytes) -> int:
        self.asked += 1
        return self.locks.get(baseline_hash, 0)


def test_cached_view_answers_lock_times_for_its_ttl() -> None:
    now = [0.0]
    chain = CountingView({b"\1" * 32: 1_700_000_000})
    view = CachedChainView(chain, ttl_s=5.0, clock=lambda: now[0])
    assert view.baseline_locked_at(b"\1" * 32) == 1_700_000_000
    assert view.baseline_locked_at(b"\2" * 32) == 0
    chain.locks[b"\2" * 32] = 1_700_000_900
    now[0] = 4.9
    assert view.baseline_locked_at(b"\2" * 32) == 0  # still cached
    assert chain.asked == 2
    now[0] = 5.1
    assert view.baseline_locked_at(b"\2" * 32) == 1_700_000_900
    view.forget()
    assert view.baseline_locked_at(b"\1" * 32) == 1_700_000_000
    assert chain.asked == 4
