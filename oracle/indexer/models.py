"""Tables of the event indexer."""

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from oracle.outbox.models import utc_now


class IndexedEvent(SQLModel, table=True):
    """One decoded contract event; ``args`` is its arguments as JSON."""

    __tablename__ = "indexed_event"
    __table_args__ = (UniqueConstraint("chain_id", "tx_hash", "log_index"),)

    id: int | None = Field(default=None, primary_key=True)
    chain_id: int = Field(index=True)
    contract: str = Field(index=True, max_length=64)
    event: str = Field(index=True, max_length=64)
    block_number: int = Field(index=True)
    block_hash: str = Field(max_length=66)
    tx_hash: str = Field(max_length=66)
    log_index: int
    args: str
    indexed_at: datetime = Field(default_factory=utc_now)


class IndexerCursor(SQLModel, table=True):
    """The last block fully indexed, per chain and contract address."""

    __tablename__ = "indexer_cursor"

    chain_id: int = Field(primary_key=True)
    address: str = Field(primary_key=True, max_length=42)
    last_block: int
