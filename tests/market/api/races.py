"""Two concurrent requests interleaved deterministically: another connection commits a twin
row right before this request's first INSERT into a table (as if a second request had
passed the same checks a moment earlier)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@contextmanager
def committed_first(engine: Engine, table: str, twin: Callable[[Any], None]) -> Iterator[None]:
    """Right before this request's first INSERT into ``table``, another connection commits
    ``twin``: the interleaving of two concurrent requests that passed the same checks."""
    fired = False

    def before_insert(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal fired
        if fired or not statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()}"):
            return
        fired = True
        with engine.begin() as other:
            twin(other)

    event.listen(engine, "before_cursor_execute", before_insert)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before_insert)
    assert fired, f"no INSERT INTO {table}"
