"""Group commit of intake: many requests' rows written in one transaction by one writer.

Why: a database has one writer at a time (SQLite always, PostgreSQL per hot index page),
and every commit costs a flush to disk (``synchronous=FULL``). With a commit per request,
64 clients queue for the write lock and for 64 flushes; with one writer that inserts every
queued request's rows in ONE transaction, the flush is paid once per group and nobody
queues for the lock.

How: a request validates its input in its own thread, then hands its rows to
:meth:`GroupCommitter.write`, which blocks until the group holding them has committed.
The writer thread takes everything that is queued (up to ``max_group`` entries, after an
optional ``linger_s`` to let a group fill), drops entries whose unique keys clash with an
earlier entry of the same group (they get their own ``conflict`` error; the group goes on),
inserts the rest table by table in one transaction and commits. So:

* **nothing is lost**: a request is answered (201) only after its rows are committed;
* **nothing is half-written**: a request's rows are in the group's one transaction;
* **a duplicate fails alone**: a unique key already in the database (a row committed by
  someone else meanwhile) makes the group's transaction fail; the writer then writes the
  group's entries one transaction each, so only the clashing entry gets its ``conflict``;
* **a broken group answers everyone**: any other error rolls the group back and every
  waiter gets :class:`IntakeUnavailableError` (503): none of its rows were written.
"""

import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from market.errors import MarketError

log = logging.getLogger("flexledger.intake")

DEFAULT_MAX_GROUP = 512  # entries per transaction; bounds a group's time and memory
DEFAULT_LINGER_S = 0.0  # the writer's own commit time already lets the next group fill
WRITE_TIMEOUT_S = 30.0


Target = Table | type[SQLModel]  # a table, or the SQLModel class of one


class IntakeUnavailableError(MarketError):
    """The intake writer could not commit (database down or full, writer stopped)."""


@dataclass(frozen=True, slots=True)
class IntakeEntry:
    """One request's rows, per table, to be stored all together or not at all.

    ``unique_keys`` are the keys the database holds unique for these rows (e.g. the order
    id, the maker and nonce): two entries of one group with a common key would make the
    whole transaction fail, so the later one is refused before it reaches the database.
    ``conflict`` builds the error a refused entry is answered with. The rows of one table
    must all have the same keys (they go to the database in one executemany).
    """

    rows: Sequence[tuple[Target, Sequence[dict[str, Any]]]]
    unique_keys: frozenset[Hashable]
    conflict: Callable[[], Exception]


@dataclass(slots=True)
class _Waiter:
    entry: IntakeEntry
    future: Future[None] = field(default_factory=Future)


@dataclass(slots=True)
class IntakeStats:
    """Counters for tests and benchmarks: groups committed, entries per group."""

    groups: int = 0
    entries: int = 0
    largest_group: int = 0
    fallbacks: int = 0
    failed_groups: int = 0


_STOP = object()


