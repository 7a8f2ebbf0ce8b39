"""A token bucket per participant (wallet address, or client host when anonymous)."""

import threading
import time
from collections.abc import Callable

from market.errors import RateLimitedError
from market.platform import RateLimit


class RateLimiter:
    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Spend one token of ``key``'s bucket or raise :class:`RateLimitedError`."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (float(self._limit.burst), now))
            tokens = min(float(self._limit.burst), tokens + (now - at) * self._limit.per_second)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                raise RateLimitedError((1.0 - tokens) / self._limit.per_second)
            self._buckets[key] = (tokens - 1.0, now)
