"""Tables of the durable outbox.

A *message* is one validated intent to change chain state (attest trade 7, commit these
orders). A *transaction* is one signed chain transaction carrying one message, or a batch
of messages of the same kind. The raw signed transaction is stored before it is
broadcast, so that a process killed between send and receipt re-broadcasts the very same
bytes (same hash, same nonce) and the chain applies it at most once.
"""

from datetime import UTC, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel


def utc_now() -> datetime:
    return datetime.now(UTC)


class MessageStatus(StrEnum):
    PENDING = "pending"  # persisted and validated, waiting for a transaction
    IN_FLIGHT = "in_flight"  # carried by a signed transaction not yet confirmed
    CONFIRMED = "confirmed"  # its transaction succeeded with enough confirmations
    REJECTED = "rejected"  # the contract refused it for good; see error


class TransactionStatus(StrEnum):
    SIGNED = "signed"  # persisted, maybe not yet broadcast
    SENT = "sent"  # accepted by the node
    CONFIRMED = "confirmed"
    REVERTED = "reverted"
    DROPPED = "dropped"  # never mined and its nonce was used otherwise; messages re-queued


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(index=True, unique=True, max_length=200)
    kind: str = Field(index=True, max_length=64)
    sender: str = Field(index=True, max_length=42)
    payload: str
    payload_hash: str = Field(max_length=66)
    status: MessageStatus = Field(default=MessageStatus.PENDING, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utc_now, index=True)
    last_error: str | None = None
    transaction_id: int | None = Field(default=None, foreign_key="outbox_transaction.id")
    created_at: datetime = Field(default_factory=utc_now)
    confirmed_at: datetime | None = None


class OutboxTransaction(SQLModel, table=True):
    __tablename__ = "outbox_transaction"

    id: int | None = Field(default=None, primary_key=True)
    sender: str = Field(index=True, max_length=42)
    nonce: int
    kind: str = Field(max_length=64)
    message_count: int
    tx_hash: str = Field(unique=True, max_length=66)
    raw_tx: str
    status: TransactionStatus = Field(default=TransactionStatus.SIGNED, index=True)
    block_number: int | None = None
    gas_used: int | None = None
    error: str | None = None
    created_at: datetime = Field(default_factory=utc_now)
    sent_at: datetime | None = None
    confirmed_at: datetime | None = None
