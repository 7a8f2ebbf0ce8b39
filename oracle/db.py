"""Database engine for the oracle's own tables (outbox, indexer).

SQLite is the embedded default; PostgreSQL is used by URL in production. The engine is
built by a factory, never at import time, so tests choose their database.
"""

from pathlib import Path

from sqlalchemy import Table, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool
from sqlalchemy.schema import sort_tables
from sqlmodel import SQLModel, create_engine

from oracle.indexer.models import IndexedEvent, IndexerCursor
from oracle.outbox.models import OutboxMessage, OutboxTransaction

SQLITE_BUSY_TIMEOUT_S = 30.0
SQLITE_POOL_SIZE = 48  # kept open: the API's worker threads (40) and the oracle's own
TABLES = (OutboxMessage, OutboxTransaction, IndexedEvent, IndexerCursor)


def make_engine(url: str) -> Engine:
    """Create an engine and the oracle's tables if they are missing."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # A pool that never makes anyone wait: a bounded one deadlocks the API under load
        # (FastAPI closes a request's session in a worker thread; with every worker waiting
        # for a pooled connection, the sessions holding them are never closed), so beyond
        # the kept connections it opens more (max_overflow=-1). Keeping them matters: a new
        # connection and its PRAGMAs cost more than the queries of an order request.
        # SQLite has one writer at a time: under load a writer may queue for seconds.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
            poolclass=QueuePool,
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=-1,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    # Table by table rather than metadata.create_all: that would also create every enum type
    # in the shared metadata, including the market's, which its own migration then creates.
    for table in sort_tables([_table(model) for model in TABLES]):
        table.create(engine, checkfirst=True)
    return engine


def _table(model: type[SQLModel]) -> Table:
    table: Table = model.__table__  # type: ignore[attr-defined]  # set by SQLModel's metaclass
    return table


def _sqlite_pragmas(connection: object, _record: object) -> None:
    # WAL keeps readers (the API) unblocked while the dispatcher writes; FULL sync makes a
    # persisted outbox row survive a power cut, which is the point of the outbox.
    cursor = connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
