"""BaselineRegistry: oracles lock baseline hashes once, at the block's time, singly or in
all-or-nothing batches; anyone reads when a hash was locked and whether before a deadline."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils.crypto import keccak

from oracle.types import Role
from tests.contracts.world import World, events, reverts, send

MAX_BATCH = 256
ZERO = b"\0" * 32


def baseline(label: str) -> bytes:
    """A stand-in for the hash of a nominated profile."""
    return keccak(text=f"baseline:{label}")


def lock(world: World, baseline_hash: bytes) -> dict[str, Any]:
    return send(world.baselines.functions.lockBaseline(baseline_hash), world.oracle)


def test_constants_and_wiring(world: World) -> None:
    assert world.baselines.functions.MAX_BATCH().call() == MAX_BATCH
    assert world.baselines.functions.roleRegistry().call() == world.roles.address


def test_lock_records_the_block_time_and_emits(world: World) -> None:
    at = world.at(world.now() + 100)
    receipt = lock(world, baseline("a"))
    assert events(world.baselines, receipt, "BaselineLocked") == [
        {"baselineHash": baseline("a"), "oracle": world.oracle.address, "lockedAt": at}
    ]
    assert world.baselines.functions.lockedAt(baseline("a")).call() == at


def test_unlocked_hash_reads_zero(world: World) -> None:
    assert world.baselines.functions.lockedAt(baseline("never")).call() == 0


def test_is_locked_before_is_strict(world: World) -> None:
    at = world.at(world.now() + 100)
    lock(world, baseline("a"))
    before = world.baselines.functions.isLockedBefore
    assert before(baseline("a"), at + 1).call() is True
    assert before(baseline("a"), at).call() is False  # locked at the deadline is too late
    assert before(baseline("a"), at - 1).call() is False
    assert before(baseline("never"), 2**64 - 1).call() is False


@pytest.mark.parametrize("who", ["operator", "fsp", "dso", "outsider"])
def test_only_an_oracle_locks(world: World, who: str) -> None:
    caller = world.people[who]
    with reverts(world.baselines, "MissingRole", caller.address, Role.ORACLE):
        send(world.baselines.functions.lockBaseline(baseline("a")), caller)
    with reverts(world.baselines, "MissingRole", caller.address, Role.ORACLE):
        send(world.baselines.functions.lockBaselines([baseline("a")]), caller)


def test_a_revoked_oracle_cannot_lock(world: World) -> None:
    send(world.roles.functions.revokeRole(world.oracle.address, Role.ORACLE), world.operator)
    with reverts(world.baselines, "MissingRole", world.oracle.address, Role.ORACLE):
        lock(world, baseline("a"))


def test_zero_hash_is_refused(world: World) -> None:
    with reverts(world.baselines, "ZeroBaselineHash", 0):
        lock(world, ZERO)


def test_a_lock_is_never_moved(world: World) -> None:
    at = world.at(world.now() + 100)
    lock(world, baseline("a"))
    world.travel_to(at + 3600)
    with reverts(world.baselines, "BaselineAlreadyLocked", baseline("a"), at):
        lock(world, baseline("a"))
    with reverts(world.baselines, "BaselineAlreadyLocked", baseline("a"), at):
        send(world.baselines.functions.lockBaselines([baseline("b"), baseline("a")]), world.oracle)
    assert world.baselines.functions.lockedAt(baseline("a")).call() == at


def test_batch_locks_every_hash_at_one_time(world: World) -> None:
    hashes = [baseline(str(i)) for i in range(5)]
    at = world.at(world.now() + 100)
    receipt = send(world.baselines.functions.lockBaselines(hashes), world.oracle)
    assert events(world.baselines, receipt, "BaselineLocked") == [
        {"baselineHash": h, "oracle": world.oracle.address, "lockedAt": at} for h in hashes
    ]
    assert [world.baselines.functions.lockedAt(h).call() for h in hashes] == [at] * 5


def test_largest_batch_is_accepted(world: World) -> None:
    hashes = [baseline(str(i)) for i in range(MAX_BATCH)]
    receipt = send(world.baselines.functions.lockBaselines(hashes), world.oracle)
    assert len(events(world.baselines, receipt, "BaselineLocked")) == MAX_BATCH


@pytest.mark.parametrize("count", [0, MAX_BATCH + 1])
def test_batch_size_is_bounded(world: World, count: int) -> None:
    hashes = [baseline(str(i)) for i in range(count)]
    with reverts(world.baselines, "BatchSizeOutOfRange", count, MAX_BATCH):
        send(world.baselines.functions.lockBaselines(hashes), world.oracle)


def test_a_bad_hash_reverts_the_whole_batch(world: World) -> None:
    fn = world.baselines.functions
    with reverts(world.baselines, "ZeroBaselineHash", 2):
        send(fn.lockBaselines([baseline("a"), baseline("b"), ZERO]), world.oracle)
    at = world.at(world.now() + 100)
    with reverts(world.baselines, "BaselineAlreadyLocked", baseline("a"), at):
        send(fn.lockBaselines([baseline("a"), baseline("b"), baseline("a")]), world.oracle)
    assert fn.lockedAt(baseline("a")).call() == 0
    assert fn.lockedAt(baseline("b")).call() == 0
