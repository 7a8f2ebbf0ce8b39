"""Waking websocket streams when their organisation has new activations.

Activations are created on whatever thread pumps the platform; each stream waits on an
:class:`asyncio.Event` in the server's event loop. The hub sets the events of the streams
that care, thread-safely. A woken stream reads its new activations from the database, so a
missed wake-up delays an activation until the stream's next poll, and never loses it.
"""

import asyncio
import itertools
import threading
from collections.abc import Collection
from contextlib import suppress
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class _Subscriber:
    fsp_id: str | None  # None: every organisation's activations (operator, auditor)
    loop: asyncio.AbstractEventLoop
    event: asyncio.Event


class StreamHub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, _Subscriber] = {}
        self._ids = itertools.count(1)

    def subscribe(self, fsp_id: str | None, event: asyncio.Event) -> int:
        """Call from the stream's event loop; returns the id to unsubscribe with."""
        subscriber = _Subscriber(fsp_id, asyncio.get_running_loop(), event)
        with self._lock:
            key = next(self._ids)
            self._subscribers[key] = subscriber
        return key

    def unsubscribe(self, key: int) -> None:
        with self._lock:
            self._subscribers.pop(key, None)

    def wake(self, fsp_ids: Collection[str]) -> None:
        with self._lock:
            subscribers = list(self._subscribers.values())
        for subscriber in subscribers:
            if subscriber.fsp_id is None or subscriber.fsp_id in fsp_ids:
                with suppress(RuntimeError):  # its loop has closed: the stream is gone
                    subscriber.loop.call_soon_threadsafe(subscriber.event.set)
