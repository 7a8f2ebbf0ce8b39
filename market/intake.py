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
from sqlmodel import Session, SQLModel

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

    ``check`` re-validates what depends on other requests' rows (e.g. the power already
    offered on an asset) inside the group's transaction, after this entry's rows are
    inserted, so it sees every row committed before and every earlier entry of the group;
    it raises a :class:`MarketError` to refuse only this entry. It runs only when needed:
    when an entry written since ``seen_at`` (:attr:`GroupCommitter.sequence` read before
    the request's own checks) or earlier in the group shares one of its ``check_keys``.
    """

    rows: Sequence[tuple[Target, Sequence[dict[str, Any]]]]
    unique_keys: frozenset[Hashable]
    conflict: Callable[[], Exception]
    check: Callable[[Session], None] | None = None
    check_keys: frozenset[Hashable] = frozenset()
    seen_at: int = 0


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
    checks: int = 0
    refused_by_check: int = 0


_STOP = object()
MAX_TRACKED_KEYS = 100_000  # check keys remembered; beyond, older entries are all checked


class _Refused(Exception):
    """An entry's check refused it; the group is written again without it."""

    def __init__(self, waiter: "_Waiter", error: MarketError) -> None:
        super().__init__(str(error))
        self.waiter = waiter
        self.error = error


class GroupCommitter:
    """The single writer of intake rows; start with :meth:`start`, stop with :meth:`close`."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_group: int = DEFAULT_MAX_GROUP,
        linger_s: float = DEFAULT_LINGER_S,
        always_check: bool = False,
    ) -> None:
        """``always_check``: run every entry's check, for when other processes write the
        same tables (several API workers): this writer cannot see their groups."""
        if max_group < 1:
            raise ValueError(f"max_group must be at least 1, got {max_group}")
        self._engine = engine
        self._max_group = max_group
        self._linger_s = linger_s
        self._always_check = always_check
        self._sequence = 0  # groups committed so far
        self._written: dict[Hashable, int] = {}  # check key -> sequence of its last group
        self._forgotten_through = 0  # keys of groups up to this one may be forgotten
        self._queue: queue.SimpleQueue[_Waiter | object] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="flexledger-intake", daemon=True)
        self._closed = threading.Event()
        self.stats = IntakeStats()

    @property
    def sequence(self) -> int:
        """Groups committed so far: read it before a request's checks, pass it as
        ``IntakeEntry.seen_at``."""
        return self._sequence

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
        while admitted:
            try:
                with self._engine.begin() as connection:
                    self._write(connection, admitted)
            except _Refused as refused:  # rolled back: again without the refused entry
                self.stats.refused_by_check += 1
                refused.waiter.future.set_exception(refused.error)
                admitted = [waiter for waiter in admitted if waiter is not refused.waiter]
                continue
            except IntegrityError:
                self.stats.fallbacks += 1
                self._commit_one_by_one(admitted)
                return
            except Exception as error:  # every waiter must hear of it; nothing was written
                self._fail_group(admitted, error)
                return
            self._committed(admitted)
            return

    def _write(self, connection: Connection, group: list[_Waiter]) -> None:
        """All rows in one executemany per table, unless some entry must be checked: then
        entry by entry, each checked after its own insert (raises _Refused)."""
        checked = self._entries_to_check(group)
        if not checked:
            _insert(connection, [waiter.entry for waiter in group])
            return
        session = Session(bind=connection)  # joins the group's transaction
        for waiter in group:
            _insert(connection, [waiter.entry])
            if waiter in checked:
                self._check(session, waiter)
        session.close()

    def _entries_to_check(self, group: list[_Waiter]) -> list[_Waiter]:
        checked = []
        in_group: set[Hashable] = set()
        for waiter in group:
            entry = waiter.entry
            if entry.check is not None and (
                self._always_check
                or entry.seen_at < self._forgotten_through
                or entry.check_keys & in_group
                or any(self._written.get(key, -1) >= entry.seen_at for key in entry.check_keys)
            ):
                checked.append(waiter)
            in_group |= entry.check_keys
        return checked

    def _check(self, session: Session, waiter: _Waiter) -> None:
        check = waiter.entry.check
        assert check is not None
        self.stats.checks += 1
        try:
            check(session)
        except MarketError as error:
            raise _Refused(waiter, error) from None

    def _commit_one_by_one(self, group: list[_Waiter]) -> None:
        """A unique key already in the database: each entry alone, so only it fails."""
        for waiter in group:
            try:
                with self._engine.begin() as connection:
                    self._write(connection, [waiter])
            except _Refused as refused:
                self.stats.refused_by_check += 1
                waiter.future.set_exception(refused.error)
                continue
            except IntegrityError:
                waiter.future.set_exception(waiter.entry.conflict())
                continue
            except Exception as error:
                self._fail_group([waiter], error)
                continue
            self._committed([waiter])

    def _committed(self, group: list[_Waiter]) -> None:
        """Counts the group, remembers its check keys, then answers its waiters."""
        self._remember([key for waiter in group for key in waiter.entry.check_keys])
        self.stats.groups += 1
        self.stats.entries += len(group)
        self.stats.largest_group = max(self.stats.largest_group, len(group))
        for waiter in group:
            waiter.future.set_result(None)

    def _remember(self, keys: list[Hashable]) -> None:
        """The group's check keys under the sequence number its entries' readers see once
        it committed (a reader that read ``sequence`` before this group has a lower one)."""
        if len(self._written) + len(keys) > MAX_TRACKED_KEYS:
            self._written.clear()
            self._forgotten_through = self._sequence + 1
        for key in keys:
            self._written[key] = self._sequence
        self._sequence += 1

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
