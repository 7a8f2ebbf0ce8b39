"""A py-evm key-value database kept in one SQLite file.

py-evm stores everything (trie nodes, headers, bodies, receipts, the canonical-head
pointer) as bytes -> bytes. This module gives it a SQLite table to do that in, so the
embedded chain survives a restart of the ``flexledger`` process.

Transactions follow block boundaries, not py-evm's write batches: the first write opens a
SQLite transaction and it stays open until the owner calls :meth:`SqliteDB.commit` (the
embedded chain does so once per mined block). A crash therefore loses at most the block
being built, and never leaves half a block behind: SQLite's WAL makes each commit atomic,
and (unless ``fsync_each_commit=False``) durable through a power cut too.
py-evm's own ``atomic_batch()`` becomes a SAVEPOINT inside that transaction, so an error
inside a batch still drops exactly the batch's writes.

Limits: one process at a time (the owner takes a lock file, see ``embedded.py``); a write
batch is not isolated from the database it came from (both see the batch's writes at once,
unlike py-evm's in-memory ``AtomicDB``; py-evm does not rely on that isolation).
"""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path

from eth.abc import AtomicWriteBatchAPI
from eth.db.backends.base import BaseAtomicDB, BaseDB

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


def _connect(path: Path, fsync_each_commit: bool) -> sqlite3.Connection:
    """Open ``path`` in WAL mode: every commit survives a crash of the process; with
    ``fsync_each_commit`` it also survives a power cut (SQLite ``synchronous=FULL``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if fsync_each_commit else 'NORMAL'}")
    for statement in _SCHEMA:
        conn.execute(statement)
    return conn


class SqliteDB(BaseAtomicDB):
    """py-evm ``AtomicDatabaseAPI`` on SQLite; writes stay pending until :meth:`commit`."""

    def __init__(self, path: Path, *, fsync_each_commit: bool = True) -> None:
        self.path = path
        self._conn = _connect(path, fsync_each_commit)
        self._savepoints = count()

    def __getitem__(self, key: bytes) -> bytes:
        row = self._conn.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        value: bytes = row[0]
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._begin()
        self._conn.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value))

    def __delitem__(self, key: bytes) -> None:
        self._begin()
        if self._conn.execute("DELETE FROM kv WHERE key = ?", (key,)).rowcount == 0:
            raise KeyError(key)

    def _exists(self, key: bytes) -> bool:
        query = "SELECT 1 FROM kv WHERE key = ?"
        return self._conn.execute(query, (key,)).fetchone() is not None

    @contextmanager
    def atomic_batch(self) -> Iterator[AtomicWriteBatchAPI]:
        """A SAVEPOINT: the batch's writes vanish if the block raises, else join the block."""
        self._begin()
        name = f"batch_{next(self._savepoints)}"
        self._conn.execute(f"SAVEPOINT {name}")
        batch = _SqliteWriteBatch(self)
        try:
            yield batch
        except BaseException:
            self._conn.execute(f"ROLLBACK TO {name}")
            raise
        finally:
            self._conn.execute(f"RELEASE {name}")
            batch.close()

    @property
    def has_pending_writes(self) -> bool:
        """True while writes wait for :meth:`commit`."""
        return self._conn.in_transaction

    def commit(self) -> None:
        """Make every pending write durable in one atomic step."""
        if self._conn.in_transaction:
            self._conn.execute("COMMIT")

    def rollback(self) -> None:
        """Forget every write since the last :meth:`commit`."""
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def get_meta(self, name: str) -> str | None:
        """Read a small text value that describes the stored chain (chain id, format)."""
        row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, name: str, value: str) -> None:
        """Write a descriptive value; it commits with the next :meth:`commit`."""
        self._begin()
        query = "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)"
        self._conn.execute(query, (name, value))

    def size_bytes(self) -> int:
        """Bytes on disk: the main file plus the write-ahead log."""
        wal = self.path.with_name(self.path.name + "-wal")
        return sum(p.stat().st_size for p in (self.path, wal) if p.exists())

    def close(self, *, commit: bool = True) -> None:
        """Commit (or drop) pending writes, checkpoint the WAL, release the file."""
        if commit:
            self.commit()
        else:
            self.rollback()
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._conn.close()

    def _begin(self) -> None:
        if not self._conn.in_transaction:
            self._conn.execute("BEGIN IMMEDIATE")


class _SqliteWriteBatch(BaseDB, AtomicWriteBatchAPI):
    """The view py-evm writes a batch through; unusable once its batch has ended."""

    def __init__(self, db: SqliteDB) -> None:
        self._db: SqliteDB | None = db

    def _target(self) -> SqliteDB:
        if self._db is None:
            raise ValueError("write batch used after its atomic_batch() context ended")
        return self._db

    def __getitem__(self, key: bytes) -> bytes:
        return self._target()[key]

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._target()[key] = value

    def __delitem__(self, key: bytes) -> None:
        del self._target()[key]

    def _exists(self, key: bytes) -> bool:
        return key in self._target()

    def close(self) -> None:
        self._db = None
