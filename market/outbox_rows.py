"""Outbox messages written in the caller's own database transaction.

The platform's tables and the oracle's outbox live in one database (the platform is built on
the oracle's engine). So an order and the message that commits it on chain, or a clearing
run and the messages that record its trades, are inserted in one transaction: both are
stored or neither is, with no compensating delete for a crash to interrupt.

:func:`checked` validates a payload exactly as :meth:`OracleService.publish` does (schema,
sender role, chain checks from the oracle's cached view; the dispatcher checks again before
sending); :func:`message_row` turns a payload into a row that :func:`insert_rows` adds to the
caller's session. The rows are the ones :class:`~oracle.outbox.store.OutboxStore` writes.
"""

from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from market.errors import MarketError
from market.platform import Platform
from oracle.errors import ChainUnavailableError
from oracle.messages import Payload
from oracle.outbox.models import MessageStatus, OutboxMessage, utc_now
from oracle.types import Address


class SharedDatabaseError(MarketError):
    """The platform's tables and the outbox are in different databases."""


def require_shared_database(platform: Platform) -> None:
    if platform.engine.url != platform.oracle.engine.url:
        raise SharedDatabaseError(
            "the platform's tables and the oracle's outbox must share one database "
            f"(platform: {platform.engine.url!r}, outbox: {platform.oracle.engine.url!r}); "
            "build the Platform on its OracleService's engine"
        )


def check_sender(platform: Platform, kind: str, sender: Address) -> None:
    """The sender must hold a role the kind allows (answered from the cached view)."""
    spec = platform.oracle.registry.spec(kind)
    with suppress(ChainUnavailableError):  # reads only: no chain lock (Platform.chain_lock)
        spec.check_sender(platform.oracle.view, sender)


def checked(platform: Platform, kind: str, payload: dict[str, Any], sender: Address) -> Payload:
    """Every check :meth:`OracleService.publish` makes; raises OracleValueError naming the
    field. A chain that does not answer defers the chain checks to the dispatcher."""
    return platform.oracle.validate(kind, payload, sender)


def message_row(kind: str, payload: Payload, *, sender: Address, key: str) -> dict[str, Any]:
    """An ``outbox_message`` row, as :meth:`OutboxStore.publish` would write it."""
    now = utc_now()
    return {
        "key": key,
        "kind": kind,
        "sender": sender,
        "payload": payload.canonical_json(),
        "payload_hash": payload.content_hash(),
        "status": MessageStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def insert_rows(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Adds the messages to the session's transaction (one executemany); the caller commits."""
    if rows:
        session.exec(insert(OutboxMessage), params=list(rows))
