"""Persisting messages: the first thing that happens to a payload after validation.

``publish`` is idempotent by message key: publishing the same key and payload twice
returns the stored message; the same key with another payload is refused, because a
key names one intent for ever.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from oracle.errors import OracleValueError
from oracle.messages import MessageRegistry, Payload
from oracle.outbox.models import MessageStatus, OutboxMessage, OutboxTransaction, utc_now
from oracle.types import Address

MAX_KEY_LENGTH = 200


class OutboxStore:
    """The outbox tables behind a small, explicit API."""

    def __init__(self, engine: Engine, registry: MessageRegistry) -> None:
        self.engine = engine
        self.registry = registry

    def publish(self, *, kind: str, payload: Payload, sender: Address, key: str) -> OutboxMessage:
        """Persist a validated payload, or return the message already stored under ``key``."""
        _check_key(key)
        message = OutboxMessage(
            key=key,
            kind=kind,
            sender=sender,
            payload=payload.canonical_json(),
            payload_hash=payload.content_hash(),
        )
        with Session(self.engine) as session:
            existing = _by_key(session, key)
            if existing is not None:
                return _same_or_refuse(existing, message)
            session.add(message)
            try:
                session.commit()
            except IntegrityError:
                # Another process published the same key between our read and write.
                session.rollback()
                return _same_or_refuse(_by_key(session, key), message)
            session.refresh(message)
            return message

    def get(self, key: str) -> OutboxMessage | None:
        with Session(self.engine) as session:
            return _by_key(session, key)

    def ready(self, now: datetime, limit: int) -> list[OutboxMessage]:
        with Session(self.engine) as session:
            query = (
                select(OutboxMessage)
                .where(OutboxMessage.status == MessageStatus.PENDING)
                .where(OutboxMessage.next_attempt_at <= now)
                .order_by(col(OutboxMessage.id))
                .limit(limit)
            )
            return list(session.exec(query).all())

    def count_by_status(self) -> dict[str, int]:
        with Session(self.engine) as session:
            rows = session.exec(select(OutboxMessage.status)).all()
        counts: dict[str, int] = {status.value: 0 for status in MessageStatus}
        for status in rows:
            counts[str(status)] += 1
        return counts

    def messages_of(self, transaction_id: int) -> list[OutboxMessage]:
        with Session(self.engine) as session:
            query = (
                select(OutboxMessage)
                .where(OutboxMessage.transaction_id == transaction_id)
                .order_by(col(OutboxMessage.id))
            )
            return list(session.exec(query).all())

    def transaction_of(self, key: str) -> OutboxTransaction | None:
        with Session(self.engine) as session:
            message = _by_key(session, key)
            if message is None or message.transaction_id is None:
                return None
            return session.get(OutboxTransaction, message.transaction_id)

    def pending_keys(self, keys: Sequence[str]) -> list[str]:
        """Those of ``keys`` that are not confirmed yet (for callers waiting on them)."""
        with Session(self.engine) as session:
            query = select(OutboxMessage.key, OutboxMessage.status).where(
                col(OutboxMessage.key).in_(list(keys))
            )
            done = {k for k, s in session.exec(query).all() if s == MessageStatus.CONFIRMED}
        return [k for k in keys if k not in done]


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise OracleValueError("key", f"a message key must be 1 to {MAX_KEY_LENGTH} characters")


def _by_key(session: Session, key: str) -> OutboxMessage | None:
    return session.exec(select(OutboxMessage).where(OutboxMessage.key == key)).first()


def _same_or_refuse(existing: OutboxMessage | None, new: OutboxMessage) -> OutboxMessage:
    if existing is None:
        raise OracleValueError("key", f"message {new.key!r} vanished while publishing; retry")
    if (existing.kind, existing.sender, existing.payload_hash) != (
        new.kind,
        new.sender,
        new.payload_hash,
    ):
        raise OracleValueError(
            "key", f"message key {new.key!r} was already used for a different payload"
        )
    return existing


def mark_now() -> datetime:
    return utc_now()