class GroupCommitter:
    """The single writer of intake rows; start with :meth:`start`, stop with :meth:`close`."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_group: int = DEFAULT_MAX_GROUP,
        linger_s: float = DEFAULT_LINGER_S,
    ) -> None:
        if max_group < 1:
            raise ValueError(f"max_group must be at least 1, got {max_group}")
        self._engine = engine
        self._max_group = max_group
        self._linger_s = linger_s
        self._queue: queue.SimpleQueue[_Waiter | object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="flexledger-intake", daemon=True)
        self._closed = threading.Event()
        self.stats = IntakeStats()

    def start(self) -> "GroupCommitter":
        self._thread.start()
        return self

    def submit(self, entry: IntakeEntry) -> Future[None]:
        """Queue ``entry``; the future completes once its group committed (or failed)."""
        waiter = _Waiter(entry)
        if self._closed.is_set() or not self._thread.is_alive():
            waiter.future.set_exception(IntakeUnavailableError("the intake writer is stopped"))
            return waiter.future
        self._queue.put(waiter)
        return waiter.future

    def write(self, entry: IntakeEntry, timeout_s: float = WRITE_TIMEOUT_S) -> None:
        """Blocks until ``entry`` is committed; raises its conflict or IntakeUnavailableError."""
        future = self.submit(entry)
        try:
            future.result(timeout=timeout_s)
        except TimeoutError:
            # Still queued or being written: the client must not be told "not stored" (it
            # may be) nor "stored"; 503 says retry, and the unique keys make a retry a 409.
            raise IntakeUnavailableError(
                f"the intake writer did not answer within {timeout_s:.0f} s; the order may "
                "be stored: read it back before placing it again"
            ) from None

    def close(self, timeout_s: float = 30.0) -> None:
        """Writes what is queued, then stops the writer; later submissions fail at once."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=timeout_s)
        self._fail_queued()

    # -- the writer thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            group, stop = self._next_group()
            if group:
                self._commit_group(group)
            if stop:
                return

    def _next_group(self) -> tuple[list[_Waiter], bool]:
        """Blocks for the first entry, then takes what is queued (up to ``max_group``)."""
        first = self._queue.get()
        if first is _STOP:
            return [], True
        group = [first]
        deadline = time.monotonic() + self._linger_s
        while len(group) < self._max_group:
            try:
                remaining = deadline - time.monotonic()
                item = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if item is _STOP:
                return _waiters(group), True
            group.append(item)
        return _waiters(group), False

    def _commit_group(self, group: list[_Waiter]) -> None:
        admitted = _refuse_duplicates_within(group)
        if not admitted:
            return
        try:
            with self._engine.begin() as connection:
                _insert(connection, [waiter.entry for waiter in admitted])
        except IntegrityError:
            self.stats.fallbacks += 1
            self._commit_one_by_one(admitted)
            return
        except Exception as error:  # every waiter must hear of it; nothing was written
            self._fail_group(admitted, error)
            return
        self._count(len(admitted))
        for waiter in admitted:
            waiter.future.set_result(None)

    def _commit_one_by_one(self, group: list[_Waiter]) -> None:
        """A unique key already in the database: each entry alone, so only it fails."""
        for waiter in group:
            try:
                with self._engine.begin() as connection:
                    _insert(connection, [waiter.entry])
            except IntegrityError:
                waiter.future.set_exception(waiter.entry.conflict())
                continue
            except Exception as error:
                self._fail_group([waiter], error)
                continue
            self._count(1)
            waiter.future.set_result(None)

    def _count(self, entries: int) -> None:
        self.stats.groups += 1
        self.stats.entries += entries
        self.stats.largest_group = max(self.stats.largest_group, entries)

    def _fail_group(self, group: list[_Waiter], error: Exception) -> None:
        log.error("intake group of %d entries failed: %r", len(group), error)
        self.stats.failed_groups += 1
        for waiter in group:
            waiter.future.set_exception(
                IntakeUnavailableError(
                    "the database refused the write; nothing of this request was stored, retry it"
                )
            )

    def _fail_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Waiter):
                item.future.set_exception(IntakeUnavailableError("the intake writer stopped"))


def _waiters(items: list[_Waiter | object]) -> list[_Waiter]:
    return [item for item in items if isinstance(item, _Waiter)]


def _refuse_duplicates_within(group: list[_Waiter]) -> list[_Waiter]:
    """Entries whose keys clash with an earlier entry of the group get their conflict."""
    seen: set[Hashable] = set()
    admitted = []
    for waiter in group:
        if waiter.entry.unique_keys & seen:
            waiter.future.set_exception(waiter.entry.conflict())
            continue
        seen |= waiter.entry.unique_keys
        admitted.append(waiter)
    return admitted


def _insert(connection: Connection, entries: Sequence[IntakeEntry]) -> None:
    """Every entry's rows, one executemany per table, tables in the order first named."""
    by_table: dict[Target, list[dict[str, Any]]] = {}
    for entry in entries:
        for table, rows in entry.rows:
            by_table.setdefault(table, []).extend(rows)
    for table, rows in by_table.items():
        if rows:
            connection.execute(insert(table), rows)
