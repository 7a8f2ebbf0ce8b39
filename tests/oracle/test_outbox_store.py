"""The outbox persists validated messages idempotently and refuses bad ones whole."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from oracle.errors import OracleValueError
from oracle.messages import MessageRegistry, MessageSpec, Payload, PositiveUInt32, UInt64
from oracle.outbox.models import MessageStatus, OutboxMessage
from oracle.outbox.store import OutboxStore
from oracle.types import Address, Role
from tests.databases import BACKENDS, engine_for


class Reading(Payload):
    trade_id: PositiveUInt32
    metered_wh: UInt64

    def call_args(self) -> tuple[Any, ...]:
        return (self.trade_id, self.metered_wh)


SPEC = MessageSpec(
    kind="test.reading",
    payload_model=Reading,
    contract="FlexSettlement",
    function="attest",
    sender_roles=frozenset({Role.ORACLE}),
)
SENDER = Address("0x" + "ab" * 20)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OutboxStore]:
    engine = engine_for(request.param, tmp_path)
    yield OutboxStore(engine, MessageRegistry([SPEC]))
    engine.dispose()


def publish(store: OutboxStore, key: str, **fields: int) -> OutboxMessage:
    payload = SPEC.parse(fields)
    return store.publish(kind=SPEC.kind, payload=payload, sender=SENDER, key=key)


def stored_count(store: OutboxStore) -> int:
    with Session(store.engine) as session:
        return len(session.exec(select(OutboxMessage)).all())


def test_publish_persists_a_pending_message(store: OutboxStore) -> None:
    message = publish(store, "k1", trade_id=1, metered_wh=5)
    assert message.id is not None
    assert message.status == MessageStatus.PENDING
    assert store.get("k1") is not None


def test_duplicate_publish_returns_the_stored_message(store: OutboxStore) -> None:
    first = publish(store, "k1", trade_id=1, metered_wh=5)
    second = publish(store, "k1", trade_id=1, metered_wh=5)
    assert first.id == second.id
    assert stored_count(store) == 1


def test_same_key_with_another_payload_is_refused(store: OutboxStore) -> None:
    publish(store, "k1", trade_id=1, metered_wh=5)
    with pytest.raises(OracleValueError) as raised:
        publish(store, "k1", trade_id=1, metered_wh=6)
    assert raised.value.field == "key"
    assert stored_count(store) == 1


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"trade_id": 0, "metered_wh": 1}, "trade_id"),
        ({"trade_id": 1, "metered_wh": -1}, "metered_wh"),
        ({"trade_id": 1, "metered_wh": 2**64}, "metered_wh"),
        ({"trade_id": 1}, "metered_wh"),
        ({"trade_id": 1, "metered_wh": 1, "extra": 2}, "extra"),
        ({"trade_id": "x", "metered_wh": 1}, "trade_id"),
    ],
)
def test_bad_payload_names_the_field_and_writes_nothing(
    store: OutboxStore, fields: dict[str, Any], bad_field: str
) -> None:
    with pytest.raises(OracleValueError) as raised:
        SPEC.parse(fields)
    assert raised.value.field == bad_field
    assert stored_count(store) == 0


@pytest.mark.parametrize("key", ["", "x" * 201])
def test_bad_key_is_refused(store: OutboxStore, key: str) -> None:
    with pytest.raises(OracleValueError) as raised:
        publish(store, key, trade_id=1, metered_wh=1)
    assert raised.value.field == "key"
    assert stored_count(store) == 0


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(OracleValueError) as raised:
        MessageRegistry([SPEC]).spec("test.nope")
    assert raised.value.field == "kind"


def test_registering_a_kind_twice_is_refused() -> None:
    with pytest.raises(OracleValueError):
        MessageRegistry([SPEC, SPEC])
